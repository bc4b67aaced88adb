"""What each bank has been issued and has redeemed, per currency, derived from the ledger.

A bank's available reserves are its deposits (the `reserves` table) less what was issued to it
plus what it redeemed. Issued and redeemed amounts are not stored anywhere else: they are summed
from the journal when the service starts and kept up to date from each commit, so a crash between
a commit and an update loses nothing (the next start sums the journal again).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence

from engine.encoding import from_bytes
from engine.ids import NoteId
from engine.model import Note, SignedTransaction, Transaction
from engine.store import SqlStore

_ISSUE, _REDEEM = "issue", "redeem"
# In canonical JSON (sorted keys, no spaces) a quote inside a string is always escaped, so these
# bytes occur only as the transaction's own operation: a cheap filter before decoding the body.
_MARKS = tuple(f'"operation":"{operation}"'.encode() for operation in (_ISSUE, _REDEEM))

Totals = dict[tuple[str, str], int]  # (bank name, currency) -> minor units


class ReserveBook:
    """Issued and redeemed totals per bank and currency; safe to read while a thread updates."""

    def __init__(self) -> None:
        self._issued: Totals = defaultdict(int)
        self._redeemed: Totals = defaultdict(int)
        self._lock = threading.Lock()

    def load(self, store: SqlStore) -> None:
        """Sum every committed issue and redemption in the journal (replaces what was kept)."""
        bodies = (body for _, body in store.committed_bodies() if any(m in body for m in _MARKS))
        issued, redeemed = _sums(store, [from_bytes(body) for body in bodies])
        with self._lock:
            self._issued, self._redeemed = issued, redeemed

    def record(self, store: SqlStore, committed: Sequence[SignedTransaction]) -> None:
        """Add the issues and redemptions among newly committed transactions."""
        relevant = [s.transaction for s in committed
                    if s.transaction.operation in (_ISSUE, _REDEEM)]
        if not relevant:
            return
        issued, redeemed = _sums(store, relevant)
        with self._lock:
            for key, amount in issued.items():
                self._issued[key] += amount
            for key, amount in redeemed.items():
                self._redeemed[key] += amount

    def net_issued(self, bank: str, currency: str) -> int:
        """Issued to `bank` less redeemed by it, in `currency`."""
        with self._lock:
            return self._issued.get((bank, currency), 0) - self._redeemed.get((bank, currency), 0)


def _sums(store: SqlStore, transactions: Sequence[Transaction]) -> tuple[Totals, Totals]:
    """Issued per receiving bank (the outputs) and redeemed per sending bank (inputs less
    change, which is what a redemption destroys)."""
    issued: Totals = defaultdict(int)
    redeemed: Totals = defaultdict(int)
    inputs = [i for t in transactions if t.operation == _REDEEM for i in t.inputs]
    spent = {k: note for k, (note, _) in store.notes(inputs).items()} if inputs else {}
    for transaction in transactions:
        if transaction.operation == _ISSUE:
            for output in transaction.outputs:
                issued[(transaction.receiver.id, output.currency)] += output.amount_minor
        elif transaction.operation == _REDEEM:
            bank = transaction.sender.id
            for note in _notes(spent, transaction.inputs):
                redeemed[(bank, note.currency)] += note.amount_minor
            for output in transaction.outputs:
                redeemed[(bank, output.currency)] -= output.amount_minor
    return issued, redeemed


def _notes(found: dict[NoteId, Note], ids: Iterable[NoteId]) -> list[Note]:
    return [found[i] for i in ids if i in found]
