"""The wallet side: choose notes for an amount, build the payment with change, sign, submit.

Two payments from one wallet at the same time never choose the same note: a note is reserved
from the moment it is chosen until its payment is answered. If another process spent a chosen
note first (the notary says note_already_spent), the wallet chooses again, a bounded number of
times.

The pieces work without a store or a notary, so that a bank choosing among notes it fetched from
the central bank uses the same ones: `NoteReservations` (choose and hold notes), `build_payment`
(the transaction with its change) and `sign` (signatures over the id).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from dsl.facts import Party
from engine.encoding import signing_bytes, transaction_id
from engine.errors import EngineError, ResultCode
from engine.ids import NoteId, ParticipantId
from engine.keys import KeyPair
from engine.model import (
    HashLock,
    Note,
    Output,
    Signature,
    SignedTransaction,
    TokenRef,
    Transaction,
)
from engine.notary import Notary, Outcome
from engine.store import SqlStore

ATTEMPTS_MAX = 3  # choices of notes per payment before giving up


class InsufficientFunds(EngineError):
    """The wallet's unreserved notes do not add up to the amount."""


@dataclass(frozen=True, slots=True)
class Payment:
    """What to pay: amount and kind of money, to whom, by which operation."""

    amount_minor: int
    currency: str
    token: TokenRef | None
    to: ParticipantId
    receiver: Party
    operation: str = "transfer"
    plain_to_receiver: bool = False  # the receiver's output is released to plain money
    channel: str = "online"
    lock: HashLock | None = None  # the receiver's output is one leg of a swap
    memo: str | None = None  # for the receiver's systems (`engine.model.Transaction.memo`)


@dataclass
class NoteReservations:
    """Notes chosen for payments not answered yet; a reserved note is never chosen twice."""

    _reserved: set[NoteId] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def choose(self, candidates: Iterable[Note], amount_minor: int, currency: str) -> list[Note]:
        """Reserve unreserved notes from `candidates`, in their order, until they cover the
        amount; raises `InsufficientFunds` (reserving nothing) if they cannot."""
        with self._lock:
            chosen, total = [], 0
            for note in candidates:
                if note.id in self._reserved:
                    continue
                chosen.append(note)
                total += note.amount_minor
                if total >= amount_minor:
                    self._reserved.update(n.id for n in chosen)
                    return chosen
        raise InsufficientFunds(f"{total} of {amount_minor} {currency} available")

    def release(self, notes: Iterable[Note]) -> None:
        """Free the notes of an answered (or abandoned) payment."""
        with self._lock:
            self._reserved.difference_update(note.id for note in notes)


def build_payment(payment: Payment, notes: Sequence[Note], sender: Party,
                  sender_key: ParticipantId, *, created_at_s: int, nonce: str) -> Transaction:
    """The transaction spending `notes`: the payee's output, then the change back to the sender
    in the same kind of money (the receiver's output is plain when the contract releases it)."""
    total = sum(note.amount_minor for note in notes)
    receiving = None if payment.plain_to_receiver else payment.token
    outputs = [Output(payment.to, payment.amount_minor, payment.currency, receiving,
                      payment.lock)]
    if total > payment.amount_minor:
        outputs.append(Output(sender_key, total - payment.amount_minor, payment.currency,
                              payment.token))
    return Transaction(payment.operation, tuple(n.id for n in notes), tuple(outputs), sender,
                       payment.receiver, created_at_s, nonce, payment.channel,
                       memo=payment.memo)


class NotLocked(EngineError):
    """Only a hash-locked note is settled by a claim or a refund."""


def build_settlement(note: Note, party: Party, *, preimage: bytes | None, created_at_s: int,
                     nonce: str) -> Transaction:
    """The transaction that settles one hash-locked note, signed by `party`'s key: with the
    `preimage`, its owner's claim (which publishes the preimage); without, the refund to the
    party its lock names (valid from the deadline on). The money stays the same kind."""
    lock = note.lock
    if lock is None:
        raise NotLocked(f"note {note.id} is not hash-locked")
    to = note.owner if preimage is not None else lock.refund_to
    return Transaction("transfer", (note.id,), (Output(to, note.amount_minor, note.currency,
                                                       note.token),),
                       party, party, created_at_s, nonce,
                       preimage=preimage.hex() if preimage is not None else None)


def sign(transaction: Transaction, keys: Iterable[KeyPair]) -> SignedTransaction:
    """The transaction with its id and each key's signature over it."""
    tx_id = transaction_id(transaction)
    message = signing_bytes(tx_id)
    return SignedTransaction(tx_id, transaction,
                             tuple(Signature(k.participant, k.sign(message)) for k in keys))


@dataclass
class Wallet:
    """One owner's key and facts; `cosigners` are those who sign beside it (the owner's bank)."""

    key: KeyPair
    facts: Party
    store: SqlStore
    notary: Notary
    cosigners: Sequence[KeyPair] = ()
    _reservations: NoteReservations = field(default_factory=NoteReservations)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sequence: int = 0

    def pay(self, payment: Payment) -> Outcome:
        """Choose notes, build, sign and submit; retries with other notes if one was taken."""
        for _ in range(ATTEMPTS_MAX):
            candidates = self.store.unspent(self.key.participant, payment.currency, payment.token)
            notes = self._reservations.choose(candidates, payment.amount_minor, payment.currency)
            try:
                outcome = self.notary.submit(self._signed(payment, notes))
            finally:
                self._reservations.release(notes)
            refusal = outcome.refusal
            if refusal is None or refusal.code is not ResultCode.NOTE_ALREADY_SPENT:
                return outcome
        return outcome

    def _signed(self, payment: Payment, notes: list[Note]) -> SignedTransaction:
        with self._lock:
            self._sequence += 1
            nonce = f"{time.time_ns()}-{self._sequence}"
        transaction = build_payment(payment, notes, self.facts, self.key.participant,
                                    created_at_s=int(self.notary.clock()), nonce=nonce)
        return sign(transaction, (self.key, *self.cosigners))
