"""The hub's cross-border payments, end to end over real services served in-process.

Method: `hub_world` serves the ledger (KHR and KZT), the bank aba, a PromptPay switch stand-in,
two FX providers and the hub, each with its real background loop; the sender dara scans a QR
code or names a wallet, takes the hub's best quote, locks the source leg through her bank and
reports it (`node.hub_client.pay_abroad`). Each story checks the hub's status and every ledger
and switch balance that the payment moved, or did not. The hub serves registered senders only:
a stranger's quote is refused, a sender holds a few orders not yet locked at most, the spent
token's rules read the sender's registered facts, and an order whose provider lost its
liquidity since the quote is withdrawn, the next quote coming from the next provider.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from bank_network import ABA, key, open_customer
from hub_world import (
    ACCOUNTS,
    BOB,
    DARA,
    LIQUIDITY,
    NOODLES,
    TEA_SHOP,
    HubWorld,
    hub_world,
    provider_key,
)

from bridges.qr import QrRequest, encode
from engine.encoding import note_id
from engine.ids import TxId
from engine.keys import KeyPair
from node.client import ClientError
from node.fx_quotes import Fixed
from node.hub import SENDER_FRESH_S
from node.hub_client import lock_source, pay_abroad
from node.hub_messages import HubPaymentWire, HubQuoteRequest, HubQuoteWire
from node.hub_store import OPEN_ORDERS_PER_SENDER_MAX
from node.messages import (
    ContractUpload,
    RegisterParticipant,
    Reverify,
    SettlementRequest,
    TokenWire,
)
from node.partner_switch_client import PartnerSwitchClient
from node.payee_resolution import ResolveRequest
from node.quote_selection import PROVIDER_REST_S
from node.settlement_messages import Destination

SETTLE_WAIT_S = 20.0


def run(tmp_path: Path, story: Callable[[HubWorld], Awaitable[None]], **settings: Any) -> None:
    """Run `story` in a fresh world."""
    async def main() -> None:
        async with hub_world(tmp_path, **settings) as made:
            await story(made)
    asyncio.run(main())


async def switch_balance(made: HubWorld, account: str) -> int:
    """An account's balance at the partner switch."""
    async with PartnerSwitchClient(made.switch_url) as switch:
        return (await switch.account(account)).balance_minor


async def quote(made: HubWorld, destination: Destination, amount_minor: int,
                fixed: Fixed = Fixed.DESTINATION, *, who: KeyPair = DARA,
                account: str | None = None) -> HubQuoteWire:
    """`who`'s best quote toward `destination` (dara's by default), naming `account` (by
    default the one aba registered for `who`)."""
    named = account or ACCOUNTS[who.participant]
    async with made.hub(who) as hub:
        return await hub.quote(HubQuoteRequest(
            sender_account=named, source_currency="KHR", destination=destination, fixed=fixed,
            amount_minor=amount_minor))


async def refused(call: Awaitable[Any]) -> ClientError:
    """The error `call` is refused with (it must be refused)."""
    try:
        answer = await call
    except ClientError as error:
        return error
    raise AssertionError(f"not refused: {answer}")


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait until `check` holds (the services' loops settle in the background)."""
    deadline = time.monotonic() + SETTLE_WAIT_S
    while not await check():
        assert time.monotonic() < deadline, f"not within {SETTLE_WAIT_S} s: {what}"
        await asyncio.sleep(0.1)


def test_a_promptpay_qr_is_paid_through_the_best_quote(tmp_path: Path) -> None:
    """dara scans the tea shop's PromptPay QR: the hub confirms the payee with a masked name,
    picks acleda-fx's cheaper quote and shows every line; the switch credits exactly the
    quoted baht (ACCC), and the provider then claims exactly the quoted riel."""
    async def story(made: HubWorld) -> None:
        payload = encode(QrRequest(scheme="promptpay",
                                   account={"promptpay_mobile": "0812345678"},
                                   amount="150.00"))
        async with made.hub() as hub:
            payee = await hub.resolve(ResolveRequest(proxy=payload))
        assert (payee.display_name, payee.amount_minor) == ("S*** T*** Co., Ltd.", 15_000)
        offer = await quote(made, payee.destination, 15_000)
        assert offer.quote.provider == "acleda-fx"
        assert offer.lines[0].startswith("debited: ") and "fee (provider)" in offer.lines[3]
        debit = offer.quote.source.amount_minor
        dara_before = await made.held(DARA.participant, "KHR")
        async with made.hub() as hub, made.bank() as bank:
            paid = await pay_abroad(hub, bank, offer.quote.id, timeout_s=SETTLE_WAIT_S)
        assert (paid.status, paid.code) == ("ACCC", "")
        assert await switch_balance(made, TEA_SHOP) == 15_000
        assert await switch_balance(made, "fx-acleda-fx") == 5_000_000 - 15_000
        assert await made.held(DARA.participant, "KHR") == dara_before - debit
        acleda = provider_key("acleda-fx").participant

        async def provider_claimed() -> bool:
            return await made.held(acleda, "KHR") == debit
        await eventually(provider_claimed, "the provider claims the source leg")
    run(tmp_path, story)


def test_a_wallet_on_another_ledger_is_paid_against_its_claim(tmp_path: Path) -> None:
    """dara pays bob's KZT wallet: the provider locks bob's leg (ACWP), bob alone learns the
    preimage from the hub and claims it through his bank, the hub reports ACCC and the
    provider claims dara's riel with the preimage bob's claim published."""
    async def story(made: HubWorld) -> None:
        destination = Destination(kind="ledger", system="kzt-ledger", account=BOB.participant)
        offer = await quote(made, destination, 50_000)
        async with made.hub() as hub, made.bank() as bank:
            ordered = await hub.order(offer.quote.id)
            locked = await lock_source(bank, ordered)
            reported = await hub.report_source(ordered.id, locked.tx_id)
        assert reported.status == "ACWP" and reported.destination_note_id
        assert reported.preimage is None  # the sender is not the one who claims
        async with made.hub(BOB) as hub, made.bank(BOB) as bank:
            seen = await hub.payment(ordered.id)
            assert seen.preimage is not None
            claimed = await bank.settle(SettlementRequest(
                note_id=seen.destination_note_id or "", preimage=seen.preimage))
            assert claimed.status == "committed"
        async with made.hub() as hub:
            final = await hub.wait(ordered.id, SETTLE_WAIT_S)
        assert final.status == "ACCC"
        assert await made.held(BOB.participant, "KZT") == 50_000
        acleda = provider_key(offer.quote.provider).participant

        async def provider_claimed() -> bool:
            return await made.held(acleda, "KHR") == offer.quote.source.amount_minor
        await eventually(provider_claimed, "the provider claims the source leg")
    run(tmp_path, story)


def test_a_blocked_merchant_is_final_and_a_rejection_refunds_the_sender(tmp_path: Path
                                                                        ) -> None:
    """The switch holds a payment to a blocked merchant (BLCK: the provider paid, so it claims
    the source); it rejects one to an unknown account (RJCT, AC03 or BE23): the provider keeps
    its baht and dara refunds her riel from the source deadline on."""
    async def story(made: HubWorld) -> None:
        blocked = await quote(made, Destination(kind="switch", system="promptpay",
                                                account=NOODLES), 10_000)
        async with made.hub() as hub, made.bank() as bank:
            held = await pay_abroad(hub, bank, blocked.quote.id, timeout_s=SETTLE_WAIT_S)
        assert held.status == "BLCK"
        assert await switch_balance(made, "held-for-blocked-merchants") == 10_000

        unknown = await quote(made, Destination(kind="switch", system="promptpay",
                                                account="9999999999"), 10_000)
        dara_before = await made.held(DARA.participant, "KHR")
        async with made.hub() as hub, made.bank() as bank:
            rejected = await pay_abroad(hub, bank, unknown.quote.id, timeout_s=SETTLE_WAIT_S)
        assert rejected.status == "RJCT" and rejected.code == "AC03", rejected
        provider = f"fx-{unknown.quote.provider}"
        assert await switch_balance(made, provider) == 5_000_000 - (
            10_000 if unknown.quote.provider == blocked.quote.provider else 0)
        await asyncio.sleep(max(0.0, rejected.pay.lock.deadline_s - time.time() + 1))
        async with made.bank() as bank:
            refunded = await bank.settle(SettlementRequest(
                note_id=_source_note(rejected.source_tx_id or ""), preimage=None))
        assert refunded.status == "committed"
        assert await made.held(DARA.participant, "KHR") == dara_before
    run(tmp_path, story, source_window_s=6, margin_s=3)


def _source_note(tx_id: str) -> str:
    """The locked note the source transaction made (its first output)."""
    return str(note_id(TxId(tx_id), 0))


def test_the_next_provider_serves_when_the_best_is_offline(tmp_path: Path) -> None:
    """With acleda-fx (the cheaper) not answering, the hub reports it skipped and wing-fx's
    quote is chosen and settles."""
    async def story(made: HubWorld) -> None:
        await made.stop_provider("acleda-fx")
        offer = await quote(made, Destination(kind="switch", system="promptpay",
                                              account=TEA_SHOP), 20_000)
        assert offer.quote.provider == "wing-fx"
        assert [(s.provider, s.why) for s in offer.skipped] == [("acleda-fx", "error")]
        async with made.hub() as hub, made.bank() as bank:
            paid = await pay_abroad(hub, bank, offer.quote.id, timeout_s=SETTLE_WAIT_S)
        assert paid.status == "ACCC"
        assert await switch_balance(made, "fx-wing-fx") == 5_000_000 - 20_000
    run(tmp_path, story)


def test_the_next_provider_serves_when_the_best_has_no_liquidity_left(tmp_path: Path) -> None:
    """The finding of issue 21: with acleda-fx's baht held by accepted payments, a real order
    through the hub was refused `liquidity_exceeded` and the hub did not turn to wing-fx. Now
    acleda-fx (the cheaper) refuses the firm quote, the hub reports it skipped for that and
    offers wing-fx's quote, which the sender approves and which settles."""
    async def story(made: HubWorld) -> None:
        destination = Destination(kind="switch", system="promptpay", account=TEA_SHOP)
        held = await quote(made, destination, LIQUIDITY["THB"] - 10_000)
        assert held.quote.provider == "acleda-fx"
        async with made.hub() as hub:
            await hub.order(held.quote.id)  # accepted, never locked: the baht stay held
        offer = await quote(made, destination, 20_000)
        assert offer.quote.provider == "wing-fx"
        assert [(s.provider, s.why) for s in offer.skipped] == [("acleda-fx", "error")]
        assert offer.skipped[0].detail.startswith("liquidity_exceeded: ")
        async with made.hub() as hub, made.bank() as bank:
            paid = await pay_abroad(hub, bank, offer.quote.id, timeout_s=SETTLE_WAIT_S)
        assert (paid.status, paid.quote.provider) == ("ACCC", "wing-fx")
        assert await switch_balance(made, "fx-wing-fx") == 5_000_000 - 20_000
    run(tmp_path, story)


def test_an_expired_quote_is_refused(tmp_path: Path) -> None:
    """An order after the quote's expiry is refused with `quote_expired` and nothing is
    reserved or locked."""
    async def story(made: HubWorld) -> None:
        offer = await quote(made, Destination(kind="switch", system="promptpay",
                                              account=TEA_SHOP), 20_000)
        made.clock.offset_s = offer.quote.expires_at_s - time.time() + 1
        async with made.hub() as hub:
            try:
                await hub.order(offer.quote.id)
            except ClientError as error:
                assert (error.status, error.code) == (422, "quote_expired")
            else:
                raise AssertionError("an expired quote was accepted")
    run(tmp_path, story)


def test_an_order_resent_after_the_quotes_expiry_finds_its_payment(tmp_path: Path) -> None:
    """The first answer to an order was lost (a new Idempotency-Key, as after a crash of the
    hub before it stored the answer), and the order comes again after the quote's expiry: the
    hub answers the payment the first order made, not `quote_expired`."""
    async def story(made: HubWorld) -> None:
        offer = await quote(made, Destination(kind="switch", system="promptpay",
                                              account=TEA_SHOP), 20_000)
        async with made.hub() as hub:
            first = await hub.order(offer.quote.id)
            made.clock.offset_s = offer.quote.expires_at_s - time.time() + 1
            again = await hub.order(offer.quote.id)
        assert (again.id, again.pay) == (first.id, first.pay)
    run(tmp_path, story)


def test_concurrent_payments_never_overdraw_a_providers_liquidity(tmp_path: Path) -> None:
    """Twelve orders of 300 000 THB at once, three from each of four registered senders,
    against acleda-fx's 2 000 000 THB of liquidity: exactly six are accepted, the others are
    withdrawn (`quote_withdrawn`: the provider refused them `liquidity_exceeded`)."""
    async def story(made: HubWorld) -> None:
        await made.stop_provider("wing-fx")
        destination = Destination(kind="switch", system="promptpay", account=TEA_SHOP)
        senders = [await open_customer(made.net, f"payer{i}") for i in range(4)]
        offers = [(sender, await quote(made, destination, 300_000, who=sender,
                                       account=f"payer{i}@aba"))
                  for i, sender in enumerate(senders) for _ in range(OPEN_ORDERS_PER_SENDER_MAX)]

        async def order(sender: KeyPair, offer: HubQuoteWire) -> HubPaymentWire:
            async with made.hub(sender) as hub:
                return await hub.order(offer.quote.id)
        answers = await asyncio.gather(*(order(*o) for o in offers), return_exceptions=True)
        accepted = [a for a in answers if isinstance(a, HubPaymentWire)]
        refusals = [a for a in answers if isinstance(a, ClientError)]
        assert len(accepted) == 6, answers
        assert {e.code for e in refusals} == {"quote_withdrawn"} and len(refusals) == 6
    run(tmp_path, story)


def test_strangers_learn_nothing_of_a_payment(tmp_path: Path) -> None:
    """Only the sender (and a ledger leg's receiver) may read a payment or report its source."""
    async def story(made: HubWorld) -> None:
        offer = await quote(made, Destination(kind="switch", system="promptpay",
                                              account=TEA_SHOP), 1_000)
        async with made.hub() as hub:
            ordered = await hub.order(offer.quote.id)
        async with made.hub(BOB) as stranger:
            for call in (stranger.payment(ordered.id),
                         stranger.report_source(ordered.id, "0" * 64)):
                try:
                    await call
                except ClientError as error:
                    assert error.status == 403
                else:
                    raise AssertionError("a stranger read or reported a payment")
    run(tmp_path, story)


CORRIDOR = Path(__file__).parents[2] / "contracts" / "khr_thb_corridor.earmark"
KHR_VOUCHER = '''contract khr_travel_voucher version 1
  "Riel that may be spent abroad through wing-fx only."

token TRAVEL {
  currency KHR
  issuer "ministry"
}

policy TRAVEL {
  allow transfer
  allow convert to {THB} via {"wing-fx"}
}
'''


def test_a_quote_takes_no_idempotency_key_and_an_order_does(tmp_path: Path) -> None:
    """Asking the hub again for a quote only gets another offer; ordering a payment moves
    money, so the order is idempotent."""
    async def story(made: HubWorld) -> None:
        async with aiohttp.ClientSession() as session, \
                session.get(f"{made.hub_url}/openapi.json") as answer:
            paths = (await answer.json())["paths"]
        keys = {path: [p["name"] for p in paths[path]["post"]["parameters"] if p["in"] == "header"]
                for path in ("/quotes", "/payments")}
        assert keys == {"/quotes": [], "/payments": ["Idempotency-Key"]}
    run(tmp_path, story)


def test_the_corridor_contract_refuses_a_provider_it_does_not_list(tmp_path: Path) -> None:
    """With `khr_thb_corridor` in the hub's registry, wing-fx (not listed, fee above 0.50 %)
    is refused by the corridor's rule and acleda-fx is chosen."""
    async def story(made: HubWorld) -> None:
        offer = await quote(made, Destination(kind="switch", system="promptpay",
                                              account=TEA_SHOP), 10_000)
        assert offer.quote.provider == "acleda-fx"
        assert [(r.provider, r.contract) for r in offer.refused] == [
            ("wing-fx", "khr_thb_corridor")]
    run(tmp_path, story, corridors=[CORRIDOR])


def test_the_spent_tokens_convert_rules_choose_the_provider(tmp_path: Path) -> None:
    """A token whose `convert` rule allows wing-fx alone makes the hub refuse acleda-fx's
    cheaper quote by the token's rule (fetched from the contract deployed on the ledger)."""
    async def story(made: HubWorld) -> None:
        ministry = key("ministry")
        async with made.central() as central:
            await central.register_participant(RegisterParticipant(
                name="ministry", role="agency", key=ministry.participant))
        async with made.central(ministry) as agency:
            deployed = await agency.upload_contract(ContractUpload(source=KHR_VOUCHER))
        async with made.hub() as hub:
            offer = await hub.quote(HubQuoteRequest(
                sender_account="dara@aba", source_currency="KHR", fixed=Fixed.DESTINATION,
                amount_minor=10_000,
                destination=Destination(kind="switch", system="promptpay", account=TEA_SHOP),
                token=TokenWire(contract=deployed.hash, token="TRAVEL")))
        assert offer.quote.provider == "wing-fx"
        assert [(r.provider, r.contract) for r in offer.refused] == [
            ("acleda-fx", "khr_travel_voucher")]
    run(tmp_path, story)


TEA = Destination(kind="switch", system="promptpay", account=TEA_SHOP)


def test_a_stranger_gets_no_quote_and_orders_nothing(tmp_path: Path) -> None:
    """Issue 21: any key could order at the hub and hold a provider's liquidity without ever
    locking. Now a key registered nowhere is refused `sender_unregistered` (403) whether the
    account it names exists or not, with the same answer; so is a registered key naming another
    wallet's account; and dara's quote is no quote of the stranger's to order."""
    async def story(made: HubWorld) -> None:
        stranger = KeyPair.generate()
        answers = [await refused(quote(made, TEA, 1_000, who=who, account=account))
                   for who, account in ((stranger, "dara@aba"), (stranger, "nobody@aba"),
                                        (BOB, "dara@aba"))]
        assert {(e.status, e.code, e.detail) for e in answers} == {
            (403, "sender_unregistered",
             "the caller is not the wallet registered under this account on the source "
             "ledger")}
        offer = await quote(made, TEA, 1_000)
        async with made.hub(stranger) as hub:
            error = await refused(hub.order(offer.quote.id))
        assert (error.status, error.code) == (404, "not_found")
    run(tmp_path, story)


def test_a_sender_holds_a_few_orders_not_yet_locked_and_a_lapsed_one_stops_counting(
        tmp_path: Path) -> None:
    """dara orders three payments and locks none: her fourth order is refused
    `open_orders_exceeded` (422) while bob still orders; once the three pass their source
    deadline (the hub's clock moved past it) they lapse, and the same fourth order is made."""
    async def story(made: HubWorld) -> None:
        offers = [await quote(made, TEA, 1_000) for _ in range(OPEN_ORDERS_PER_SENDER_MAX + 1)]
        async with made.hub() as hub:
            ordered = [await hub.order(o.quote.id) for o in offers[:-1]]
            error = await refused(hub.order(offers[-1].quote.id))
        assert (error.status, error.code) == (422, "open_orders_exceeded")
        async with made.hub(BOB) as hub:
            assert (await hub.order((await quote(made, TEA, 1_000, who=BOB)).quote.id)
                    ).status == "PDNG"
        made.clock.offset_s = max(o.pay.lock.deadline_s for o in ordered) - time.time()
        async with made.hub() as hub:
            assert (await hub.order(offers[-1].quote.id)).status == "PDNG"
    run(tmp_path, story, source_window_s=6, margin_s=3)


TIERED_VOUCHER = '''contract khr_tiered_voucher version 1
  "Riel that may be spent abroad by wallets verified at KYC tier 2 or above."

token TIERED {
  currency KHR
  issuer "ministry"
}

policy TIERED {
  allow transfer
  allow convert to {THB} when sender.kyc >= 2
}
'''


TIERED_REFUSALS = [f"{provider}: refused by `policy TIERED`: no rule allows convert of TIERED "
                   "here (closed by default)" for provider in ("acleda-fx", "wing-fx")]


async def tiered_token(made: HubWorld) -> TokenWire:
    """The ministry registered and its `TIERED_VOUCHER` deployed: the token."""
    ministry = key("ministry")
    async with made.central() as central:
        await central.register_participant(RegisterParticipant(
            name="ministry", role="agency", key=ministry.participant))
    async with made.central(ministry) as agency:
        deployed = await agency.upload_contract(ContractUpload(source=TIERED_VOUCHER))
    return TokenWire(contract=deployed.hash, token="TIERED")


async def token_quote(made: HubWorld, token: TokenWire, who: KeyPair,
                      account: str) -> HubQuoteWire:
    """`who`'s quote for 100.00 THB to the tea shop, spending `token`, naming `account`."""
    async with made.hub(who) as hub:
        return await hub.quote(HubQuoteRequest(
            sender_account=account, source_currency="KHR", destination=TEA,
            fixed=Fixed.DESTINATION, amount_minor=10_000, token=token))


def test_the_spent_tokens_rules_read_the_senders_registered_facts(tmp_path: Path) -> None:
    """The hub judged a spent token's `convert` rules as if every sender were an individual at
    KYC tier 0. Now it reads the tier her bank registered: a token that converts for tier 2 and
    above gets dara (tier 3) a quote and refuses sok (tier 1) by its rule, whatever else the
    request says."""
    async def story(made: HubWorld) -> None:
        token = await tiered_token(made)
        sok = await open_customer(made.net, "sok", kyc_tier=1)
        assert (await token_quote(made, token, DARA, "dara@aba")).quote.provider == "acleda-fx"
        error = await refused(token_quote(made, token, sok, "sok@aba"))
        assert (error.status, error.code) == (422, "no_quote_allowed")
        assert error.extra["reasons"] == TIERED_REFUSALS
    run(tmp_path, story)


def test_a_registration_changed_at_the_ledger_reaches_the_hub_within_its_freshness(
        tmp_path: Path) -> None:
    """aba re-verifies dara from tier 3 to tier 1 after the hub read her registration: the hub
    keeps judging by what it read for `SENDER_FRESH_S` (its clock set back by more than that
    while it read), then reads the directory again and refuses the tiered token by its rule."""
    async def story(made: HubWorld) -> None:
        token = await tiered_token(made)
        made.clock.offset_s = -(SENDER_FRESH_S + 1)
        assert (await token_quote(made, token, DARA, "dara@aba")).quote.provider == "acleda-fx"
        async with made.bank(ABA) as aba:
            await aba.reverify("dara@aba", Reverify(kyc_tier=1))
        assert (await token_quote(made, token, DARA, "dara@aba")).quote.provider == "acleda-fx"
        made.clock.offset_s = 0
        error = await refused(token_quote(made, token, DARA, "dara@aba"))
        assert (error.code, error.extra["reasons"]) == ("no_quote_allowed", TIERED_REFUSALS)
    run(tmp_path, story)


def test_an_order_whose_liquidity_went_is_withdrawn_and_the_next_quote_is_the_next_providers(
        tmp_path: Path) -> None:
    """Two quotes of 1 500 000 THB from acleda-fx (2 000 000 of liquidity) fit each alone;
    once the first is ordered, the provider refuses the second's acceptance
    `liquidity_exceeded`. The hub does not switch providers under the approved amounts: it
    answers `quote_withdrawn` (409, with the payment, which reads RJCT), and resting acleda-fx
    from KHR -> THB, offers wing-fx's quote next even for an amount acleda-fx could still
    credit, reporting acleda-fx skipped; the withdrawn order resent answers the same."""
    async def story(made: HubWorld) -> None:
        offers = [await quote(made, TEA, 1_500_000) for _ in range(2)]
        assert {o.quote.provider for o in offers} == {"acleda-fx"}
        async with made.hub() as hub:
            await hub.order(offers[0].quote.id)
            error = await refused(hub.order(offers[1].quote.id))
            assert (error.status, error.code) == (409, "quote_withdrawn")
            payment = await hub.payment(error.extra["payment_id"])
            assert (payment.status, payment.code) == ("RJCT", "liquidity_exceeded")
            again = await refused(hub.order(offers[1].quote.id))
            assert (again.code, again.extra["payment_id"]) == ("quote_withdrawn", payment.id)
        offer = await quote(made, TEA, 20_000)
        assert offer.quote.provider == "wing-fx"
        assert [(s.provider, s.why) for s in offer.skipped] == [("acleda-fx", "error")]
        assert offer.skipped[0].detail.startswith(
            "liquidity_exceeded: it refused an order's acceptance; not asked for KHR -> THB")
    run(tmp_path, story)


def test_a_provider_rests_only_from_a_fresh_refusal_and_not_for_long(tmp_path: Path) -> None:
    """With the hub's clock set back by more than `PROVIDER_REST_S`, acleda-fx withdraws an
    order's quote; back on time, its rest is over and it quotes again (it still has the
    liquidity for a small amount). The withdrawn order resent is answered `quote_withdrawn`
    again but does not rest acleda-fx anew: otherwise any sender could keep a provider out of a
    corridor by resending an old order."""
    async def story(made: HubWorld) -> None:
        made.clock.offset_s = -(PROVIDER_REST_S + 1)
        offers = [await quote(made, TEA, 1_500_000) for _ in range(2)]
        async with made.hub() as hub:
            await hub.order(offers[0].quote.id)
            assert (await refused(hub.order(offers[1].quote.id))).code == "quote_withdrawn"
        made.clock.offset_s = 0
        assert (await quote(made, TEA, 20_000)).quote.provider == "acleda-fx"
        async with made.hub() as hub:
            assert (await refused(hub.order(offers[1].quote.id))).code == "quote_withdrawn"
        assert (await quote(made, TEA, 20_000)).quote.provider == "acleda-fx"
    run(tmp_path, story, source_window_s=600)
