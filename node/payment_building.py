"""A bank prepares its customers' transactions: notes known to the bank (`node.known_notes`,
read from the central bank when unknown or stale), chosen and held, and the payment built with
its change (the engine wallet's own pieces).

A note chosen for a prepared payment stays held until the payment is answered or its
preparation expires (`PREPARED_TTL_S`), so two payments prepared at once never spend the same
note; so does a hash-locked note while its claim or refund is prepared
(`prepare_settlement`). Holds live in this process: after a restart a note may be chosen again,
and the notary's `note_already_spent` then refuses the later of two payments.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Final

from dsl.evaluate import CompiledPolicy
from dsl.phases import CompiledContract
from engine.errors import ResultCode
from engine.ids import ParticipantId, TxId
from engine.model import NO_FACTS, Note, TokenRef, Transaction
from engine.wallet import (
    InsufficientFunds,
    NoteReservations,
    Payment,
    build_payment,
    build_settlement,
)
from node.central_link import CentralClient
from node.errors import NodeError, conflict, unprocessable
from node.known_notes import KnownNotes
from node.messages import PAGE_SIZE_MAX, NotesQuery, NoteWire
from node.wire import note_from_wire

PREPARED_TTL_S: Final = 120  # a prepared payment must be signed within this time
NOTE_PAGES_MAX: Final = 20  # pages of notes read to pay one amount (PAGE_SIZE_MAX each)
HELD_PAYMENTS_MAX: Final = 100_000  # prepared payments holding notes at once
# Refusals that say the bank's idea of the payer's notes was wrong.
_NOTE_REFUSALS: Final = frozenset({ResultCode.NOTE_UNKNOWN.value,
                                   ResultCode.NOTE_ALREADY_SPENT.value})


@dataclass
class TokenReleases:
    """Whether a token's contract releases it on an operation (`release on purchase`): then
    the payee's output is plain money. Contracts are read from the central bank once."""

    central: CentralClient
    _policies: dict[TokenRef, CompiledPolicy | None] = field(default_factory=dict)

    async def releases(self, token: TokenRef | None, operation: str) -> bool:
        """Whether the payee of `operation` receives `token` as plain money."""
        if token is None:
            return False
        if token not in self._policies:
            self._policies[token] = await self._policy(token)
        policy = self._policies[token]
        return policy is not None and policy.plans[operation].release

    async def _policy(self, token: TokenRef) -> CompiledPolicy | None:
        try:
            contract = await self.central.contract(token.contract)
        except NodeError as error:
            if error.problem.status == 404:
                return None  # the notary refuses it as contract_unknown, with its reason
            raise
        compiled = await asyncio.to_thread(CompiledContract, contract.source or "")
        return compiled.policies.get(token.token)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A built transaction and the notes it spends (held until answered or expired)."""

    transaction: Transaction
    notes: tuple[Note, ...]
    expires_at_s: int


@dataclass
class PaymentBuilder:
    """Chooses and holds notes, and builds transactions, for the bank and its customers."""

    central: CentralClient
    reservations: NoteReservations = field(default_factory=NoteReservations)
    known: KnownNotes = field(init=False)
    _held: dict[str, Prepared] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.known = KnownNotes(self._read_notes)

    async def prepare(self, payment_id: str, payment: Payment,
                      sender_key: ParticipantId) -> Prepared:
        """Choose and hold the sender's notes and build the transaction; 422
        `insufficient_funds` if the unheld notes do not cover the amount, as the central bank
        lists them now. The transaction states no facts of the parties: the ledger reads their
        registrations, so a tier raised between preparing and signing does not stale it."""
        self._make_room()
        notes = await self._choose(payment, sender_key, fresh=False)
        now_s = int(time.time())
        transaction = build_payment(payment, notes, NO_FACTS, sender_key, created_at_s=now_s,
                                    nonce=uuid.uuid4().hex)
        return self._hold(payment_id, Prepared(transaction, tuple(notes), now_s + PREPARED_TTL_S))

    def prepare_settlement(self, payment_id: str, note: Note,
                           preimage: bytes | None) -> Prepared:
        """Hold a hash-locked note and build its claim (with `preimage`) or refund; 409
        `note_held` while another settlement of it is prepared and unanswered."""
        self._make_room()
        try:
            self.reservations.choose((note,), note.amount_minor, note.currency)
        except InsufficientFunds:
            raise conflict("note_held", f"a settlement of note {note.id} is prepared and not "
                           "answered yet") from None
        now_s = int(time.time())
        transaction = build_settlement(note, NO_FACTS, preimage=preimage, created_at_s=now_s,
                                       nonce=uuid.uuid4().hex)
        return self._hold(payment_id, Prepared(transaction, (note,), now_s + PREPARED_TTL_S))

    def _make_room(self) -> None:
        self.sweep(time.time())
        if len(self._held) >= HELD_PAYMENTS_MAX:
            raise NodeError(503, "busy", "Too many prepared payments", "try again shortly")

    def _hold(self, payment_id: str, prepared: Prepared) -> Prepared:
        self._held[payment_id] = prepared
        return prepared

    async def _choose(self, payment: Payment, owner: ParticipantId, *,
                      fresh: bool) -> list[Note]:
        known, read = await self.known.notes(owner, payment.currency, fresh=fresh)
        # Largest first, as the engine's store lists them for its wallets.
        candidates = sorted((note for note in known if note.token == payment.token
                             and note.lock is None),
                            key=lambda note: note.amount_minor, reverse=True)
        try:
            return self.reservations.choose(candidates, payment.amount_minor, payment.currency)
        except InsufficientFunds as error:
            if not read:  # money may have arrived that the bank has not seen: look again
                return await self._choose(payment, owner, fresh=True)
            raise unprocessable("insufficient_funds", str(error)) from None

    def answered(self, payment_id: str, tx_id: TxId, committed: bool, code: str) -> None:
        """The ledger answered the payment: what it spent and created is known, or after a
        refusal about its notes, the payer's notes are read again; its notes are let go."""
        prepared = self._held.get(payment_id)
        if prepared is not None and committed:
            self.known.committed(tx_id, prepared.transaction, prepared.notes)
        elif prepared is not None and code in _NOTE_REFUSALS:
            self._forget_payer(prepared)
        self._release(payment_id)

    def let_go(self, payment_id: str) -> None:
        """The payment was abandoned, or its outcome is unknown: its notes may be chosen again,
        and the payer's notes are read again next time."""
        prepared = self._held.get(payment_id)
        if prepared is not None:
            self._forget_payer(prepared)
        self._release(payment_id)

    def _forget_payer(self, prepared: Prepared) -> None:
        for owner in {note.owner for note in prepared.notes}:
            self.known.forget(owner)

    def _release(self, payment_id: str) -> None:
        prepared = self._held.pop(payment_id, None)
        if prepared is not None:
            self.reservations.release(prepared.notes)

    def sweep(self, now_s: float) -> None:
        """Let go of every preparation that expired unsigned."""
        for payment_id in [k for k, p in self._held.items() if p.expires_at_s < now_s]:
            self.let_go(payment_id)

    async def _read_notes(self, owner: ParticipantId, currency: str) -> list[Note]:
        return [note_from_wire(n) for n in await unspent_notes(self.central, owner, currency)]


async def unspent_notes(central: CentralClient, owner: str,
                        currency: str | None = None) -> list[NoteWire]:
    """An owner's unspent notes (of one currency, if named), as the central bank lists them; at
    most `NOTE_PAGES_MAX` pages."""
    notes: list[NoteWire] = []
    after = ""
    for _ in range(NOTE_PAGES_MAX):
        page = await central.notes(NotesQuery(owner=owner, currency=currency,
                                              limit=PAGE_SIZE_MAX, after=after))
        notes += page.items
        if page.next is None:
            break
        after = page.next
    return notes
