"""An FX provider's configuration file (TOML): identity, address, accounts, corridors, liquidity.

Rates and percentages are written as strings (`reference_rate = "0.00875"`): TOML would read a
bare number as a binary float, and no float may price money. `earmark fx init` writes a file with
a fresh key (readable by its owner alone, `node.config.write`); `earmark fx run` reads it.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Final, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from dsl.money import is_currency
from engine.keys import KeyPair
from node.config import Hex64, Name, database_near, read
from node.fx_messages import CORRIDORS_MAX
from node.fx_quotes import AMOUNT_MINOR_MAX, TIERS_MAX, Pricing, Tier
from node.hub_config import WINDOW_S_MAX
from node.messages import Account, Currency, TokenWire

# Rates are published to at most 12 decimals and percentages to 4, so every rate the arithmetic
# derives is an exact decimal of a few dozen digits.
RateText = Annotated[str, Field(pattern=r"^[0-9]{1,12}(\.[0-9]{1,12})?$")]
PercentText = Annotated[str, Field(pattern=r"^[0-9]{1,2}(\.[0-9]{1,4})?$")]
QUOTE_VALID_S_MAX: Final = 3_600  # a quote binds the provider for at most an hour
# The furthest source deadline an acceptance may ask, in seconds from now: a hub's longest
# source window (a day; a bank refuses a lock deadline further ahead). Further, a reservation
# would hold the provider's liquidity for a payment that no bank would lock.
SOURCE_DEADLINE_S_MAX: Final = WINDOW_S_MAX
MARGIN_S_MAX: Final = WINDOW_S_MAX  # a margin longer than any source deadline leaves no window
POLL_INTERVAL_S_MAX: Final = 60.0
LINKS_MAX: Final = 64  # ledgers or chain routes one provider settles on
HUBS_MAX: Final = 16  # hub keys one provider serves
# Reservations one hub may hold at once whose source is not locked yet and whose source deadline
# is ahead (node.fx_settlement_store): many times what a busy hub holds while its senders lock.
OPEN_RESERVATIONS_PER_CALLER_MAX: Final = 1_000


class TierConfig(BaseModel):
    """From `from_minor` of the source currency on, the spread is this much less."""

    model_config = ConfigDict(extra="forbid")
    from_minor: int = Field(ge=1, le=AMOUNT_MINOR_MAX)
    improvement_percent: PercentText


class CorridorConfig(BaseModel):
    """How the provider prices one corridor SOURCE -> DESTINATION."""

    model_config = ConfigDict(extra="forbid")
    source: Currency
    destination: Currency
    reference_rate: RateText  # major units of destination per major unit of source
    spread_percent: PercentText
    tiers: list[TierConfig] = Field(default_factory=list, max_length=TIERS_MAX)
    fee_percent: PercentText
    fee_minimum_minor: int = Field(default=0, ge=0, le=AMOUNT_MINOR_MAX)
    quote_valid_s: int = Field(default=30, ge=1, le=QUOTE_VALID_S_MAX)

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        for currency in (self.source, self.destination):
            if not is_currency(currency):
                raise PydanticCustomError("currency", "{c} is not an ISO 4217 currency with "
                                          "minor units", {"c": currency})
        if self.source == self.destination:
            raise PydanticCustomError("corridor", "a corridor converts between two currencies")
        if Decimal(self.reference_rate) <= 0:
            raise PydanticCustomError("rate", "the reference rate is more than zero")
        if Decimal(self.spread_percent) >= 100 or Decimal(self.fee_percent) >= 100:
            raise PydanticCustomError("percent", "a spread or fee is less than 100 %")
        starts = [tier.from_minor for tier in self.tiers]
        improvements = [Decimal(tier.improvement_percent) for tier in self.tiers]
        if starts != sorted(set(starts)) or improvements != sorted(improvements):
            # The quote arithmetic relies on a rate that never worsens as the amount grows.
            raise PydanticCustomError("tiers", "tiers ascend by from_minor, each improving the "
                                      "spread at least as much as the one before")
        return self

    def pricing(self) -> Pricing:
        """The corridor's prices for the quote arithmetic."""
        tiers = tuple(Tier(t.from_minor, Decimal(t.improvement_percent)) for t in self.tiers)
        return Pricing(self.source, self.destination, Decimal(self.reference_rate),
                       Decimal(self.spread_percent), tiers, Decimal(self.fee_percent),
                       self.fee_minimum_minor)


class LedgerLink(BaseModel):
    """An Earmark ledger the provider settles on: its central node and the central bank's key.
    The provider is a participant there (role `fx_provider`) under its own key."""

    model_config = ConfigDict(extra="forbid")
    url: str
    key: Hex64


class ChainRoute(BaseModel):
    """A stablecoin chain reached through an EVM bridge on the ledger of `currency`: the
    destination leg is a lock of `token` to the bridge, naming the receiver's address."""

    model_config = ConfigDict(extra="forbid")
    bridge: Hex64  # the bridge's participant key on that ledger
    bridge_name: Name
    currency: Currency
    token: TokenWire


class FxProviderConfig(BaseModel):
    """Everything `earmark fx run` needs."""

    model_config = ConfigDict(extra="forbid")
    name: Name  # the provider's name, as corridors and token rules list it ("acleda-fx")
    key_seed: Hex64
    host: str = "127.0.0.1"
    port: int = Field(ge=0, le=65535)
    database: str
    accounts: dict[Currency, Account] = Field(default_factory=dict)  # where it is paid
    corridors: list[CorridorConfig] = Field(min_length=1, max_length=CORRIDORS_MAX)
    liquidity_minor: dict[Currency, Annotated[int, Field(ge=0, le=AMOUNT_MINOR_MAX)]]
    # The hubs the provider serves, by key: only they get firm quotes and may accept them, so
    # no one else can have it sign and store quotes or reserve its liquidity.
    hub_keys: list[Hex64] = Field(default_factory=list, max_length=HUBS_MAX)
    # Settlement (node.fx_settlement): the ledgers by currency, the chain routes by the system
    # name the hub gives them, and the deadlines' room.
    ledgers: dict[Currency, LedgerLink] = Field(default_factory=dict, max_length=LINKS_MAX)
    chains: dict[Name, ChainRoute] = Field(default_factory=dict, max_length=LINKS_MAX)
    # The destination leg ends at least this long before the source leg: once the preimage
    # shows on the destination, the provider has this long to claim the source.
    margin_s: int = Field(default=300, ge=0, le=MARGIN_S_MAX)
    window_min_s: int = Field(default=60, ge=0, le=MARGIN_S_MAX)  # least time to lock in
    poll_interval_s: float = Field(default=0.5, gt=0, le=POLL_INTERVAL_S_MAX)

    @field_validator("corridors")
    @classmethod
    def _distinct(cls, corridors: list[CorridorConfig]) -> list[CorridorConfig]:
        pairs = [(c.source, c.destination) for c in corridors]
        if len(set(pairs)) != len(pairs):
            raise PydanticCustomError("corridors", "each corridor is configured once")
        return corridors

    @property
    def key(self) -> KeyPair:
        """The provider's signing key."""
        return KeyPair.from_seed(bytes.fromhex(self.key_seed))

    def corridor(self, source: str, destination: str) -> CorridorConfig | None:
        """The corridor SOURCE -> DESTINATION, if the provider serves it."""
        return next((c for c in self.corridors
                     if (c.source, c.destination) == (source, destination)), None)


def load_fx_provider(path: Path) -> FxProviderConfig:
    """The provider's configuration in `path`; a relative SQLite path counts from its folder."""
    config = read(path, FxProviderConfig)
    return config.model_copy(update={"database": database_near(config.database, path)})


def fresh_fx_provider(name: str, port: int, corridors: list[CorridorConfig],
                      liquidity_minor: dict[str, int], *, hub_keys: list[str] | None = None,
                      host: str = "127.0.0.1", database: str | None = None) -> FxProviderConfig:
    """A new configuration with a fresh random key, serving the hubs of `hub_keys`."""
    return FxProviderConfig(name=name, key_seed=os.urandom(32).hex(), host=host, port=port,
                            database=database or f"sqlite:///{name}.db", corridors=corridors,
                            liquidity_minor=liquidity_minor, hub_keys=hub_keys or [])
