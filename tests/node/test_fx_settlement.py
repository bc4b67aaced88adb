"""The FX provider's settlement desk (`node.fx_settlement`) against a real central node.

Method: `bank_network` serves a central bank (KHR and KZT) and the bank `aba` in-process; the
provider is registered there as an `fx_provider`, funded with KZT by aba, and served in-process
with its settlement desk, whose loop sleeps a minute so each test drives it with `step()`. The
hub is a signed caller of the provider; aba (a participant with its own `LedgerWallet`) is the
sender that locks the source leg in KHR; bob, a customer of aba, is the receiver that claims the
destination leg in KZT through his bank. Each story checks the legs the provider reports, the
ledger's notes and balances, and what the reservation leaves of the liquidity.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from bank_network import (
    ABA,
    CENTRAL,
    Answer,
    Caller,
    Clock,
    Network,
    central_requests,
    key,
    network,
    open_customer,
)
from bridged_world import CONFIRMATIONS, YEN, bridged_world, settle

from bridges.evm.contracts import HashedTimelock, SwapState
from dsl.facts import Party
from engine.encoding import note_id
from engine.ids import TxId
from engine.keys import KeyPair
from engine.model import HashLock
from node import fx_settlement
from node.client import NO_ANSWER, ClientError, NodeClient
from node.fx_provider import FxProviderService, fx_app
from node.fx_provider_config import (
    SOURCE_DEADLINE_S_MAX,
    ChainRoute,
    CorridorConfig,
    FxProviderConfig,
    LedgerLink,
)
from node.ledger_wallet import LedgerWallet
from node.messages import NotesQuery, RegisterParticipant, SettlementRequest, TransactionBatch

PROVIDER = key("acleda-fx")
HUB, OTHER_HUB, STRANGER = key("hub"), key("other-hub"), key("stranger")
PROVIDER_FLOAT_KZT = 1_000_000  # what aba pays the provider to lock destinations from
LIQUIDITY_KZT = 100_000
MARGIN_S, WINDOW_S = 2, 1
PAYMENT_KZT = 7_000  # a destination-fixed quote's credit: 14 of them fit the liquidity


@dataclass
class World:
    """The network, the provider's service and URL, and the hub calling it."""

    net: Network
    clock: Clock
    service: FxProviderService
    url: str
    servers: list[TestServer] = field(default_factory=list)

    def hub(self, who: KeyPair = HUB) -> Caller:
        """`who` calling the provider."""
        return Caller(self.net.session, self.url, who)

    async def ask(self, destination_minor: int = PAYMENT_KZT, who: KeyPair = HUB,
                  currency: str = "KZT") -> Answer:
        """`who` asking a destination-fixed quote from KHR to `currency` (KZT)."""
        return await self.hub(who).post("/quotes", {
            "source_currency": "KHR", "destination_currency": currency, "fixed": "destination",
            "amount_minor": destination_minor})

    async def quote(self, destination_minor: int = PAYMENT_KZT, who: KeyPair = HUB,
                    currency: str = "KZT") -> Any:
        """A destination-fixed quote from KHR to `currency` (KZT) for `who`."""
        answer = await self.ask(destination_minor, who, currency)
        assert answer.status == 201, answer.body
        return answer.body

    async def restart(self) -> None:
        """Close the provider's service and serve a new one over the same database."""
        await self.servers.pop().close()
        self.service = FxProviderService(self.service.config, self.clock)
        await self._serve()

    async def _serve(self) -> None:
        server = TestServer(fx_app(self.service))
        await server.start_server()
        self.servers.append(server)
        self.url = str(server.make_url("")).rstrip("/")


@dataclass(frozen=True)
class Terms:
    """One payment's secret and the request accepting its quote."""

    preimage: bytes
    body: dict[str, Any]

    @property
    def payment_id(self) -> str:
        """The payment's id."""
        return str(self.body["payment_id"])


def terms(quote: dict[str, Any], destination: dict[str, str], *, source_in_s: int = 600,
          destination_in_s: int = 300) -> Terms:
    """A fresh payment on `quote` with a fresh preimage and deadlines from now."""
    preimage = secrets.token_bytes(32)
    now_s = int(time.time())
    return Terms(preimage, {
        "quote_id": quote["id"], "payment_id": secrets.token_hex(16),
        "hashlock": hashlib.sha256(preimage).hexdigest(),
        "source_deadline_s": now_s + source_in_s,
        "destination_deadline_s": now_s + destination_in_s, "destination": destination})


KHR_KZT = CorridorConfig(source="KHR", destination="KZT", reference_rate="0.125",
                         spread_percent="0", fee_percent="0.5", quote_valid_s=30)


def provider_config(folder: Path, central_url: str, **settings: Any) -> FxProviderConfig:
    """KHR -> KZT at 0.125 with a 0.5 % fee unless `settings` say otherwise; every ledger is
    the one central node."""
    link = LedgerLink(url=central_url, key=CENTRAL.participant)
    values: dict[str, Any] = {
        "corridors": [KHR_KZT], "liquidity_minor": {"KZT": LIQUIDITY_KZT},
        "hub_keys": [HUB.participant, OTHER_HUB.participant],
        "ledgers": {"KHR": link, "KZT": link}, "margin_s": MARGIN_S, "window_min_s": WINDOW_S,
        "poll_interval_s": 60, **settings}
    return FxProviderConfig(name="acleda-fx", key_seed=hashlib.sha256(b"acleda-fx").hexdigest(),
                            port=0, database=f"sqlite:///{folder / 'fx.db'}", **values)


async def register_provider(net: Network) -> None:
    """The central bank registers the provider as an FX provider."""
    async with NodeClient(net.central_url, CENTRAL) as central:
        await central.register_participant(RegisterParticipant(
            name="acleda-fx", role="fx_provider", key=PROVIDER.participant))


@asynccontextmanager
async def serving(net: Network, config: FxProviderConfig) -> AsyncIterator[World]:
    """The provider of `config` served beside `net`."""
    clock = Clock()
    made = World(net, clock, FxProviderService(config, clock), "")
    await made._serve()
    try:
        yield made
    finally:
        for server in made.servers:
            await server.close()


@asynccontextmanager
async def world(tmp_path: Path, **settings: Any) -> AsyncIterator[World]:
    """The network with the provider registered, funded with KZT by aba, and served;
    `settings` override the provider's configuration."""
    async with network(tmp_path) as net:
        await register_provider(net)
        async with NodeClient(net.central_url, ABA) as aba:
            paid = await LedgerWallet(aba, "aba", "bank").pay(
                PROVIDER.participant, Party(id="acleda-fx", role="fx_provider"),
                PROVIDER_FLOAT_KZT, "KZT")
        assert paid.status == "committed", paid
        async with serving(net, provider_config(tmp_path, net.central_url, **settings)) as made:
            yield made


def run(tmp_path: Path, scenario: Callable[[World], Awaitable[None]], **settings: Any) -> None:
    """Run `scenario` in a fresh world."""
    async def main() -> None:
        async with world(tmp_path, **settings) as made:
            await scenario(made)
    asyncio.run(main())


async def lock_source(net: Network, payment: Terms, amount_minor: int) -> str:
    """aba locks `amount_minor` KHR to the provider under the payment's hashlock; the tx id."""
    async with NodeClient(net.central_url, ABA) as aba:
        paid = await LedgerWallet(aba, "aba", "bank").pay(
            PROVIDER.participant, Party(id="acleda-fx", role="fx_provider"), amount_minor,
            "KHR", lock=HashLock(payment.body["hashlock"], ABA.participant,
                                 payment.body["source_deadline_s"]))
    assert paid.status == "committed", paid
    return paid.tx_id


async def accepted(made: World, destination: dict[str, str], **deadlines: int
                   ) -> tuple[dict[str, Any], Terms]:
    """A quote accepted for a fresh payment to `destination`."""
    quote = await made.quote()
    payment = terms(quote, destination, **deadlines)
    answer = await made.hub().post("/acceptances", payment.body)
    assert answer.status == 201, answer.body
    return quote, payment


async def report_source(made: World, payment: Terms, tx_id: str) -> Answer:
    """The hub reports the source lock."""
    return await made.hub().post(f"/legs/{payment.payment_id}/source", {"source_tx_id": tx_id})


async def held(net: Network, owner: str, currency: str) -> int:
    """What `owner` holds of `currency` on the ledger, locked notes included."""
    async with NodeClient(net.central_url, CENTRAL) as central:
        balances = await central.balances(owner)
    return sum(b.amount_minor for b in balances.balances if b.currency == currency)


async def unspent_notes(net: Network, owner: str) -> list[Any]:
    """The owner's unspent notes."""
    async with NodeClient(net.central_url, CENTRAL) as central:
        return (await central.notes(NotesQuery(owner=owner))).items


def ledger_to(wallet: KeyPair) -> dict[str, str]:
    """A destination: the wallet on the KZT ledger."""
    return {"kind": "ledger", "system": "kzt-ledger", "account": wallet.participant}


SWITCH = {"kind": "switch", "system": "promptpay", "account": "0123456789"}
NOTE_ROUTE = "/notes/{note_id}"


# ---- acceptance --------------------------------------------------------------------------------


def test_acceptance_refuses_expired_foreign_taken_tight_and_too_large(tmp_path: Path) -> None:
    """Each refusal of POST /acceptances has its code: another hub's quote, a quote accepted
    for another payment (while the same payment again is answered the same), deadlines without
    the margin or the window, more than the liquidity left, and a quote past its expiry by the
    provider's clock."""
    async def scenario(made: World) -> None:
        hub = made.hub()
        # Quoted before anything is reserved: the acceptance checks the liquidity again.
        large = terms(await made.quote(LIQUIDITY_KZT - PAYMENT_KZT + 1), ledger_to(key("bob")))
        quote = await made.quote()
        payment = terms(quote, ledger_to(key("bob")))
        foreign = await made.hub(OTHER_HUB).post("/acceptances", payment.body)
        assert (foreign.status, foreign.body["code"]) == (404, "not_found")
        first = await hub.post("/acceptances", payment.body)
        again = await hub.post("/acceptances", payment.body)
        assert first.status == again.status == 201
        assert first.body == again.body
        assert first.body["pay_to"] == "acleda-fx"
        assert (first.body["reserved_minor"], first.body["currency"]) == (PAYMENT_KZT, "KZT")
        other = await hub.post("/acceptances", {**payment.body,
                                                "payment_id": secrets.token_hex(16)})
        assert (other.status, other.body["code"]) == (409, "quote_taken")

        now_s = int(time.time())
        for source_s, destination_s in ((now_s + 100, now_s + 99), (now_s + 100, now_s)):
            tight = terms(await made.quote(), ledger_to(key("bob")))
            tight.body.update(source_deadline_s=source_s, destination_deadline_s=destination_s)
            refused = await hub.post("/acceptances", tight.body)
            assert (refused.status, refused.body["code"]) == (422, "deadline_margin")

        refused = await hub.post("/acceptances", large.body)
        assert (refused.status, refused.body["code"]) == (422, "liquidity_exceeded")
        stale = terms(await made.quote(1), ledger_to(key("bob")))
        fits = terms(await made.quote(LIQUIDITY_KZT - PAYMENT_KZT), ledger_to(key("bob")))
        assert (await hub.post("/acceptances", fits.body)).status == 201

        made.clock.offset_s = 31  # past the quote's 30 s of validity
        stale.body.update(source_deadline_s=now_s + 700, destination_deadline_s=now_s + 400)
        refused = await hub.post("/acceptances", stale.body)
        assert (refused.status, refused.body["code"]) == (422, "quote_expired")

    run(tmp_path, scenario)


def test_a_quote_credits_no_more_than_the_accepted_payments_leave(tmp_path: Path) -> None:
    """With all but 7 000 of the 100 000 liquidity accepted, a firm quote for 7 001 is refused
    with `liquidity_exceeded` (the hub then takes the next provider's) and one for 7 000 is
    given."""
    async def scenario(made: World) -> None:
        most = terms(await made.quote(LIQUIDITY_KZT - PAYMENT_KZT), ledger_to(key("bob")))
        assert (await made.hub().post("/acceptances", most.body)).status == 201
        refused = await made.ask(PAYMENT_KZT + 1)
        assert (refused.status, refused.body["code"]) == (422, "liquidity_exceeded")
        assert (await made.quote(PAYMENT_KZT))["destination"]["amount_minor"] == PAYMENT_KZT

    run(tmp_path, scenario)


def test_a_stranger_can_neither_quote_nor_accept_nor_learn_what_exists(tmp_path: Path) -> None:
    """The finding of issue 21: a key that is not a hub the provider serves asked firm quotes
    and accepted them until the liquidity was locked up. Now it gets 403 `caller_not_accepted`
    for both, the same answer for a quote that exists and one that does not, and nothing is
    reserved: the hub's acceptance of the whole liquidity still fits."""
    async def scenario(made: World) -> None:
        stranger = made.hub(STRANGER)
        quoted = await made.ask(who=STRANGER)
        existing = terms(await made.quote(), ledger_to(key("bob")))
        unknown = terms({"id": "0" * 32}, ledger_to(key("bob")))
        refusals = [await stranger.post("/acceptances", t.body) for t in (existing, unknown)]
        for refused in (quoted, *refusals):
            assert (refused.status, refused.body["code"]) == (403, "caller_not_accepted")
        assert refusals[0].body == refusals[1].body
        whole = terms(await made.quote(LIQUIDITY_KZT), ledger_to(key("bob")))
        assert (await made.hub().post("/acceptances", whole.body)).status == 201

    run(tmp_path, scenario)


def test_a_source_deadline_further_than_a_day_is_refused(tmp_path: Path) -> None:
    """The finding's acceptances asked a source deadline ten years ahead, holding liquidity
    for as long: one further than `SOURCE_DEADLINE_S_MAX` (a day) is refused with
    `source_deadline_too_far` and reserves nothing; one a minute within it is accepted."""
    async def scenario(made: World) -> None:
        ten_years = terms(await made.quote(LIQUIDITY_KZT), ledger_to(key("bob")),
                          source_in_s=10 * 365 * 86_400, destination_in_s=300)
        refused = await made.hub().post("/acceptances", ten_years.body)
        assert (refused.status, refused.body["code"]) == (422, "source_deadline_too_far")
        within = terms(await made.quote(LIQUIDITY_KZT), ledger_to(key("bob")),
                       source_in_s=SOURCE_DEADLINE_S_MAX - 60, destination_in_s=300)
        assert (await made.hub().post("/acceptances", within.body)).status == 201

    run(tmp_path, scenario)


def test_a_reservation_never_locked_frees_the_liquidity_at_its_source_deadline(
        tmp_path: Path) -> None:
    """The finding of issue 21: reservations whose source was never locked held the liquidity
    for good. Two accepted payments hold all of it until their source deadline, 10 s ahead:
    nothing more is quoted before it; past it the whole liquidity fits again at once, before the
    loop's pass, which then marks the other lapsed payment refunded (`source_not_locked`). A
    source reported after the deadline answers the same and locks nothing."""
    async def scenario(made: World) -> None:
        hub, half = made.hub(), LIQUIDITY_KZT // 2
        lapsing = [terms(await made.quote(half), ledger_to(key("bob")), source_in_s=10,
                         destination_in_s=5) for _ in range(2)]
        for payment in lapsing:
            assert (await hub.post("/acceptances", payment.body)).status == 201
        refused = await made.ask(1)
        assert (refused.status, refused.body["code"]) == (422, "liquidity_exceeded")

        made.clock.offset_s = 11  # the provider's clock past both source deadlines
        whole = terms(await made.quote(LIQUIDITY_KZT), ledger_to(key("bob")))
        assert (await hub.post("/acceptances", whole.body)).status == 201
        late = await report_source(made, lapsing[0], "0" * 64)
        await made.service.settlement.step()
        swept = await hub.get(f"/legs/{lapsing[1].payment_id}")
        for leg in (late, swept):
            assert (leg.body["status"], leg.body["code"]) == ("refunded", "source_not_locked")
        assert late.body["destination_note_id"] is None

    run(tmp_path, scenario)


def test_a_hubs_open_reservations_are_capped(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """With the cap at 2 (`OPEN_RESERVATIONS_PER_CALLER_MAX`), a hub's third acceptance while
    two of its payments wait for their source is refused with `open_reservations_exceeded`,
    and another hub the provider serves still gets its own."""
    monkeypatch.setattr(fx_settlement, "OPEN_RESERVATIONS_PER_CALLER_MAX", 2)

    async def scenario(made: World) -> None:
        answers = []
        for who in (HUB, HUB, HUB, OTHER_HUB):
            payment = terms(await made.quote(who=who), ledger_to(key("bob")))
            answers.append(await made.hub(who).post("/acceptances", payment.body))
        assert [a.status for a in answers] == [201, 201, 422, 201]
        assert answers[2].body["code"] == "open_reservations_exceeded"

    run(tmp_path, scenario)


def test_concurrent_acceptances_never_reserve_more_than_the_liquidity(tmp_path: Path) -> None:
    """Twenty acceptances sent at once, each for 7 000 of 100 000 liquidity: exactly the 14 that
    fit are accepted, the other 6 refused with liquidity_exceeded, and what is reserved never
    exceeds the liquidity."""
    async def scenario(made: World) -> None:
        quotes = [await made.quote() for _ in range(20)]
        answers = await asyncio.gather(*(
            made.hub().post("/acceptances", terms(q, ledger_to(key("bob"))).body)
            for q in quotes))
        taken = [a for a in answers if a.status == 201]
        refused = [a for a in answers if a.status != 201]
        assert len(taken) == LIQUIDITY_KZT // PAYMENT_KZT == 14
        assert sum(a.body["reserved_minor"] for a in taken) <= LIQUIDITY_KZT
        assert {(a.status, a.body["code"]) for a in refused} == {(422, "liquidity_exceeded")}
        assert len(refused) == 6

    run(tmp_path, scenario)


# ---- a wallet on a ledger ----------------------------------------------------------------------


def test_a_ledger_payment_settles_when_the_receiver_claims(tmp_path: Path) -> None:
    """The sender locks the quote's KHR to the provider; the provider locks the quote's KZT to
    bob's wallet under the same hashlock; bob claims through his bank with the preimage; the
    provider's step learns it from the journal and claims the KHR: SETTLED, and each side holds
    what the quote said."""
    async def scenario(made: World) -> None:
        bob = await open_customer(made.net, "bob")
        quote, payment = await accepted(made, ledger_to(bob))
        khr_before = await held(made.net, PROVIDER.participant, "KHR")
        tx_id = await lock_source(made.net, payment, quote["source"]["amount_minor"])
        legs = await report_source(made, payment, tx_id)
        assert legs.status == 200, legs.body
        assert legs.body["status"] == "destination_locked"
        assert legs.body["source_note_id"] == note_id(TxId(tx_id), 0)
        again = await report_source(made, payment, tx_id)
        assert again.body == legs.body  # idempotent: nothing is locked twice
        [locked] = [n for n in await unspent_notes(made.net, bob.participant) if n.lock]
        assert (locked.id, locked.amount_minor, locked.currency) == (
            legs.body["destination_note_id"], PAYMENT_KZT, "KZT")
        assert locked.lock.refund_to == PROVIDER.participant
        assert locked.lock.deadline_s == payment.body["destination_deadline_s"]

        async with NodeClient(made.net.bank_url, bob) as wallet:
            claim = await wallet.settle(SettlementRequest(note_id=locked.id,
                                                          preimage=payment.preimage.hex()))
        assert claim.status == "committed", claim
        assert await made.service.settlement.step() == 1
        settled = await made.hub().get(f"/legs/{payment.payment_id}")
        assert settled.body["status"] == "settled"
        assert await held(made.net, bob.participant, "KZT") == PAYMENT_KZT
        assert await held(made.net, PROVIDER.participant, "KZT") == (
            PROVIDER_FLOAT_KZT - PAYMENT_KZT)
        assert await held(made.net, PROVIDER.participant, "KHR") == (
            khr_before + quote["source"]["amount_minor"])
        assert (await made.hub(STRANGER).get(f"/legs/{payment.payment_id}")).status == 404
        # Settled money stays spent: the liquidity left is 100 000 less this payment.
        large = await made.ask(LIQUIDITY_KZT - PAYMENT_KZT + 1)
        assert (large.status, large.body["code"]) == (422, "liquidity_exceeded")

    run(tmp_path, scenario)


def test_an_unclaimed_destination_is_refunded_and_the_reservation_released(
        tmp_path: Path) -> None:
    """With a destination deadline 3 s ahead, nobody claims; once it passes, the provider's
    own loop (polling every 0.1 s) refunds its note to itself: REFUNDED, its KZT whole again,
    and the full liquidity can be reserved again."""
    async def scenario(made: World) -> None:
        bob = await open_customer(made.net, "bob")
        quote, payment = await accepted(made, ledger_to(bob), source_in_s=6,
                                        destination_in_s=3)
        tx_id = await lock_source(made.net, payment, quote["source"]["amount_minor"])
        legs = await report_source(made, payment, tx_id)
        assert legs.body["status"] == "destination_locked", legs.body
        await asyncio.sleep(payment.body["destination_deadline_s"] - time.time() - 1)
        locked = await made.hub().get(f"/legs/{payment.payment_id}")
        assert locked.body["status"] == "destination_locked"  # not before the deadline
        refunded = await until_done(made, payment)
        assert (refunded["status"], refunded["code"]) == ("refunded", "not_claimed")
        assert await held(made.net, PROVIDER.participant, "KZT") == PROVIDER_FLOAT_KZT
        assert await held(made.net, bob.participant, "KZT") == 0
        whole = terms(await made.quote(LIQUIDITY_KZT), ledger_to(bob))
        assert (await made.hub().post("/acceptances", whole.body)).status == 201

    run(tmp_path, scenario, poll_interval_s=0.1)


async def until_done(made: World, payment: Terms, within_s: float = 10.0) -> Any:
    """The payment's legs once they are no longer locked (the loop moved them), polled."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        legs = (await made.hub().get(f"/legs/{payment.payment_id}")).body
        if legs["status"] != "destination_locked":
            return legs
        await asyncio.sleep(0.1)
    raise AssertionError(f"payment {payment.payment_id} still locked after {within_s} s")


def test_a_source_of_the_wrong_amount_is_refused(tmp_path: Path) -> None:
    """A source lock of one KHR minor unit less than the quote is refused (source_mismatch),
    nothing is locked for the receiver, and the reservation is released."""
    async def scenario(made: World) -> None:
        bob = await open_customer(made.net, "bob")
        quote, payment = await accepted(made, ledger_to(bob))
        tx_id = await lock_source(made.net, payment, quote["source"]["amount_minor"] - 1)
        legs = await report_source(made, payment, tx_id)
        assert (legs.body["status"], legs.body["code"]) == ("refused", "source_mismatch")
        assert "not the quote's" in legs.body["detail"]
        assert await unspent_notes(made.net, bob.participant) == []
        whole = terms(await made.quote(LIQUIDITY_KZT), ledger_to(bob))
        assert (await made.hub().post("/acceptances", whole.body)).status == 201

    run(tmp_path, scenario)


# ---- a partner switch --------------------------------------------------------------------------


def test_a_switch_payment_is_claimed_on_accc_and_released_on_rjct(tmp_path: Path) -> None:
    """Toward a switch nothing is locked (SOURCE_LOCKED); ACCC with a wrong preimage is
    refused (wrong_preimage), with the right one the provider claims the source (SETTLED);
    another payment's RJCT releases its reservation (REFUNDED) and its source stays locked for
    the sender to refund."""
    async def scenario(made: World) -> None:
        quote, paid = await accepted(made, SWITCH)
        khr_before = await held(made.net, PROVIDER.participant, "KHR")
        legs = await report_source(made, paid, await lock_source(
            made.net, paid, quote["source"]["amount_minor"]))
        assert legs.body["status"] == "source_locked", legs.body
        release = f"/legs/{paid.payment_id}/release"
        wrong = await made.hub().post(release, {"status": "ACCC", "preimage": "00" * 32})
        assert (wrong.status, wrong.body["code"]) == (422, "wrong_preimage")
        note_reads = await central_requests(made.net, "GET", NOTE_ROUTE)
        done = await made.hub().post(release, {"status": "ACCC",
                                               "preimage": paid.preimage.hex()})
        assert done.body["status"] == "settled", done.body
        # The claim is built from the note as judged: the source is not read again.
        assert await central_requests(made.net, "GET", NOTE_ROUTE) == note_reads
        assert await held(made.net, PROVIDER.participant, "KHR") == (
            khr_before + quote["source"]["amount_minor"])

        quote, rejected = await accepted(made, SWITCH)
        await report_source(made, rejected, await lock_source(
            made.net, rejected, quote["source"]["amount_minor"]))
        answer = await made.hub().post(f"/legs/{rejected.payment_id}/release",
                                       {"status": "RJCT"})
        assert (answer.body["status"], answer.body["code"]) == ("refunded", "rejected")
        source = answer.body["source_note_id"]
        [still] = [n for n in await unspent_notes(made.net, PROVIDER.participant)
                   if n.id == source]
        assert still.lock is not None  # the provider never claims it
        # Only the settled payment still counts against the liquidity.
        left = terms(await made.quote(LIQUIDITY_KZT - PAYMENT_KZT), SWITCH)
        assert (await made.hub().post("/acceptances", left.body)).status == 201

    run(tmp_path, scenario)


def test_a_source_refunded_before_the_claim_is_found_lost(tmp_path: Path) -> None:
    """The sender refunds its source lock at the deadline before the provider learns the
    preimage (a hub that released too late): the claim built from the judged note is refused,
    the provider reads the note, finds it refunded and records `source_lost` instead of
    SETTLED."""
    async def scenario(made: World) -> None:
        quote, paid = await accepted(made, SWITCH, source_in_s=4, destination_in_s=2)
        tx_id = await lock_source(made.net, paid, quote["source"]["amount_minor"])
        legs = await report_source(made, paid, tx_id)
        assert legs.body["status"] == "source_locked", legs.body
        await asyncio.sleep(paid.body["source_deadline_s"] - time.time() + 1)
        async with NodeClient(made.net.central_url, ABA) as aba:
            note = await aba.note(legs.body["source_note_id"])
            refund = await LedgerWallet(aba, "aba", "bank").settle(note, None)
        assert refund.status == "committed", refund
        note_reads = await central_requests(made.net, "GET", NOTE_ROUTE)
        late = await made.hub().post(f"/legs/{paid.payment_id}/release",
                                     {"status": "ACCC", "preimage": paid.preimage.hex()})
        assert late.status == 200, late.body
        assert (late.body["status"], late.body["code"]) == ("destination_claimed",
                                                            "source_lost"), late.body
        assert await central_requests(made.net, "GET", NOTE_ROUTE) == note_reads + 1

    run(tmp_path, scenario)


# ---- a restart -----------------------------------------------------------------------------


@pytest.mark.parametrize("sent", [False, True], ids=["never-sent", "answer-lost"])
def test_a_restart_after_storing_the_lock_locks_the_destination_once(
        tmp_path: Path, sent: bool) -> None:
    """The provider stores its signed destination lock, then its submission fails (never sent,
    or committed with the answer lost); the provider is closed and reopened over the same
    database, and its next step ends DESTINATION_LOCKED with exactly one note locked for bob
    and the provider's KZT spent once."""
    async def scenario(made: World) -> None:
        bob = await open_customer(made.net, "bob")
        quote, payment = await accepted(made, ledger_to(bob))
        ledger = made.service.settlement.ledgers["KZT"]
        submit = ledger.submit_transactions

        async def crash(batch: TransactionBatch, **kwargs: Any) -> Any:
            if sent:
                await submit(batch, **kwargs)
            raise ClientError(NO_ANSWER, "unreachable", "Node unreachable", "the test cut it")

        ledger.submit_transactions = crash  # type: ignore[method-assign]
        legs = await report_source(made, payment, await lock_source(
            made.net, payment, quote["source"]["amount_minor"]))
        assert legs.body["status"] == "source_locked", legs.body
        await made.restart()
        assert await made.service.settlement.step() == 1
        locked = await made.hub().get(f"/legs/{payment.payment_id}")
        assert locked.body["status"] == "destination_locked", locked.body
        notes = await unspent_notes(made.net, bob.participant)
        assert [(n.id, n.amount_minor) for n in notes] == [
            (locked.body["destination_note_id"], PAYMENT_KZT)]
        assert await held(made.net, PROVIDER.participant, "KZT") == (
            PROVIDER_FLOAT_KZT - PAYMENT_KZT)
        assert await made.service.settlement.step() == 0

    run(tmp_path, scenario)


# ---- a stablecoin chain ------------------------------------------------------------------------


def test_a_chain_payment_settles_through_the_bridge(tmp_path: Path) -> None:
    """Toward a chain the provider locks bridged JPYS to the bridge naming the receiver's
    address (`evm:0x…`); the bridge locks stablecoin on chain; the receiver claims there with
    the preimage, the bridge claims the provider's note with it, and the provider's step learns
    it from the journal and claims the KHR: SETTLED."""
    async def scenario() -> None:
        async with bridged_world(tmp_path, swap_margin_s=60, swap_window_min_s=30) as chain:
            await register_provider(chain.net)
            await chain.deposit(1_000, owner=PROVIDER.participant)
            chain.chain.mine(CONFIRMATIONS)
            await settle(chain)
            chain.coin.mint(chain.setup.issuer, chain.setup.operator.address, 5_000 * YEN)
            link = LedgerLink(url=chain.net.central_url, key=CENTRAL.participant)
            route = ChainRoute(bridge=chain.setup.config.key.participant,
                               bridge_name="yen-bridge", currency="JPY",
                               token=chain.bridge.config.token)
            config = provider_config(
                tmp_path, chain.net.central_url, corridors=[CorridorConfig(
                    source="KHR", destination="JPY", reference_rate="0.04",
                    spread_percent="0", fee_percent="0.5")],
                liquidity_minor={"JPY": 1_000}, ledgers={"KHR": link, "JPY": link},
                chains={"jpy-chain": route})
            receiver = chain.chain.new_account()
            async with serving(chain.net, config) as made:
                quote = await made.quote(400, currency="JPY")
                payment = terms(quote, {"kind": "chain", "system": "jpy-chain",
                                        "account": receiver.address})
                assert (await made.hub().post("/acceptances", payment.body)).status == 201
                legs = await report_source(made, payment, await lock_source(
                    made.net, payment, quote["source"]["amount_minor"]))
                assert legs.body["status"] == "destination_locked", legs.body
                await settle(chain)
                [swap] = chain.bridge.store.swaps("locked", "out")
                assert swap.id == legs.body["destination_note_id"]
                htlc = HashedTimelock.at(chain.chain, chain.bridge.config.htlc)
                assert htlc.swap(bytes.fromhex(swap.chain_swap)).receiver == receiver.address
                htlc.claim(receiver, bytes.fromhex(swap.chain_swap), payment.preimage)
                await settle(chain)
                assert htlc.swap(bytes.fromhex(swap.chain_swap)).state == SwapState.CLAIMED
                assert await made.service.settlement.step() == 1
                settled = await made.hub().get(f"/legs/{payment.payment_id}")
                assert settled.body["status"] == "settled", settled.body
                assert chain.coin.balance_of(receiver.address) == 400 * YEN
                assert await held(made.net, PROVIDER.participant, "KHR") == (
                    quote["source"]["amount_minor"])

    asyncio.run(scenario())
