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
import time
from collections.abc import Awaitable, Callable, Iterator

import pytest

from engine.encoding import note_id
from engine.ids import TxId
from engine.keys import KeyPair
from node import config as node_config
from node.client import ClientError, NodeClient
from node.devnet import Devnet
from node.devnet_plan import HUB, PROVIDERS, SWITCH
from node.fx_provider_config import load_fx_provider
from node.fx_quotes import Fixed
from node.hub_client import HubClient, lock_source, pay_abroad
from node.hub_config import load_hub
from node.hub_messages import HubPaymentWire, HubQuoteRequest, HubQuoteWire
from node.messages import Distribution, OpenCustomer, SettlementRequest
from node.partner_switch_client import PartnerSwitchClient
from node.settlement_messages import Destination

SETTLE_WAIT_S = 30.0
SENDER_KHR = 10_000_000  # 100 000.00 KHR


# Short windows, so a rejected payment's sender can refund within the test: the sender's lock
# refunds 40 s after the order, the provider's 12 s earlier.
SOURCE_WINDOW_S, MARGIN_S = 40, 12
PROVIDER_MARGIN_S, PROVIDER_WINDOW_S = 6, 2


def _short_windows(network: Devnet) -> None:
    """Write the short windows into the hub's and the providers' files before they start."""
    hub_path = network.config_path(HUB)
    node_config.write(load_hub(hub_path).model_copy(update={
        "source_window_s": SOURCE_WINDOW_S, "margin_s": MARGIN_S}), hub_path)
    for provider in PROVIDERS:
        path = network.config_path(provider.name)
        node_config.write(load_fx_provider(path).model_copy(update={
            "margin_s": PROVIDER_MARGIN_S, "window_min_s": PROVIDER_WINDOW_S}), path)


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """The devnet with short windows, started once for the module and stopped after it."""
    network = Devnet.open(tmp_path_factory.mktemp("devnet") / "net", fresh=True)
    _short_windows(network)
    network.start()
    try:
        yield network
    finally:
        network.stop()


def account_at(bank: str, wallet: KeyPair) -> str:
    """The account `customer` opens at `bank` for `wallet` (named after its key)."""
    return f"c{wallet.participant[:8]}@{bank}"


async def customer(devnet: Devnet, bank: str, currency: str, funded_minor: int = 0) -> KeyPair:
    """A new customer of `bank` (a fresh wallet key, its account `account_at`), holding
    `funded_minor` of `currency`."""
    wallet = KeyPair.generate()
    account = account_at(bank, wallet)
    async with NodeClient(devnet.url(bank), devnet.key(bank)) as operator:
        await operator.open_customer(OpenCustomer(name=account.split("@")[0],
                                                  display_name="Test Customer",
                                                  kyc_tier=3, key=wallet.participant))
        if funded_minor:
            await operator.distribute(Distribution(account=account, currency=currency,
                                                   amount_minor=funded_minor))
    return wallet


def quote_request(sender: KeyPair, destination: Destination,
                  amount_minor: int) -> HubQuoteRequest:
    """The aba customer `sender`'s request for a KHR quote fixing `amount_minor` there."""
    return HubQuoteRequest(sender_account=account_at("aba", sender), source_currency="KHR",
                           destination=destination, fixed=Fixed.DESTINATION,
                           amount_minor=amount_minor)


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
        offer = await hub.quote(quote_request(sender, destination, amount_minor))
        ordered = await hub.order(offer.quote.id)
        locked = await lock_source(bank, ordered)
    return ordered.model_copy(update={"source_tx_id": locked.tx_id})


async def to_a_thb_wallet(devnet: Devnet, amount_minor: int
                          ) -> tuple[KeyPair, KeyPair, HubPaymentWire, HubPaymentWire]:
    """A new sender at aba pays a new wallet at kbank `amount_minor` THB: ordered, the source
    locked and reported, the provider's THB leg locked (ACWP). Sender, receiver, the order (with
    the source transaction) and the payment as reported."""
    sender = await customer(devnet, "aba", "KHR", SENDER_KHR)
    receiver = await customer(devnet, "kbank", "THB")
    destination = Destination(kind="ledger", system="thb", account=receiver.participant)
    ordered = await order_and_lock(devnet, sender, destination, amount_minor)
    async with HubClient(devnet.url(HUB), sender) as hub:
        reported = await hub.report_source(ordered.id, ordered.source_tx_id or "")
    assert reported.status == "ACWP", reported
    return sender, receiver, ordered, reported


async def source_spent(devnet: Devnet, source_tx_id: str) -> bool:
    """Whether the source leg's locked note has been spent (claimed or refunded)."""
    async with NodeClient(devnet.url("khr-central"), devnet.key("khr-central")) as ledger:
        note = await ledger.note(_first_note(source_tx_id))
    return note.spent_by is not None


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
        sender, receiver, ordered, reported = await to_a_thb_wallet(devnet, 50_000)
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
            return await source_spent(devnet, ordered.source_tx_id or "") and await held(
                devnet, "khr-central", provider, "KHR") > 0
        await eventually(source_claimed, "the provider claims the source after the release")
    asyncio.run(story())


def test_provider_killed_between_the_legs_claims_the_source_after_restart(devnet: Devnet
                                                                         ) -> None:
    """The provider is SIGKILLed after locking the THB leg; the receiver claims it while the
    provider is down; restarted, the provider reads the preimage from the THB ledger and claims
    the riel, and the hub reports ACCC."""
    async def story() -> None:
        sender, receiver, ordered, reported = await to_a_thb_wallet(devnet, 20_000)
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
            return await source_spent(devnet, ordered.source_tx_id or "")
        await eventually(source_claimed, "the restarted provider claims the source")
    asyncio.run(story())


async def switch_balance(devnet: Devnet, account: str) -> int:
    """A merchant's balance at the switch."""
    async with PartnerSwitchClient(devnet.url(SWITCH)) as switch:
        return (await switch.account(account)).balance_minor


def _first_note(tx_id: str) -> str:
    """The note a locked payment made: its transaction's first output."""
    return str(note_id(TxId(tx_id), 0))


def test_the_next_provider_serves_while_the_best_is_down(devnet: Devnet) -> None:
    """With acleda-fx (the better KHR -> THB price) killed, the hub reports it skipped, takes
    kbank-fx's quote and the payment settles at the switch."""
    async def story() -> None:
        merchant = next(m for m in devnet.manifest.merchants if m.status == "open")
        destination = Destination(kind="switch", system=SWITCH, account=merchant.account)
        sender = await customer(devnet, "aba", "KHR", SENDER_KHR)
        devnet.kill("acleda-fx")
        try:
            async with HubClient(devnet.url(HUB), sender) as hub, \
                    NodeClient(devnet.url("aba"), sender) as bank:
                offer = await hub.quote(quote_request(sender, destination, 5_000))
                assert offer.quote.provider == "kbank-fx"
                assert [s.provider for s in offer.skipped] == ["acleda-fx"]
                paid = await pay_abroad(hub, bank, offer.quote.id, timeout_s=SETTLE_WAIT_S)
            assert paid.status == "ACCC", paid
        finally:
            devnet.restart("acleda-fx")
    asyncio.run(story())


def test_a_rejection_by_the_switch_refunds_the_sender(devnet: Devnet) -> None:
    """A payment to the closed merchant: the switch answers RJCT AC04, nothing is credited,
    the provider never learns the preimage, and from the source deadline on the sender refunds
    her riel through her bank."""
    async def story() -> None:
        closed = next(m for m in devnet.manifest.merchants if m.status == "closed")
        destination = Destination(kind="switch", system=SWITCH, account=closed.account)
        sender = await customer(devnet, "aba", "KHR", SENDER_KHR)
        ordered = await order_and_lock(devnet, sender, destination, 7_000)
        async with HubClient(devnet.url(HUB), sender) as hub:
            rejected = await hub.report_source(ordered.id, ordered.source_tx_id or "")
        assert (rejected.status, rejected.code) == ("RJCT", "AC04"), rejected
        assert await switch_balance(devnet, closed.account) == 0
        await asyncio.sleep(max(0.0, rejected.pay.lock.deadline_s - time.time() + 1))
        async with NodeClient(devnet.url("aba"), sender) as bank:
            refunded = await bank.settle(SettlementRequest(
                note_id=_first_note(ordered.source_tx_id or ""), preimage=None))
        assert refunded.status == "committed"
        assert await held(devnet, "khr-central", sender.participant, "KHR") == SENDER_KHR
    asyncio.run(story())


def test_concurrent_orders_never_overdraw_a_providers_liquidity(devnet: Devnet) -> None:
    """Eight orders at once for 3 000 000 JPY each, two from each of four senders, to a
    seller's address, against kbank-fx's 10 000 000 JPY: exactly three are accepted and five
    withdrawn (`quote_withdrawn`: kbank-fx refused them `liquidity_exceeded`; acleda-fx is
    down, so every quote is kbank-fx's)."""
    async def story() -> None:
        destination = Destination(kind="chain", system="evm-jpy", account="0x" + "cd" * 20)
        senders = [await customer(devnet, "aba", "KHR") for _ in range(4)]

        async def order(sender: KeyPair, offer: HubQuoteWire) -> HubPaymentWire:
            async with HubClient(devnet.url(HUB), sender) as hub:
                return await hub.order(offer.quote.id)
        devnet.kill("acleda-fx")
        try:
            offers = []
            for sender in senders:
                async with HubClient(devnet.url(HUB), sender) as hub:
                    offers += [(sender, await hub.quote(quote_request(sender, destination,
                                                                      3_000_000)))
                               for _ in range(2)]
            answers = await asyncio.gather(*(order(*o) for o in offers),
                                           return_exceptions=True)
        finally:
            devnet.restart("acleda-fx")
        accepted = [a for a in answers if isinstance(a, HubPaymentWire)]
        refused = [a for a in answers if isinstance(a, ClientError)]
        assert {o.quote.provider for _, o in offers} == {"kbank-fx"}
        assert len(accepted) == 3, answers
        assert len(refused) == 5 and {e.code for e in refused} == {"quote_withdrawn"}
    asyncio.run(story())
