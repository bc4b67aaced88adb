"""What a bank knows of its payers' unspent notes, so that preparing a payment rarely asks the
central bank for them.

Reading a payer's notes from the central bank for every payment was the largest cost of a
payment at both nodes: a signed request, an access check and a page of notes each time. The
bank sees nearly every transaction that spends its customers' notes, because it co-signs and
forwards them (all but a lock settled at the ledger directly and an issuer's sweep of expired
money), so after one read it can keep the list itself: a committed transaction removes the notes
it spent and adds the notes it created for owners already known here.

What the bank does not see is money arriving from elsewhere (a payment from another bank's
customer, an issuance to the bank). So a list is only trusted for `FRESH_S` after it was read,
and a payer whose known notes do not cover an amount is read again before the payment is
refused (`PaymentBuilder.prepare`). A list is forgotten whenever the bank cannot be sure of it:
a refusal about the notes themselves, a transaction whose outcome never came back. The notary
stays the judge: a note spent behind the bank's back is refused as `note_already_spent`, never
spent twice.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from engine.ids import NoteId, ParticipantId, TxId
from engine.model import Note, Transaction
from engine.validate import created_notes
from node.recent import Recent

# How long a list read from the central bank is trusted. It bounds how long the bank may choose
# among notes that miss money arrived from elsewhere, or that include a note settled behind its
# back (a lock claimed or refunded at the ledger directly, an issuer's sweep of expired money,
# which the notary then refuses as spent and the bank reads again). At 5 s, 256 payers paying
# every few seconds each had their notes read on nearly every payment.
FRESH_S: Final = 30.0
OWNERS_MAX: Final = 100_000  # lists kept at once; beyond it the oldest are forgotten

ReadNotes = Callable[[ParticipantId, str], Awaitable[list[Note]]]


@dataclass
class _Known:
    """One owner's unspent notes of one currency, as of `read_at_s` plus what happened since."""

    notes: dict[NoteId, Note]
    read_at_s: float


@dataclass(eq=False)
class _Reading:
    """A read from the central bank in flight; stale once the owner's notes change meanwhile."""

    stale: bool = False


@dataclass
class KnownNotes:
    """Unspent notes by owner and currency: read through `read` when unknown or stale, kept up
    to date by the transactions the bank forwards."""

    read: ReadNotes
    clock: Callable[[], float] = time.monotonic
    _known: Recent[tuple[ParticipantId, str], _Known] = field(
        default_factory=lambda: Recent(OWNERS_MAX))
    # A read that started before the owner's notes changed keeps its answer for its own
    # caller but does not overwrite what is known now.
    _reading: dict[ParticipantId, set[_Reading]] = field(default_factory=dict)

    async def notes(self, owner: ParticipantId, currency: str, *,
                    fresh: bool = False) -> tuple[list[Note], bool]:
        """The owner's unspent notes of `currency`, and whether they were just read from the
        central bank (`fresh` forces the read)."""
        known = self._known.get((owner, currency))
        if not fresh and known is not None and self.clock() - known.read_at_s < FRESH_S:
            return list(known.notes.values()), False
        reading, read_at_s = _Reading(), self.clock()
        in_flight = self._reading.setdefault(owner, set())
        in_flight.add(reading)
        try:
            notes = await self.read(owner, currency)
        finally:
            in_flight.discard(reading)
            if not in_flight:
                self._reading.pop(owner, None)
        if not reading.stale:
            self._known.keep((owner, currency), _Known({n.id: n for n in notes}, read_at_s))
        return notes, True

    def committed(self, tx_id: TxId, transaction: Transaction, spent: Sequence[Note]) -> None:
        """A transaction the bank forwarded committed: its inputs are gone, and its outputs
        are new notes of their owners (kept for owners known here)."""
        gone = set(transaction.inputs)
        for note in spent:
            self._change(note.owner, note.currency, lambda known: _drop(known, gone))
        for note in created_notes(tx_id, transaction, spent):
            self._change(note.owner, note.currency, _adding(note))

    def forget(self, owner: ParticipantId) -> None:
        """Not sure any more what the owner holds: read it again next time."""
        self._outdate_reads(owner)
        self._known.forget_where(lambda key: key[0] == owner)

    def _change(self, owner: ParticipantId, currency: str,
                change: Callable[[_Known], None]) -> None:
        self._outdate_reads(owner)
        known = self._known.get((owner, currency))
        if known is not None:
            change(known)

    def _outdate_reads(self, owner: ParticipantId) -> None:
        for reading in self._reading.get(owner, ()):
            reading.stale = True


def _drop(known: _Known, gone: set[NoteId]) -> None:
    for note_id in gone:
        known.notes.pop(note_id, None)


def _adding(note: Note) -> Callable[[_Known], None]:
    def add(known: _Known) -> None:
        if note.lock is None:  # a locked note is settled, never spent as money
            known.notes[note.id] = note
    return add
