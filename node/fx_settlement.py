"""The FX provider's settlement desk: reservations, both legs of each payment, and the loop.

A cross-border payment settles payment-versus-payment on one SHA-256 hashlock whose preimage
only the hub knows (docs/fx.md, "Settlement"):

1. `POST /acceptances`: the hub accepts a quote for a payment; the provider reserves the credit
   against its liquidity in the destination currency (atomically: the check and the insert are
   one write through the provider's single writer) or refuses.
2. `POST /legs/{payment}/source`: the sender's lock committed; the provider reads the note on
   the source ledger and checks it is locked to it as agreed. Then it locks its own leg: a note
   for the receiver's wallet on the destination ledger, or for the EVM bridge naming the
   receiver's address; toward a partner switch there is nothing to lock (the hub pays there
   from the provider's settlement account and reports with `POST /legs/{payment}/release`).
3. The loop (`step`) watches the destination note. A claim there publishes the preimage in the
   ledger's journal; the provider stores it, then claims the source note with it. An unclaimed
   note is refunded to the provider from its deadline on, which comes `margin_s` before the
   source's, so the provider always has time to claim the source once the preimage shows.

Crash safety, as the bridge's swap desk: the destination lock is signed and stored before it is
submitted, resubmitted as it is (a committed transaction is answered from the notary's store),
and signed anew only once no notary can commit the stored one. Claims and refunds are derived
each pass from the ledger's state, so a crash in the middle of one finds it done or does it
again, never twice. One asyncio lock serialises the moves of every payment (the handlers' and
the loop's), so two moves never choose the same notes or lock the same leg twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final, TypeVar

from dsl.facts import Party
from engine.encoding import INPUTS_MAX, from_wire, note_id
from engine.errors import InvariantViolation
from engine.ids import NoteId, ParticipantId, TxId
from engine.keys import KeyPair
from engine.model import NO_FACTS, HashLock, Note, SignedTransaction, TokenRef
from engine.validate import CLOCK_SKEW_MAX_S
from engine.wallet import InsufficientFunds, NoteReservations, Payment, build_payment, sign
from node.api import Api, Call
from node.client import NO_ANSWER, ClientError, NodeClient
from node.errors import NodeError, conflict, not_found, unprocessable
from node.fx_messages import QuoteWire
from node.fx_provider_config import (
    OPEN_RESERVATIONS_PER_CALLER_MAX,
    SOURCE_DEADLINE_S_MAX,
    FxProviderConfig,
)
from node.fx_settlement_store import Settlement, SettlementBook
from node.ledger_wallet import LedgerWallet
from node.messages import (
    PAGE_SIZE_MAX,
    LockWire,
    NotesQuery,
    NoteWire,
    SignedTransactionWire,
    TransactionBatch,
)
from node.recent import Recent
from node.settlement_messages import (
    AcceptanceRequest,
    AcceptanceWire,
    Destination,
    LegStatus,
    LegWire,
    Release,
    SourceLocked,
)
from node.wire import note_from_wire, signed_from_wire, signed_to_wire, token_from_wire

if TYPE_CHECKING:  # the service imports this module
    from node.fx_provider import QuoteBook

log = logging.getLogger("earmark.fx.settlement")
ROLE: Final = "fx_provider"
SOURCE_OUTPUTS_READ: Final = 4  # outputs of the sender's transaction searched for the lock
DEADLINE_SKEW_S: Final = 5  # a source lock may end this much before the agreed deadline
RESIGN_AFTER_S: Final = CLOCK_SKEW_MAX_S + 60  # a stored lock older than this never commits
NOTE_PAGES_MAX: Final = 20  # pages of the provider's notes read to fund one lock
JUDGED_KEPT_MAX: Final = 10_000  # source notes kept as judged, until claimed
WALLET_KEY: Final = re.compile(r"^[0-9a-f]{64}$")
EVM_ADDRESS: Final = re.compile(r"^0x[0-9a-fA-F]{40}$")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class DestinationLeg:
    """What the provider locks for one destination: on which ledger, to whom, what money."""

    currency: str
    to: ParticipantId
    memo: str | None  # what the receiver's systems read: a bridge, the chain address
    token: TokenRef | None


class SettlementDesk:
    """The provider's side of settling accepted quotes."""

    def __init__(self, config: FxProviderConfig, book: SettlementBook, quotes: QuoteBook,
                 clock: Callable[[], float]) -> None:
        self.config = config
        self.book = book
        self._quotes = quotes
        self._clock = clock
        self._key: KeyPair = config.key
        self.ledgers: dict[str, NodeClient] = {}  # by currency, open between start and close
        self._clients = contextlib.AsyncExitStack()
        # One payment moves at a time (a handler or the loop); payments move side by side.
        self._moving: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary())
        # Choosing notes for a destination lock and storing it is one step across payments,
        # so two locks never spend the same note.
        self._funding = asyncio.Lock()
        self._loop: asyncio.Task[None] | None = None
        # Each source note as `_judge_source` read it, by payment: the claim is built from it
        # without reading the note again (see `_claim_source`).
        self._judged: Recent[str, NoteWire] = Recent(JUDGED_KEPT_MAX)

    @property
    def facts(self) -> Party:
        """The provider as a party of its ledger transactions."""
        return Party(id=self.config.name, role=ROLE)

    async def start(self) -> None:
        """Open a client on each ledger and start the settlement loop."""
        for currency, link in self.config.ledgers.items():
            self.ledgers[currency] = await self._clients.enter_async_context(
                NodeClient(link.url, self._key))
        self._loop = asyncio.create_task(self._run(), name="fx-settlement")

    async def close(self) -> None:
        """Stop the loop (a move in progress is cancelled; its state is stored) and the
        clients."""
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None
        await self._clients.aclose()
        self.ledgers.clear()

    def declare(self, api: Api) -> None:
        """The settlement operations."""
        route = api.route
        route("POST", "/acceptances", summary="Accept a quote for a payment: reserve its credit",
              tag="settlement", body=AcceptanceRequest, response=AcceptanceWire,
              status=201)(self.accept)
        route("POST", "/legs/{payment_id}/source", summary="The sender's lock committed",
              tag="settlement", body=SourceLocked, response=LegWire)(self.source_locked)
        route("POST", "/legs/{payment_id}/release", summary="A partner switch's outcome",
              tag="settlement", body=Release, response=LegWire)(self.release)
        route("GET", "/legs/{payment_id}", summary="A payment's legs", tag="settlement",
              response=LegWire)(self.legs)

    # ---- acceptance ----------------------------------------------------------------------------

    async def accept(self, call: Call) -> AcceptanceWire:
        """POST /acceptances: reserve the quote's credit for the payment, or refuse."""
        request, requester = call.body(AcceptanceRequest), served_hub(self.config, call)
        quote = await self._quotes.find(request.quote_id, requester)
        if quote is None:
            raise not_found("quote")
        known = await self.book.by_quote(request.quote_id)
        if known is None:
            self._check_terms(quote, request)
        row = Settlement(request.payment_id, quote.id, requester, LegStatus.ACCEPTED,
                         quote.source.currency, quote.source.amount_minor,
                         quote.destination.currency, quote.destination.amount_minor,
                         int(self._clock()), request.source_deadline_s,
                         request.model_dump_json().encode())
        liquidity = self.config.liquidity_minor.get(quote.destination.currency, 0)
        return self._acceptance(await self.book.reserve(row, liquidity,
                                                        OPEN_RESERVATIONS_PER_CALLER_MAX))

    def _check_terms(self, quote: QuoteWire, request: AcceptanceRequest) -> None:
        """The quote is still firm, the deadlines are near enough and leave the provider room,
        the route exists."""
        now_s = int(self._clock())
        if now_s >= quote.expires_at_s:
            raise unprocessable("quote_expired", f"quote {quote.id} expired at "
                                f"{quote.expires_at_s}")
        if request.source_deadline_s > now_s + SOURCE_DEADLINE_S_MAX:
            raise unprocessable("source_deadline_too_far", f"the source deadline is at most "
                                f"{SOURCE_DEADLINE_S_MAX} s from now, not "
                                f"{request.source_deadline_s - now_s} s")
        latest = request.source_deadline_s - self.config.margin_s
        earliest = now_s + self.config.window_min_s
        if not earliest <= request.destination_deadline_s <= latest:
            raise unprocessable("deadline_margin", f"the destination deadline must fall "
                                f"between {earliest} and {latest} (source deadline less "
                                f"{self.config.margin_s} s)")
        if quote.source.currency not in self.config.ledgers:
            raise _unsupported(f"no ledger of {quote.source.currency} to take the source on")
        if request.destination.kind != "switch":
            self._destination_leg(request.destination, quote.destination.currency)

    def _acceptance(self, row: Settlement) -> AcceptanceWire:
        return AcceptanceWire(payment_id=row.payment_id, quote_id=row.quote_id,
                              pay_to=self.config.name, reserved_minor=row.reserved_minor,
                              currency=row.destination_currency, accepted_at_s=row.accepted_at_s)

    def _destination_leg(self, destination: Destination, currency: str) -> DestinationLeg:
        """The lock a ledger or chain destination needs; `destination_unsupported` if the
        provider cannot make it."""
        if destination.kind == "ledger":
            if currency not in self.config.ledgers:
                raise _unsupported(f"no ledger of {currency}")
            if not WALLET_KEY.match(destination.account):
                raise _unsupported("a ledger destination's account is a wallet key, 64 hex")
            return DestinationLeg(currency, ParticipantId(destination.account), None, None)
        route = self.config.chains.get(destination.system)
        if route is None or route.currency != currency or route.currency not in (
                self.config.ledgers):
            raise _unsupported(f"no route to chain {destination.system} in {currency}")
        if not EVM_ADDRESS.match(destination.account):
            raise _unsupported("a chain destination's account is an address, 0x and 40 hex")
        # The bridge reads the EVM receiver from the payment's memo (`evm:0x…`).
        return DestinationLeg(currency, ParticipantId(route.bridge),
                              f"evm:{destination.account}", token_from_wire(route.token))

    # ---- the hub's reports -----------------------------------------------------------------

    async def legs(self, call: Call) -> LegWire:
        """GET /legs/{payment_id}: the payment's legs, to the hub that accepted it."""
        return _leg(await self._own(call))

    async def source_locked(self, call: Call) -> LegWire:
        """POST /legs/{payment_id}/source: check the sender's lock, then lock the destination.
        Idempotent: once the source is judged, the current legs are answered."""
        row = await self._own(call)
        reported = call.body(SourceLocked)
        async with self._moving_lock(row.payment_id):
            row = await self._reread(row)
            if row.status is LegStatus.ACCEPTED:
                # A reservation lapsed at its source deadline stopped counting against the
                # liquidity: it must not come back by a late report.
                row = await self._expire_unlocked(row)
            if row.status is LegStatus.ACCEPTED:
                row = await self._judge_source(row, TxId(reported.source_tx_id))
                row = await self._advance_quietly(row)
        return _leg(row)

    async def release(self, call: Call) -> LegWire:
        """POST /legs/{payment_id}/release: a partner switch credited (claim the source with
        the preimage) or rejected (release the reservation; the sender refunds)."""
        row = await self._own(call)
        outcome = call.body(Release)
        if row.terms.destination.kind != "switch":
            raise conflict("not_a_switch_payment", "only a partner switch's payment is released "
                           "by the hub; the others settle on their ledgers")
        async with self._moving_lock(row.payment_id):
            row = await self._reread(row)
            if row.status is LegStatus.SOURCE_LOCKED:
                row = await self._released(row, outcome)
                row = await self._advance_quietly(row)
            elif row.status is LegStatus.ACCEPTED:
                raise conflict("source_not_locked", "the source leg is not locked yet")
            elif (outcome.status == "RJCT") != (row.status is LegStatus.REFUNDED):
                raise conflict("leg_state", f"the payment is already {row.status.value}")
        return _leg(row)

    async def _released(self, row: Settlement, outcome: Release) -> Settlement:
        if outcome.status == "RJCT":
            # Nothing was credited: the reservation goes now; the sender refunds its lock at
            # its deadline, which the provider never claims without the preimage.
            return await self.book.update(row, status=LegStatus.REFUNDED, code="rejected",
                                          detail="the partner switch rejected the credit")
        if outcome.preimage is None:
            raise unprocessable("preimage_missing", f"{outcome.status} comes with the preimage")
        if hashlib.sha256(bytes.fromhex(outcome.preimage)).hexdigest() != row.terms.hashlock:
            raise unprocessable("wrong_preimage", "the preimage does not hash to the hashlock")
        return await self.book.update(row, status=LegStatus.DESTINATION_CLAIMED,
                                      preimage=outcome.preimage)

    def _moving_lock(self, payment_id: str) -> asyncio.Lock:
        return self._moving.setdefault(payment_id, asyncio.Lock())

    async def _own(self, call: Call) -> Settlement:
        """The caller's payment; others learn nothing of it."""
        row = await self.book.by_payment(call.path("payment_id"))
        if row is None or row.requester != call.signed_by():
            raise not_found("payment")
        return row

    async def _reread(self, row: Settlement) -> Settlement:
        fresh = await self.book.by_payment(row.payment_id)
        return fresh if fresh is not None else row

    # ---- the source leg ----------------------------------------------------------------------

    async def _judge_source(self, row: Settlement, tx_id: TxId) -> Settlement:
        """SOURCE_LOCKED with the note if the sender's lock is as agreed; else REFUSED (the
        reservation is released; the sender refunds at its deadline)."""
        problem, note = await self._find_source(row, tx_id)
        if note is not None and not problem:
            other = await self.book.by_source_note(note.id)
            if other is None:
                self._judged.keep(row.payment_id, note)
                return await self.book.update(row, status=LegStatus.SOURCE_LOCKED,
                                              source_note_id=note.id)
            problem = f"note {note.id} already backs payment {other.payment_id}"
        log.warning("payment %s: source refused: %s", row.payment_id, problem)
        return await self.book.update(row, status=LegStatus.REFUSED, code="source_mismatch",
                                      detail=problem)

    async def _find_source(self, row: Settlement, tx_id: TxId) -> tuple[str, NoteWire | None]:
        """The note of `tx_id` locked to the provider under the hashlock, and what is wrong with
        it ("" if nothing)."""
        terms = row.terms
        for index in range(SOURCE_OUTPUTS_READ):
            note = await self._readable_note(row.source_currency, note_id(tx_id, index))
            if note is None or note.owner != self._key.participant or note.lock is None:
                continue
            if note.lock.digest == terms.hashlock:
                return _source_problem(row, note, note.lock), note
        return (f"no note of transaction {tx_id} is locked to {self.config.name} under the "
                f"payment's hashlock"), None

    async def _readable_note(self, currency: str, note: NoteId) -> NoteWire | None:
        """The note if it exists and the provider may read it (as its owner)."""
        try:
            return await self.ledgers[currency].note(note)
        except ClientError as error:
            if error.status == NO_ANSWER:
                raise NodeError(502, "ledger_unavailable", "Bad gateway",
                                f"the {currency} ledger did not answer") from None
            return None

    # ---- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.config.poll_interval_s)
            try:
                await self.step()
            except Exception:  # the loop outlives any one failure; the next pass retries
                log.exception("settlement pass failed")

    async def step(self) -> int:
        """One pass over every payment still moving; how many moved on."""
        moved = 0
        for row in await asyncio.to_thread(self.book.driven):
            async with self._moving_lock(row.payment_id):
                fresh = await self._reread(row)
                after = await self._advance_quietly(fresh)
            moved += after != fresh
        return moved

    async def _advance_quietly(self, row: Settlement) -> Settlement:
        """`_advance`, with a ledger that cannot be reached left for the next pass."""
        try:
            return await self._advance(row)
        except ClientError as error:
            log.warning("payment %s (%s): %s; retrying next pass", row.payment_id,
                        row.status.value, error)
            return row

    async def _advance(self, row: Settlement) -> Settlement:
        """Move one payment as far as the ledgers allow now."""
        kind = row.terms.destination.kind
        if row.status is LegStatus.ACCEPTED:
            return await self._expire_unlocked(row)
        if row.status is LegStatus.SOURCE_LOCKED and kind == "switch":
            return await self._watch_switch_source(row)
        if row.status is LegStatus.SOURCE_LOCKED:
            row = await self._lock_destination(row)
        if row.status is LegStatus.DESTINATION_LOCKED:
            row = await self._watch_destination(row)
        if row.status is LegStatus.DESTINATION_CLAIMED:
            row = await self._claim_source(row)
        return row

    async def _expire_unlocked(self, row: Settlement) -> Settlement:
        """A payment whose source was never reported by its deadline frees its reservation."""
        if self._clock() < row.terms.source_deadline_s:
            return row
        return await self.book.update(row, status=LegStatus.REFUNDED, code="source_not_locked",
                                      detail="the source lock was not reported before its "
                                             "deadline")

    async def _watch_switch_source(self, row: Settlement) -> Settlement:
        """A switch payment the hub never released: once the sender refunded its lock, the
        reservation is freed."""
        if self._clock() < row.terms.source_deadline_s or row.source_note_id is None:
            return row
        note = await self.ledgers[row.source_currency].note(row.source_note_id)
        if note.spent_by is None:
            return row
        return await self.book.update(row, status=LegStatus.REFUNDED, code="not_released",
                                      detail="the hub did not release; the sender refunded")

    # ---- the destination leg -----------------------------------------------------------------

    async def _lock_destination(self, row: Settlement) -> Settlement:
        """Sign (once) and store the destination lock, then submit it."""
        if row.destination_signed is not None:
            signed = _signed(row.destination_signed)
        else:
            if self._clock() + self.config.window_min_s > row.terms.destination_deadline_s:
                return await self._give_up(row, "too_late", "too late to lock the destination "
                                           "before its deadline")
            async with self._funding:
                try:
                    signed = await self._signed_lock(row)
                except InsufficientFunds as short:
                    return await self._give_up(row, "insufficient_funds", str(short))
                row = await self.book.update(row, destination_signed=_body(signed))
        answer = await self.ledgers[row.destination_currency].submit_transactions(
            TransactionBatch(transactions=[signed_to_wire(signed)]))
        outcome = answer.outcomes[0]
        if outcome.status == "committed":
            return await self.book.update(row, status=LegStatus.DESTINATION_LOCKED,
                                          destination_note_id=note_id(signed.id, 0))
        if self._clock() > signed.transaction.created_at_s + RESIGN_AFTER_S:
            # No notary can commit the stored lock any more: the same notes, a fresh time.
            return await self.book.update(row, destination_signed=_body(self._resigned(signed)))
        if outcome.code == "malformed":
            return row  # a fresh transaction refused as malformed: the clocks disagree; wait
        return await self._give_up(row, "destination_refused", f"{outcome.code}: "
                                   f"{outcome.reason}")

    async def _signed_lock(self, row: Settlement) -> SignedTransaction:
        terms = row.terms
        leg = self._destination_leg(terms.destination, row.destination_currency)
        payment = Payment(row.reserved_minor, leg.currency, leg.token, leg.to, NO_FACTS,
                          lock=HashLock(terms.hashlock, self._key.participant,
                                        terms.destination_deadline_s), memo=leg.memo)
        free = await self._free_notes(leg)
        notes = NoteReservations().choose(free, payment.amount_minor, payment.currency)
        if len(notes) > INPUTS_MAX:
            raise InsufficientFunds(f"the amount needs {len(notes)} notes; a transaction "
                                    f"spends at most {INPUTS_MAX}")
        transaction = build_payment(payment, notes, self.facts, self._key.participant,
                                    created_at_s=int(self._clock()),
                                    nonce=f"fx-settlement:{row.payment_id}")
        return sign(transaction, (self._key,))

    async def _free_notes(self, leg: DestinationLeg) -> list[Note]:
        """The provider's unlocked notes of the leg's money not taken by a stored lock that
        may still commit."""
        taken = {i for row in await asyncio.to_thread(self.book.driven)
                 if row.status is LegStatus.SOURCE_LOCKED and row.destination_signed
                 for i in _signed(row.destination_signed).transaction.inputs}
        client, found, after = self.ledgers[leg.currency], [], ""
        for _ in range(NOTE_PAGES_MAX):
            page = await client.notes(NotesQuery(owner=self._key.participant,
                                                 currency=leg.currency, after=after,
                                                 limit=PAGE_SIZE_MAX))
            found += [note for note in map(note_from_wire, page.items)
                      if note.token == leg.token and note.lock is None and note.id not in taken]
            if page.next is None:
                break
            after = page.next
        return found

    def _resigned(self, signed: SignedTransaction) -> SignedTransaction:
        return sign(replace(signed.transaction, created_at_s=int(self._clock())), (self._key,))

    async def _watch_destination(self, row: Settlement) -> Settlement:
        """A claim of the destination note reveals the preimage; an unclaimed note is refunded
        from its deadline on."""
        client = self.ledgers[row.destination_currency]
        note = await client.note(_stored(row.destination_note_id, "destination note"))
        if note.spent_by is not None:
            revealed = from_wire((await client.journal(note.spent_by)).transaction).preimage
            if revealed is None:  # our own refund, committed before a crash
                return await self._refunded(row)
            return await self.book.update(row, status=LegStatus.DESTINATION_CLAIMED,
                                          preimage=revealed)
        if self._clock() < row.terms.destination_deadline_s:
            return row
        outcome = await self._wallet(row.destination_currency).settle(note, None)
        if outcome.status != "committed":
            log.warning("payment %s: destination refund refused, retrying: %s",
                        row.payment_id, outcome.reason)
            return row
        return await self._refunded(row)

    async def _refunded(self, row: Settlement) -> Settlement:
        return await self.book.update(row, status=LegStatus.REFUNDED, code="not_claimed",
                                      detail="the destination was not claimed by its deadline")

    async def _give_up(self, row: Settlement, code: str, detail: str) -> Settlement:
        """Nothing was locked for the receiver: release the reservation (the sender refunds)."""
        log.error("payment %s: destination not locked: %s", row.payment_id, detail)
        return await self.book.update(row, status=LegStatus.REFUNDED, code=code, detail=detail)

    # ---- claiming the source -----------------------------------------------------------------

    async def _claim_source(self, row: Settlement) -> Settlement:
        """Claim the source note with the stored preimage; SETTLED once it is claimed.

        The first try claims the note as judged, unread: the notary refuses the claim if the
        note was spent since, and only then (or after a restart, when nothing is kept) is the
        note read to learn what became of it. A note's amount, owner and lock never change, so
        the claim built from the judged note is the one a fresh read would give."""
        preimage = bytes.fromhex(_stored(row.preimage, "preimage"))
        judged = self._judged.get(row.payment_id)
        if judged is not None:
            self._judged.forget(row.payment_id)
            outcome = await self._wallet(row.source_currency).settle(judged, preimage)
            if outcome.status == "committed":
                return await self.book.update(row, status=LegStatus.SETTLED)
        client = self.ledgers[row.source_currency]
        note = await client.note(_stored(row.source_note_id, "source note"))
        if note.spent_by is not None:
            claim = from_wire((await client.journal(note.spent_by)).transaction)
            if claim.preimage is not None:
                return await self.book.update(row, status=LegStatus.SETTLED)
            log.error("payment %s LOST: the destination was claimed but the sender refunded "
                      "the source note %s", row.payment_id, note.id)
            return await self.book.update(row, code="source_lost", detail="the sender "
                                          "refunded the source after the destination was claimed")
        outcome = await self._wallet(row.source_currency).settle(note, preimage)
        if outcome.status != "committed":
            log.error("payment %s: source claim refused, retrying: %s %s", row.payment_id,
                      outcome.code, outcome.reason)
            return row
        return await self.book.update(row, status=LegStatus.SETTLED)

    def _wallet(self, currency: str) -> LedgerWallet:
        return LedgerWallet(self.ledgers[currency], self.config.name, ROLE)


def served_hub(config: FxProviderConfig, call: Call) -> str:
    """The caller's key if it is a hub the provider serves (`hub_keys`); else 403
    `caller_not_accepted`, decided before anything is looked up, so that the refusal tells
    nothing of what exists."""
    caller = call.signed_by()
    if caller not in config.hub_keys:
        raise NodeError(403, "caller_not_accepted", "Forbidden", f"{config.name} gives firm "
                        "quotes to, and takes acceptances from, the hubs it serves only")
    return caller


def _source_problem(row: Settlement, note: NoteWire, lock: LockWire) -> str:
    """What differs between the sender's locked note and the agreed source ("" if nothing)."""
    terms = row.terms
    if (note.currency, note.amount_minor) != (row.source_currency, row.source_minor):
        return (f"the note holds {note.amount_minor} {note.currency}, not the quote's "
                f"{row.source_minor} {row.source_currency}")
    if lock.deadline_s < terms.source_deadline_s - DEADLINE_SKEW_S:
        return (f"the lock ends at {lock.deadline_s}, before the agreed "
                f"{terms.source_deadline_s}")
    if note.spent_by is not None:
        return f"the note is already spent by {note.spent_by}"
    return ""


def _leg(row: Settlement) -> LegWire:
    return LegWire(payment_id=row.payment_id, quote_id=row.quote_id, status=row.status,
                   destination=row.terms.destination, source_note_id=row.source_note_id,
                   destination_note_id=row.destination_note_id, code=row.code,
                   detail=row.detail)


def _stored(value: T | None, what: str) -> T:
    """A value the payment's status guarantees is stored."""
    if value is None:
        raise InvariantViolation(f"the {what} is missing from a payment past that step")
    return value


def _unsupported(detail: str) -> NodeError:
    return unprocessable("destination_unsupported", detail)


def _body(signed: SignedTransaction) -> bytes:
    return signed_to_wire(signed).model_dump_json().encode()


def _signed(body: bytes) -> SignedTransaction:
    return signed_from_wire(SignedTransactionWire.model_validate_json(body))
