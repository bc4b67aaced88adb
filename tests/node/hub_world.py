"""A hub with its connected systems served in-process, for the hub's scenario tests.

Method: `bank_network` serves a central bank issuing KHR and KZT (the hub's registry names it
twice, as a KHR ledger and a KZT ledger) and the bank `aba`; a PromptPay partner switch
stand-in with two merchants; two FX providers (`acleda-fx` cheaper than `wing-fx`) registered on
the ledger, holding KZT there and prefunded THB at the switch; and the hub, registered as a
participant so it may ask the directory. `dara@aba` is a sender holding KHR; `bob@aba` a
receiver on the KZT ledger; both are registered at KYC tier 3 (the hub serves registered senders
only, by the account they name). Every service runs its real background loop.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer
from bank_network import ABA, CENTRAL, Clock, Network, key, network, open_customer

from bridges.iso20022 import ProxyType
from dsl.facts import Party
from engine.keys import KeyPair
from node.client import NodeClient
from node.fx_provider import FxProviderService, fx_app
from node.fx_provider_config import CorridorConfig, FxProviderConfig, LedgerLink
from node.hub import build_hub_app
from node.hub_client import HubClient
from node.hub_config import HubConfig, LedgerSystem, ProviderEntry, SwitchSystem
from node.ledger_wallet import LedgerWallet
from node.messages import Distribution, RegisterParticipant
from node.partner_switch import build_app as build_switch_app
from node.partner_switch_config import (
    Merchant,
    MerchantStatus,
    Scheme,
    SettlementParticipant,
    SwitchConfig,
)

HUB = key("hub")
DARA, BOB = key("dara"), key("bob")
ACCOUNTS = {DARA.participant: "dara@aba", BOB.participant: "bob@aba"}  # as aba registered them
PROVIDERS = {"acleda-fx": ("0.0081", "0.4", "ACLDFXTH"), "wing-fx": ("0.0080", "0.7", "WINGFXTH")}
PROVIDER_KZT = 2_000_000  # what aba pays each provider to lock destination legs from
SWITCH_THB = 5_000_000  # each provider's opening balance at the switch
LIQUIDITY = {"KZT": 1_000_000, "THB": 2_000_000}
SENDER_KHR = 5_000_000
TEA_SHOP, NOODLES = "1234567890", "2345678901"
TEA_PROXY = "0066812345678"
SWITCH_AGENT = "PROMPTPAY-SWITCH"


@dataclass
class HubWorld:
    """The network, the services' URLs and the providers' services."""

    net: Network
    folder: Path
    clock: Clock = field(default_factory=Clock)
    switch_url: str = ""
    hub_url: str = ""
    providers: dict[str, FxProviderService] = field(default_factory=dict)
    provider_urls: dict[str, str] = field(default_factory=dict)
    servers: dict[str, TestServer] = field(default_factory=dict)

    async def stop_provider(self, name: str) -> None:
        """Take the provider `name` off line (its port stops answering)."""
        await self.servers.pop(name).close()

    def hub(self, who: KeyPair = DARA) -> HubClient:
        """`who` calling the hub (open it with `async with`)."""
        return HubClient(self.hub_url, who)

    def bank(self, who: KeyPair = DARA) -> NodeClient:
        """`who` calling the bank aba."""
        return NodeClient(self.net.bank_url, who)

    def central(self, who: KeyPair = CENTRAL) -> NodeClient:
        """`who` calling the central bank."""
        return NodeClient(self.net.central_url, who)

    async def held(self, owner: str, currency: str) -> int:
        """What `owner` holds of `currency`, locked notes included."""
        async with self.central() as central:
            balances = await central.balances(owner)
        return sum(b.amount_minor for b in balances.balances if b.currency == currency)


def provider_key(name: str) -> KeyPair:
    """The provider's key."""
    return key(name)


def provider_config(folder: Path, name: str, central_url: str) -> FxProviderConfig:
    """`name`'s corridors KHR -> KZT and KHR -> THB at its prices for the hub, settling on the
    ledger."""
    rate, fee, _agent = PROVIDERS[name]
    corridors = [CorridorConfig(source="KHR", destination=target, reference_rate=reference,
                                spread_percent="0.2", fee_percent=fee, quote_valid_s=20)
                 for target, reference in (("KZT", "0.125"), ("THB", rate))]
    link = LedgerLink(url=central_url, key=CENTRAL.participant)
    return FxProviderConfig(
        name=name, key_seed=hashlib.sha256(name.encode()).hexdigest(), port=0,
        database=f"sqlite:///{folder / (name + '.db')}", corridors=corridors,
        liquidity_minor=dict(LIQUIDITY), hub_keys=[HUB.participant],
        ledgers={"KHR": link, "KZT": link}, margin_s=1,
        window_min_s=1, poll_interval_s=0.1)


def switch_config(folder: Path) -> SwitchConfig:
    """A PromptPay switch with both providers' accounts, an open and a blocked merchant."""
    return SwitchConfig(
        name="promptpay-switch", scheme=Scheme.PROMPTPAY, country="TH", currency="THB",
        agent_id=SWITCH_AGENT, port=0, database=f"sqlite:///{folder / 'switch.db'}",
        participants=[SettlementParticipant(agent_id=agent, name=name, account=f"fx-{name}",
                                            opening_balance_minor=SWITCH_THB)
                      for name, (_, _, agent) in PROVIDERS.items()],
        merchants=[Merchant(proxy_type=ProxyType.MOBILE_NUMBER, proxy=TEA_PROXY,
                            account=TEA_SHOP, legal_name="Siam Tea Co., Ltd."),
                   Merchant(account=NOODLES, legal_name="Bangkok Noodle House",
                            status=MerchantStatus.BLOCKED)])


def hub_config(made: HubWorld, **settings: Any) -> HubConfig:
    """The hub's registry of `made`'s systems; `settings` override its windows."""
    ledgers = [LedgerSystem(name=f"{c.lower()}-ledger", currency=c, url=made.net.central_url,
                            key=CENTRAL.participant) for c in ("KHR", "KZT")]
    switch = SwitchSystem(name="promptpay", scheme=Scheme.PROMPTPAY, country="TH",
                          currency="THB", url=made.switch_url, agent_id=SWITCH_AGENT)
    providers = [ProviderEntry(name=name, url=made.provider_urls[name],
                               key=provider_key(name).participant,
                               switch_agents={"promptpay": agent})
                 for name, (_, _, agent) in PROVIDERS.items()]
    values: dict[str, Any] = {"source_window_s": 40, "margin_s": 15, "poll_interval_s": 0.1,
                              **settings}
    return HubConfig(name="hub", port=0, database=f"sqlite:///{made.folder / 'hub.db'}",
                     key_seed=hashlib.sha256(b"hub").hexdigest(), ledgers=ledgers,
                     switches=[switch], providers=providers, **values)


async def _participants(net: Network) -> None:
    async with NodeClient(net.central_url, CENTRAL) as central:
        for name in PROVIDERS:
            await central.register_participant(RegisterParticipant(
                name=name, role="fx_provider", key=provider_key(name).participant))
        await central.register_participant(RegisterParticipant(
            name="hub", role="agency", key=HUB.participant))
    async with NodeClient(net.central_url, ABA) as aba:
        wallet = LedgerWallet(aba, "aba", "bank")
        for name in PROVIDERS:
            paid = await wallet.pay(provider_key(name).participant,
                                    Party(id=name, role="fx_provider"), PROVIDER_KZT, "KZT")
            assert paid.status == "committed", paid


async def _customers(net: Network) -> None:
    await open_customer(net, "dara", phone="+85512345678", kyc_tier=3)
    await open_customer(net, "bob", phone="+77011234567", kyc_tier=3)
    async with NodeClient(net.bank_url, ABA) as aba:
        await aba.distribute(Distribution(account="dara@aba", currency="KHR",
                                          amount_minor=SENDER_KHR))


async def _serve(stack: AsyncExitStack, app: Any) -> TestServer:
    server = TestServer(app)
    await server.start_server()
    stack.push_async_callback(server.close)
    return server


def _url(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


@asynccontextmanager
async def hub_world(folder: Path, **settings: Any) -> AsyncIterator[HubWorld]:
    """Everything served; `settings` override the hub's configuration."""
    async with network(folder) as net, AsyncExitStack() as stack:
        await _participants(net)
        await _customers(net)
        made = HubWorld(net, folder)
        made.switch_url = _url(await _serve(stack, build_switch_app(switch_config(folder))))
        for name in PROVIDERS:
            service = FxProviderService(provider_config(folder, name, net.central_url))
            made.providers[name] = service
            made.servers[name] = await _serve(stack, fx_app(service))
            made.provider_urls[name] = _url(made.servers[name])
        made.hub_url = _url(await _serve(stack, build_hub_app(hub_config(made, **settings),
                                                              made.clock)))
        yield made
