"""The devnet as `earmark devnet` runs it: every piece a real process (the chain and the bridge
in this one), provisioned once, stopped, and started again over the same folder."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from engine.keys import KeyPair
from node.client import NodeClient
from node.devnet import Devnet, DevnetError
from node.devnet_plan import (
    BRIDGE,
    CHAIN,
    HUB,
    JPY_LIQUIDITY_MINOR,
    KHR_ISSUED_MINOR,
    PROVIDERS,
    SWITCH,
    THB_ISSUED_MINOR,
    THB_LIQUIDITY_MINOR,
)
from node.fx_quotes import Fixed
from node.hub_client import HubClient
from node.hub_messages import HubQuoteRequest
from node.messages import OpenCustomer
from node.settlement_messages import Destination

PASSES_S = 1.5  # a few of the bridge's passes (0.5 s apart)
OPEN_MERCHANT_ACCOUNT = "1234567890"  # the sample PromptPay merchant whose account is open
RECEIVER = "0x" + "ab" * 20


@dataclass(frozen=True)
class Snapshot:
    """What one start of the devnet shows."""

    healthy: dict[str, int]
    systems: dict[str, list[str]]
    thb: dict[str, int]  # provider -> plain THB on the THB ledger
    jpys: dict[str, int]  # provider -> bridged JPYS on the JPY ledger
    supply: dict[str, int]  # currency -> supply on its ledger
    best: dict[str, str]  # destination currency -> the provider whose quote the hub chose


async def _health(urls: dict[str, str]) -> dict[str, int]:
    async with aiohttp.ClientSession() as session:
        statuses = {}
        for name, url in urls.items():
            async with session.get(f"{url}/healthz") as answer:
                statuses[name] = answer.status
        return statuses


async def _held(devnet: Devnet, central: str, currency: str, jpys: bool) -> dict[str, int]:
    chain = devnet.manifest.chain
    token = chain.token if jpys and chain is not None else None
    held = {}
    async with NodeClient(devnet.url(central), devnet.key(central)) as client:
        for provider in PROVIDERS:
            balances = await client.balances(devnet.key(provider.name).participant)
            held[provider.name] = sum(b.amount_minor for b in balances.balances
                                      if b.currency == currency and b.token == token)
    return held


async def _supply(devnet: Devnet, central: str, currency: str) -> int:
    async with NodeClient(devnet.url(central), devnet.key(central)) as client:
        figures = await client.statistics()
    return sum(item.supply_minor for item in figures.items if item.currency == currency)


async def _best(devnet: Devnet) -> dict[str, str]:
    """The provider the hub picks for 1 000 000 KHR to the open merchant and to an address,
    asked by a new customer of aba (the hub quotes for registered senders only)."""
    destinations = {"THB": Destination(kind="switch", system=SWITCH,
                                       account=OPEN_MERCHANT_ACCOUNT),
                    "JPY": Destination(kind="chain", system=CHAIN, account=RECEIVER)}
    sender = KeyPair.generate()
    async with NodeClient(devnet.url("aba"), devnet.key("aba")) as aba:
        opened = await aba.open_customer(OpenCustomer(
            name=f"probe{sender.participant[:8]}", display_name="Probe", key=sender.participant))
    best = {}
    async with HubClient(devnet.url(HUB), sender) as hub:
        for currency, destination in destinations.items():
            quote = await hub.quote(HubQuoteRequest(
                sender_account=opened.account, source_currency="KHR", destination=destination,
                fixed=Fixed.SOURCE, amount_minor=100_000_000))
            best[currency] = quote.quote.provider
    return best


async def _observe(devnet: Devnet) -> Snapshot:
    healthy = await _health({p.name: p.url for p in devnet.manifest.pieces})
    async with HubClient(devnet.url(HUB), KeyPair.generate()) as hub:
        registry = await hub.systems()
    systems = {"ledgers": sorted(x["name"] for x in registry.ledgers),
               "switches": [x["name"] for x in registry.switches],
               "chains": [x["name"] for x in registry.chains],
               "providers": sorted(registry.providers)}
    supply = {"KHR": await _supply(devnet, "khr-central", "KHR"),
              "THB": await _supply(devnet, "thb-central", "THB")}
    return Snapshot(healthy, systems, await _held(devnet, "thb-central", "THB", False),
                    await _held(devnet, "jpy-central", "JPY", True), supply,
                    await _best(devnet))


def _outage(devnet: Devnet) -> None:
    """Kill the JPY central node: the bridge's passes must outlive the unreachable ledger;
    then restart the node and the bridge."""
    devnet.kill("jpy-central")
    time.sleep(PASSES_S)
    assert devnet.running(BRIDGE)
    devnet.restart("jpy-central")
    devnet.restart(BRIDGE)
    healthy = asyncio.run(_health({name: devnet.url(name) for name in ("jpy-central", BRIDGE)}))
    assert healthy == {"jpy-central": 200, BRIDGE: 200} and devnet.running(BRIDGE)


def test_devnet_starts_provisions_once_and_keeps_its_state(tmp_path: Path) -> None:
    """Start a devnet: every piece answers, the hub lists the systems, the providers hold
    their liquidity and the best quotes differ by corridor, and the bridge outlives a crash of
    its ledger's node; stop it and start it again over the same folder: same keys, same
    balances and supply (nothing provisioned twice)."""
    directory = tmp_path / "devnet"
    devnet = Devnet.open(directory)
    devnet.start()
    try:
        first = asyncio.run(_observe(devnet))
        _outage(devnet)
    finally:
        devnet.stop()
    assert set(first.healthy.values()) == {200} and len(first.healthy) == 11
    assert first.systems == {"ledgers": ["jpy", "khr", "thb"], "switches": [SWITCH],
                             "chains": [CHAIN], "providers": ["acleda-fx", "kbank-fx"]}
    assert first.thb == {p.name: THB_LIQUIDITY_MINOR for p in PROVIDERS}
    assert first.jpys == {p.name: JPY_LIQUIDITY_MINOR for p in PROVIDERS}
    assert first.supply == {"KHR": 2 * KHR_ISSUED_MINOR, "THB": THB_ISSUED_MINOR}
    assert first.best == {"THB": "acleda-fx", "JPY": "kbank-fx"}
    assert not any(devnet.running(p.name) for p in devnet.manifest.pieces)
    assert "the ledger will be asked again" in devnet.log_path(BRIDGE).read_text()
    hub_key = devnet.key(HUB).participant

    again = Devnet.open(directory)
    again.start()
    try:
        second = asyncio.run(_observe(again))
    finally:
        again.stop()
    assert again.public_key(HUB) == hub_key
    assert again.manifest.starts == 2
    assert second == first


def test_fresh_wipes_a_devnet_folder_only(tmp_path: Path) -> None:
    """`open(fresh=True)` refuses a folder without a manifest (and leaves it alone), and over a
    devnet's folder writes new keys where `open` alone reuses the old ones."""
    stranger = tmp_path / "notes"
    stranger.mkdir()
    (stranger / "keep.txt").write_text("mine")
    with pytest.raises(DevnetError):
        Devnet.open(stranger, fresh=True)
    assert (stranger / "keep.txt").read_text() == "mine"

    directory = tmp_path / "devnet"
    created = Devnet.create(directory)
    assert len({p.url for p in created.manifest.pieces}) == len(created.manifest.pieces) == 11
    hub_key = created.key(HUB).participant
    assert Devnet.open(directory).key(HUB).participant == hub_key
    assert Devnet.open(directory, fresh=True).key(HUB).participant != hub_key
