"""Cross-border payments over real processes on 127.0.0.1 (the devnet), with crashes between the
two legs.

Method: one devnet (`node.devnet.Devnet`: KHR and THB ledgers, the PromptPay switch stand-in,
two FX providers, the hub, each an `earmark` process on its own SQLite file) serves every test of
this module. A sender is opened at aba (KHR) and a receiver at kbank (THB) through their banks'
APIs. A process is killed with SIGKILL at a chosen point between the legs and started again; the
test then checks that both legs settled, on both ledgers and at the switch.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator

import pytest

from engine.encoding import note_id
from engine.ids import TxId
from engine.keys import KeyPair
from node.client import NodeClient
from node.devnet import Devnet
from node.devnet_plan import HUB, SWITCH
from node.fx_quotes import Fixed
from node.hub_client import HubClient, lock_source
from node.hub_messages import HubPaymentWire, HubQuoteRequest
from node.messages import Distribution, OpenCustomer, SettlementRequest
from node.partner_switch_client import PartnerSwitchClient
from node.settlement_messages import Destination

SETTLE_WAIT_S = 30.0
SENDER_KHR = 10_000_000  # 100 000.00 KHR


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """The devnet, started once for the module and stopped after it."""
    network = Devnet.open(tmp_path_factory.mktemp("devnet") / "net", fresh=True)
    network.start()
    try:
        yield network
    finally:
        network.stop()


async def customer(devnet: Devnet, bank: str, currency: str, funded_minor: int = 0) -> KeyPair:
    """A new customer of `bank` (a fresh wallet key), holding `funded_minor` of `currency`."""
    wallet = KeyPair.generate()
    name = f"c{secrets.token_hex(4)}"
    async with NodeClient(devnet.url(bank), devnet.key(bank)) as operator:
        await operator.open_customer(OpenCustomer(name=name, display_name="Test Customer",
                                                  kyc_tier=3, key=wallet.participant))
        if funded_minor:
            await operator.distribute(Distribution(account=f"{name}@{bank}",
                                                   currency=currency,
                                                   amount_minor=funded_minor))
    return wallet


async def held(devnet: Devnet, central: str, owner: str, currency: str) -> int:
    """What `owner` holds of `currency` on the ledger of `central`, locked notes included."""
    async with NodeClient(devnet.url(central), devnet.key(central)) as ledger:
        balances = await ledger.balances(owner)
    return sum(b.amount_minor for b in balances.balances if b.currency == currency)


async def order_and_lock(devnet: Devnet, sender: KeyPair, destination: Destination,
                         amount_minor: int) -> HubPaymentWire:
    """Quote, order and lock the source leg; the payment as ordered (not yet reported)."""
    async with HubClient(devnet.url(HUB), sender) as hub, \
            NodeClient(devnet.url("aba"), sender) as bank:
        offer = await hub.quote(HubQuoteRequest(source_currency="KHR", destination=destination,
                                                fixed=Fixed.DESTINATION,
                                                amount_minor=amount_minor))
        ordered = await hub.order(offer.quote.id)
        locked = await lock_source(bank, ordered)
    return ordered.model_copy(update={"source_tx_id": locked.tx_id})


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait until `check` holds."""
    deadline = time.monotonic() + SETTLE_WAIT_S
    while not await check():
        assert time.monotonic() < deadline, f"not within {SETTLE_WAIT_S} s: {what}"
        await asyncio.sleep(0.2)


async def final_status(devnet: Devnet, sender: KeyPair, payment_id: str) -> HubPaymentWire:
    """The payment once final (after the hub's restart)."""
    async with HubClient(devnet.url(HUB), sender) as hub:
        return await hub.wait(payment_id, SETTLE_WAIT_S)


def test_hub_killed_after_the_destination_locked_both_legs_settle(devnet: Devnet) -> None:
    """A KHR -> THB payment to a wallet at kbank: once the provider has locked the THB leg
    (ACWP) the hub is SIGKILLed; the receiver claims with the preimage it had read, the
    provider claims the riel meanwhile, and the restarted hub reports ACCC."""
    async def story() -> None:
        sender = await customer(devnet, "aba", "KHR", SENDER_KHR)
        receiver = await customer(devnet, "kbank", "THB")
        destination = Destination(kind="ledger", system="thb", account=receiver.participant)
        ordered = await order_and_lock(devnet, sender, destination, 50_000)
        async with HubClient(devnet.url(HUB), sender) as hub:
            reported = await hub.report_source(ordered.id, ordered.source_tx_id or "")
        assert reported.status == "ACWP", reported
        async with HubClient(devnet.url(HUB), receiver) as hub:
            preimage = (await hub.payment(ordered.id)).preimage
        assert preimage is not None
        devnet.kill(HUB)
        async with NodeClient(devnet.url("kbank"), receiver) as bank:
            claimed = await bank.settle(SettlementRequest(
                note_id=reported.destination_note_id or "", preimage=preimage))
        assert claimed.status == "committed"
        provider = devnet.manifest.piece(reported.quote.provider).key or ""
        before = reported.quote.source.amount_minor

        async def source_claimed() -> bool:
            return await held(devnet, "khr-central", provider, "KHR") >= before
        await eventually(source_claimed, "the provider claims the source while the hub is down")
        devnet.restart(HUB)
        final = await final_status(devnet, sender, ordered.id)
        assert final.status == "ACCC", final
        assert await held(devnet, "thb-central", receiver.participant, "THB") == 50_000
    asyncio.run(story())


def test_hub_killed_while_the_switch_is_down_settles_after_restart(devnet: Devnet) -> None:
    """A KHR -> THB payment to the PromptPay merchant while the switch is down: the hub keeps
    it at the credit step (ACWP) and is SIGKILLed there; with the switch and the hub back, the
    hub sends the pacs.008 (once), the merchant is credited and the provider claims the riel."""
    async def story() -> None:
        merchant = next(m for m in devnet.manifest.merchants if m.status == "open")
        destination = Destination(kind="switch", system=SWITCH, account=merchant.account)
        sender = await customer(devnet, "aba", "KHR", SENDER_KHR)
        ordered = await order_and_lock(devnet, sender, destination, 12_345)
        credited_before = await switch_balance(devnet, merchant.account)
        devnet.kill(SWITCH)
        async with HubClient(devnet.url(HUB), sender) as hub:
            reported = await hub.report_source(ordered.id, ordered.source_tx_id or "")
        assert (reported.status, reported.stage) == ("ACWP", "switch_credit"), reported
        devnet.kill(HUB)
        devnet.restart(SWITCH)
        devnet.restart(HUB)
        final = await final_status(devnet, sender, ordered.id)
        assert final.status == "ACCC", final
        assert await switch_balance(devnet, merchant.account) == credited_before + 12_345
        provider = devnet.manifest.piece(final.quote.provider).key or ""

        async def source_claimed() -> bool:
            async with NodeClient(devnet.url("khr-central"),
                                  devnet.key("khr-central")) as ledger:
                note = await ledger.note(_first_note(ordered.source_tx_id or ""))
            return note.spent_by is not None and await held(
                devnet, "khr-central", provider, "KHR") > 0
        await eventually(source_claimed, "the provider claims the source after the release")
    asyncio.run(story())


def test_provider_killed_between_the_legs_claims_the_source_after_restart(devnet: Devnet
                                                                         ) -> None:
    """The provider is SIGKILLed after locking the THB leg; the receiver claims it while the
    provider is down; restarted, the provider reads the preimage from the THB ledger and claims
    the riel, and the hub reports ACCC."""
    async def story() -> None:
        sender = await customer(devnet, "aba", "KHR", SENDER_KHR)
        receiver = await customer(devnet, "kbank", "THB")
        destination = Destination(kind="ledger", system="thb", account=receiver.participant)
        ordered = await order_and_lock(devnet, sender, destination, 20_000)
        async with HubClient(devnet.url(HUB), sender) as hub:
            reported = await hub.report_source(ordered.id, ordered.source_tx_id or "")
        assert reported.status == "ACWP", reported
        provider = reported.quote.provider
        devnet.kill(provider)
        async with HubClient(devnet.url(HUB), receiver) as hub:
            preimage = (await hub.payment(ordered.id)).preimage
        async with NodeClient(devnet.url("kbank"), receiver) as bank:
            claimed = await bank.settle(SettlementRequest(
                note_id=reported.destination_note_id or "", preimage=preimage))
        assert claimed.status == "committed"
        devnet.restart(provider)
        final = await final_status(devnet, sender, ordered.id)
        assert final.status == "ACCC", final

        async def source_claimed() -> bool:
            async with NodeClient(devnet.url("khr-central"),
                                  devnet.key("khr-central")) as ledger:
                note = await ledger.note(_first_note(ordered.source_tx_id or ""))
            return note.spent_by is not None
        await eventually(source_claimed, "the restarted provider claims the source")
    asyncio.run(story())


async def switch_balance(devnet: Devnet, account: str) -> int:
    """A merchant's balance at the switch."""
    async with PartnerSwitchClient(devnet.url(SWITCH)) as switch:
        return (await switch.account(account)).balance_minor


def _first_note(tx_id: str) -> str:
    """The note a locked payment made: its transaction's first output."""
    return str(note_id(TxId(tx_id), 0))
