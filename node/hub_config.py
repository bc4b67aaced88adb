"""The hub's configuration file (TOML): its identity and the registry of connected systems.

The registry names every system the hub connects: Earmark ledgers by currency (each a central
node), partner QR switches by scheme and country, stablecoin chains (an EVM bridge on one of the
ledgers), the FX providers with their accounts on each side, and the corridor contracts that bound
their quotes. `earmark node init --role hub` writes one with a fresh key; `earmark node start`
runs it. Every system has a name the hub's answers use (`Destination.system`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from engine.keys import KeyPair
from node.config import Hex64, Name, database_near, read, require_unique
from node.messages import Currency, TokenWire
from node.partner_switch_config import AgentId, Scheme

SYSTEMS_MAX: Final = 64  # connected systems of each kind
PROVIDERS_MAX: Final = 32  # FX providers the hub asks (node.quote_selection asks at most that)
WINDOW_S_MAX: Final = 24 * 3600  # a bank refuses a lock deadline further ahead
QUOTE_TIMEOUT_S_MAX: Final = 30.0


class LedgerSystem(BaseModel):
    """An Earmark ledger: its central node and the currency it issues."""

    model_config = ConfigDict(extra="forbid")
    name: Name
    currency: Currency
    url: str
    key: Hex64  # the central bank's key, published with the registry for its clients


class SwitchSystem(BaseModel):
    """A partner QR switch abroad, by scheme and country; it settles in `currency`."""

    model_config = ConfigDict(extra="forbid")
    name: Name
    scheme: Scheme
    country: str = Field(pattern=r"^[A-Z]{2}$")
    currency: Currency
    url: str
    agent_id: AgentId  # the switch itself: the instructed and creditor agent of a pacs.008


class ChainSystem(BaseModel):
    """A stablecoin chain reached through an EVM bridge that is a participant of `ledger`: the
    destination leg is a ledger lock to the bridge naming the receiver's address."""

    model_config = ConfigDict(extra="forbid")
    name: Name
    ledger: Name
    bridge: Name  # the bridge's participant name on that ledger
    bridge_url: str  # the bridge's API (node.bridge_service)
    token: TokenWire  # the bridged token the provider pays the bridge in


class ProviderEntry(BaseModel):
    """An FX provider registered with the hub: where it quotes, its key, and its accounts on
    each side (its participant name on ledgers, its settlement agent at switches)."""

    model_config = ConfigDict(extra="forbid")
    name: Name
    url: str
    key: Hex64
    switch_agents: dict[Name, AgentId] = Field(default_factory=dict)  # switch -> its agent id


class HubConfig(BaseModel):
    """Everything the hub needs to start."""

    model_config = ConfigDict(extra="forbid")
    role: str = Field(default="hub", pattern=r"^hub$")
    name: Name
    host: str = "127.0.0.1"
    port: int = Field(ge=0, le=65535)
    database: str
    key_seed: Hex64
    ledgers: list[LedgerSystem] = Field(default_factory=list, max_length=SYSTEMS_MAX)
    switches: list[SwitchSystem] = Field(default_factory=list, max_length=SYSTEMS_MAX)
    chains: list[ChainSystem] = Field(default_factory=list, max_length=SYSTEMS_MAX)
    providers: list[ProviderEntry] = Field(default_factory=list, max_length=PROVIDERS_MAX)
    corridors: list[Path] = Field(default_factory=list, max_length=SYSTEMS_MAX,
                                  description="contracts whose `fx SRC -> DST` bound quotes")
    quote_timeout_s: float = Field(default=2.0, gt=0, le=QUOTE_TIMEOUT_S_MAX)
    # The sender's lock refunds this long after the payment is accepted; the provider's
    # destination lock ends `margin_s` earlier, so whoever learns the preimage on the
    # destination side has `margin_s` to claim the source.
    source_window_s: int = Field(default=3600, ge=2, le=WINDOW_S_MAX)
    margin_s: int = Field(default=900, ge=1, le=WINDOW_S_MAX)
    poll_interval_s: float = Field(default=0.5, gt=0, le=60.0)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        names = [ledger.name for ledger in self.ledgers]
        names += [switch.name for switch in self.switches]
        names += [chain.name for chain in self.chains]
        require_unique("system name", names)
        require_unique("provider", [p.name for p in self.providers])
        require_unique("ledger currency", [ledger.currency for ledger in self.ledgers])
        if self.margin_s >= self.source_window_s:
            raise PydanticCustomError("window", "margin_s is less than source_window_s: the "
                                      "destination's lock ends before the source's")
        ledgers = {ledger.name for ledger in self.ledgers}
        for chain in self.chains:
            if chain.ledger not in ledgers:
                raise PydanticCustomError("chain", "chain {chain} names no ledger {ledger}",
                                          {"chain": chain.name, "ledger": chain.ledger})
        return self

    @property
    def key(self) -> KeyPair:
        """The hub's signing key."""
        return KeyPair.from_seed(bytes.fromhex(self.key_seed))

    def ledger(self, name: str) -> LedgerSystem | None:
        """The ledger called `name`."""
        return next((ledger for ledger in self.ledgers if ledger.name == name), None)

    def ledger_of(self, currency: str) -> LedgerSystem | None:
        """The ledger that issues `currency`."""
        return next((ledger for ledger in self.ledgers if ledger.currency == currency), None)

    def switch(self, name: str) -> SwitchSystem | None:
        """The partner switch called `name`."""
        return next((switch for switch in self.switches if switch.name == name), None)

    def chain(self, name: str) -> ChainSystem | None:
        """The chain called `name`."""
        return next((chain for chain in self.chains if chain.name == name), None)

    def provider(self, name: str) -> ProviderEntry | None:
        """The FX provider called `name`."""
        return next((p for p in self.providers if p.name == name), None)


def load_hub(path: Path) -> HubConfig:
    """The hub's configuration in `path`; relative paths count from the file's folder."""
    config = read(path, HubConfig)
    corridors = [c if c.is_absolute() else (path.parent / c).resolve() for c in config.corridors]
    return config.model_copy(update={"database": database_near(config.database, path),
                                     "corridors": corridors})


def fresh_hub(name: str, port: int, *, database: str | None = None) -> HubConfig:
    """A new hub configuration with a fresh random key and an empty registry."""
    return HubConfig(name=name, port=port, database=database or f"sqlite:///{name}.db",
                     key_seed=os.urandom(32).hex())
