"""What the devnet is made of, its configuration files, and the manifest that describes it.

The devnet (`node.devnet`) is three Earmark ledgers (KHR with two banks, THB with one, JPY with
the EVM bridge as a participant), a PromptPay switch stand-in, two FX providers and the hub.
`write_configs` writes every piece's configuration (each with a fresh key, a free port and a
SQLite file named after it) into one folder, and `Manifest` is the JSON file beside them that
names each piece with its URL, public key, configuration file and log, for the tests, the demo
and the benches to find them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict

from node import config as node_config
from node.config import CentralLink
from node.errors import NodeError
from node.fx_provider_config import CorridorConfig, LedgerLink, fresh_fx_provider
from node.hub_config import LedgerSystem, ProviderEntry, SwitchSystem, fresh_hub
from node.messages import TokenWire
from node.partner_switch_config import (
    Merchant,
    Scheme,
    SettlementParticipant,
    SwitchConfig,
    sample_config,
)
from node.processes import free_port

MANIFEST_FILE: Final = "devnet.json"
MANIFEST_VERSION: Final = 1
SWITCH: Final = "promptpay-th"
HUB: Final = "hub"
BRIDGE: Final = "jpy-bridge"
CHAIN: Final = "evm-jpy"
BRIDGED_TOKEN: Final = "JPYS"
CORRIDOR_CONTRACT: Final = Path(__file__).resolve().parents[1] / "contracts" / \
    "khr_thb_corridor.earmark"
# Opening amounts, minor units: each KHR bank's issuance (100 000 000.00 riel, about
# 25 000 USD), kbank's (5 000 000.00 baht), each provider's baht on the THB ledger and at the
# switch (1 000 000.00 baht), and each provider's bridged yen on the JPY ledger (10 000 000 yen).
KHR_ISSUED_MINOR: Final = 10_000_000_000
THB_LIQUIDITY_MINOR: Final = 100_000_000
THB_ISSUED_MINOR: Final = 500_000_000  # kbank's issuance, from which it pays the providers
SWITCH_OPENING_MINOR: Final = 100_000_000
JPY_LIQUIDITY_MINOR: Final = 10_000_000
CHAIN_NOTE: Final = ("The embedded EVM chain lives in the devnet's memory: every start deploys "
                     "it anew and starts the JPY ledger and the bridge from empty databases; "
                     "the KHR and THB ledgers, the switch, the providers and the hub keep their "
                     "state.")
PieceKind = Literal["central", "bank", "switch", "fx_provider", "bridge", "hub"]


@dataclass(frozen=True, slots=True)
class LedgerPlan:
    """One ledger: the hub's name for it, its currency, its central node and its banks."""

    system: str
    currency: str
    central: str
    banks: tuple[str, ...]
    issued_minor: int = 0  # what each bank is issued against reserves on the first start
    fresh_each_start: bool = False  # the JPY ledger follows the in-memory chain


@dataclass(frozen=True, slots=True)
class ProviderPlan:
    """One FX provider: its agent id at the switch and (spread %, fee %) per corridor."""

    name: str
    agent_id: str
    prices: dict[str, tuple[str, str]]  # destination currency -> (spread, fee)


LEDGERS: Final = (
    LedgerPlan("khr", "KHR", "khr-central", ("aba", "acleda"), KHR_ISSUED_MINOR),
    LedgerPlan("thb", "THB", "thb-central", ("kbank",), THB_ISSUED_MINOR),
    LedgerPlan("jpy", "JPY", "jpy-central", (), fresh_each_start=True),
)
# The names `contracts/khr_thb_corridor.earmark` allows. acleda-fx is the better KHR -> THB
# price, kbank-fx the better KHR -> JPY one, so either wins a corridor; both are within the
# corridor contract's bounds (0.75 % spread, 0.50 % fee).
PROVIDERS: Final = (
    ProviderPlan("acleda-fx", "ACLEDAFXTH", {"THB": ("0.5", "0.3"), "JPY": ("0.9", "0.4")}),
    ProviderPlan("kbank-fx", "KBANKFXTH", {"THB": ("0.6", "0.35"), "JPY": ("0.7", "0.3")}),
)
# Major units of the destination per riel.
REFERENCE_RATES: Final = {"THB": "0.00875", "JPY": "0.0365"}
LIQUIDITY_MINOR: Final = {"THB": THB_LIQUIDITY_MINOR, "JPY": JPY_LIQUIDITY_MINOR}


class Piece(BaseModel):
    """One piece of the devnet as the manifest lists it; files are relative to the folder."""

    model_config = ConfigDict(extra="forbid")
    name: str
    kind: PieceKind
    url: str
    key: str | None  # the public key (the switch has none: it signs nothing)
    config: str
    log: str
    ledger: str | None = None  # a central's or bank's ledger, by the hub's name for it


class ChainFacts(BaseModel):
    """The chain as the last start deployed it."""

    model_config = ConfigDict(extra="forbid")
    name: str
    ledger: str
    bridge: str
    chain_id: int
    stablecoin: str
    vault: str
    htlc: str
    token: TokenWire
    persisted: bool = False


class Manifest(BaseModel):
    """The devnet's description (`devnet.json`)."""

    model_config = ConfigDict(extra="forbid")
    version: int = MANIFEST_VERSION
    provisioned: bool = False  # the KHR and THB ledgers' registrations and money are in
    starts: int = 0
    pieces: list[Piece]
    merchants: list[Merchant]
    chain: ChainFacts | None = None
    note: str = CHAIN_NOTE

    def piece(self, name: str) -> Piece:
        """The piece called `name`."""
        found = next((p for p in self.pieces if p.name == name), None)
        if found is None:
            raise NodeError(404, "devnet_piece_unknown", "No such piece",
                            f"the devnet has no piece {name!r}")
        return found

    def of_kind(self, kind: PieceKind) -> list[Piece]:
        """The pieces of `kind`, in order."""
        return [p for p in self.pieces if p.kind == kind]


def load_manifest(directory: Path) -> Manifest:
    """The manifest in `directory`."""
    return Manifest.model_validate_json((directory / MANIFEST_FILE).read_text(encoding="utf-8"))


def save_manifest(directory: Path, manifest: Manifest) -> None:
    """Write the manifest (it holds public keys only)."""
    (directory / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=2) + "\n",
                                           encoding="utf-8")


def _url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def _piece(name: str, kind: PieceKind, port: int, key: str | None, *,
           ledger: str | None = None) -> Piece:
    return Piece(name=name, kind=kind, url=_url(port), key=key, config=f"{name}.toml",
                 log=f"{name}.log", ledger=ledger)


def _write_ledger(directory: Path, plan: LedgerPlan) -> tuple[list[Piece], LedgerLink]:
    """The central node's and banks' files of one ledger."""
    central = node_config.fresh("central", plan.central, free_port(), [plan.currency])
    node_config.write(central, directory / f"{plan.central}.toml")
    pieces = [_piece(plan.central, "central", central.port, central.key.participant,
                     ledger=plan.system)]
    link = CentralLink(url=_url(central.port), key=central.key.participant)
    for name in plan.banks:
        bank = node_config.fresh("bank", name, free_port(), [plan.currency], central=link)
        node_config.write(bank, directory / f"{name}.toml")
        pieces.append(_piece(name, "bank", bank.port, bank.key.participant, ledger=plan.system))
    return pieces, LedgerLink(url=link.url, key=link.key)


def _write_switch(directory: Path) -> SwitchConfig:
    """PromptPay with the sample merchants (open, blocked, closed) and each provider's
    prefunded settlement account."""
    sample = sample_config(Scheme.PROMPTPAY, free_port(), name=SWITCH)
    participants = [SettlementParticipant(agent_id=p.agent_id, name=p.name,
                                          account=f"{p.agent_id}-THB",
                                          opening_balance_minor=SWITCH_OPENING_MINOR)
                    for p in PROVIDERS]
    switch = SwitchConfig.model_validate({**sample.model_dump(), "participants": participants})
    node_config.write(switch, directory / f"{SWITCH}.toml")
    return switch


def _write_provider(directory: Path, plan: ProviderPlan, ledgers: dict[str, LedgerLink],
                    hub_key: str) -> tuple[Piece, ProviderEntry]:
    """A provider quoting KHR -> THB and KHR -> JPY to the hub of `hub_key`, settling on all
    three ledgers (its chain route is added once the chain is deployed)."""
    corridors = [CorridorConfig(source="KHR", destination=currency,
                                reference_rate=REFERENCE_RATES[currency],
                                spread_percent=spread, fee_percent=fee)
                 for currency, (spread, fee) in plan.prices.items()]
    provider = fresh_fx_provider(plan.name, free_port(), corridors, dict(LIQUIDITY_MINOR),
                                 hub_keys=[hub_key])
    provider = provider.model_copy(update={"ledgers": ledgers})
    node_config.write(provider, directory / f"{plan.name}.toml")
    key = provider.key.participant
    return (_piece(plan.name, "fx_provider", provider.port, key),
            ProviderEntry(name=plan.name, url=_url(provider.port), key=key,
                          switch_agents={SWITCH: plan.agent_id}))


def write_configs(directory: Path) -> Manifest:
    """Every piece's configuration with a fresh key and port, and the manifest naming them."""
    directory.mkdir(parents=True, exist_ok=True)
    pieces: list[Piece] = []
    links: dict[str, LedgerLink] = {}
    for plan in LEDGERS:
        ledger_pieces, links[plan.currency] = _write_ledger(directory, plan)
        pieces += ledger_pieces
    switch = _write_switch(directory)
    pieces.append(_piece(SWITCH, "switch", switch.port, None))
    # The hub's key first: each provider serves that hub alone.
    hub = fresh_hub(HUB, free_port())
    providers = [_write_provider(directory, plan, links, hub.key.participant)
                 for plan in PROVIDERS]
    pieces += [piece for piece, _ in providers]
    pieces.append(_piece(BRIDGE, "bridge", free_port(), None))  # keyed at each start
    hub = hub.model_copy(update={
        "ledgers": [LedgerSystem(name=plan.system, currency=plan.currency,
                                 url=links[plan.currency].url, key=links[plan.currency].key)
                    for plan in LEDGERS],
        "switches": [SwitchSystem(name=SWITCH, scheme=switch.scheme, country=switch.country,
                                  currency=switch.currency, url=_url(switch.port),
                                  agent_id=switch.agent_id)],
        "providers": [entry for _, entry in providers],
        # As text: the TOML writer takes no Path.
        "corridors": [str(CORRIDOR_CONTRACT)]})
    node_config.write(hub, directory / f"{HUB}.toml")
    pieces.append(_piece(HUB, "hub", hub.port, hub.key.participant))
    manifest = Manifest(pieces=pieces, merchants=switch.merchants)
    save_manifest(directory, manifest)
    return manifest
