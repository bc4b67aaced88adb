"""The independent verifier: replay the journal and compare with the tables.

Invariants are checked in two places (TigerBeetle): validation refuses what would break them, and
this verifier re-derives the ledger from the journal alone — the committed transactions, append
only, each with its canonical body — so a bug or a corrupted store shows up as a mismatch rather
than as wrong money. Replay needs no order: every note is the output of exactly one committed
transaction (its id is derived from it), and spent exactly when a committed transaction lists it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from engine.encoding import from_bytes
from engine.ids import NoteId, TxId
from engine.model import Note, Transaction
from engine.store import SqlStore
from engine.usage import token_key
from engine.validate import created_notes

# Only issuance creates money; redemption and a burning sweep (a return) destroy it.
_CHANGES_SUPPLY = frozenset({"issue", "redeem", "return"})
_MISMATCHES_SHOWN = 1000  # a report of a badly broken ledger stays readable


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What the verifier found; `ok` when nothing."""

    transactions: int
    balances_checked: int
    supply: dict[str, int]
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No mismatch anywhere."""
        return not self.mismatches


@dataclass
class _Replay:
    """The ledger rebuilt from the journal."""

    transactions: dict[TxId, Transaction] = field(default_factory=dict)
    notes: dict[NoteId, Note] = field(default_factory=dict)
    spent: dict[NoteId, TxId] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def verify(store: SqlStore) -> VerifyReport:
    """Replay every committed transaction; compare notes, the spent set, balances and supply."""
    replay = _replay(store)
    problems = replay.problems
    problems += _compare_notes(replay, store.all_notes())
    problems += _compare_spent(replay, store.spent_set())
    tables = store.table_balances()
    rebuilt = _balances(replay)
    problems += [
        f"balance of {owner[:16]}… {currency} {token or 'plain'}: tables "
        f"{tables.get(key, 0)}, journal {rebuilt.get(key, 0)}"
        for key in sorted(set(tables) | set(rebuilt))
        for owner, currency, token in [key] if tables.get(key, 0) != rebuilt.get(key, 0)]
    supply, unconserved = _supply(replay)
    problems += unconserved
    held: dict[str, int] = defaultdict(int)
    for (_, currency, _), amount in tables.items():
        held[currency] += amount
    problems += [f"supply of {currency}: issued less destroyed {supply.get(currency, 0)}, held "
                 f"{held.get(currency, 0)}" for currency in sorted(set(supply) | set(held))
                 if supply.get(currency, 0) != held.get(currency, 0)]
    return VerifyReport(len(replay.transactions), len(set(tables) | set(rebuilt)), supply,
                        problems[:_MISMATCHES_SHOWN])


def _replay(store: SqlStore) -> _Replay:
    replay = _Replay()
    for tx_id, body in store.committed_bodies():
        replay.transactions[tx_id] = from_bytes(body)
    # A transaction's outputs depend on the notes it spends (the earmark clock), so each is
    # replayed once the transactions that created its inputs have been: a topological order,
    # linear in the journal, whatever order the table returns rows in.
    missing = {i: len(set(t.inputs)) for i, t in replay.transactions.items()}
    waiting: dict[NoteId, list[TxId]] = defaultdict(list)
    for tx_id, transaction in replay.transactions.items():
        for note in set(transaction.inputs):
            waiting[note].append(tx_id)
    ready = [i for i, count in missing.items() if count == 0]
    while ready:
        tx_id = ready.pop()
        transaction = replay.transactions[tx_id]
        _spend(replay, tx_id, transaction)
        inputs = [replay.notes[n] for n in transaction.inputs]
        for created in created_notes(tx_id, transaction, inputs):
            replay.notes[created.id] = created
            for waiter in waiting.pop(created.id, []):
                missing[waiter] -= 1
                if missing[waiter] == 0:
                    ready.append(waiter)
    replay.problems += [f"transaction {i[:16]}… spends a note no committed transaction created"
                        for i, count in sorted(missing.items()) if count]
    return replay


def _spend(replay: _Replay, tx_id: TxId, transaction: Transaction) -> None:
    for note in transaction.inputs:
        if note in replay.spent:
            replay.problems.append(f"note {note[:16]}… spent by both "
                                   f"{replay.spent[note][:16]}… and {tx_id[:16]}…")
        replay.spent[note] = tx_id


def _compare_notes(replay: _Replay, stored: dict[NoteId, Note]) -> list[str]:
    problems = [f"note {n[:16]}… is in the table but no committed transaction created it"
                for n in sorted(set(stored) - set(replay.notes))]
    problems += [f"note {n[:16]}… was created by {replay.notes[n].created_by[:16]}… but is "
                 f"not in the table" for n in sorted(set(replay.notes) - set(stored))]
    problems += [f"note {n[:16]}… differs from its transaction's output: table {stored[n]}, "
                 f"journal {replay.notes[n]}" for n in sorted(set(stored) & set(replay.notes))
                 if stored[n] != replay.notes[n]]
    return problems


def _compare_spent(replay: _Replay, stored: dict[NoteId, TxId]) -> list[str]:
    return [f"note {n[:16]}… spent by {stored.get(n, 'nobody')[:16]} in the spent set, by "
            f"{replay.spent.get(n, 'nobody')[:16]} in the journal"
            for n in sorted(set(stored) | set(replay.spent))
            if stored.get(n) != replay.spent.get(n)]


def _balances(replay: _Replay) -> dict[tuple[str, str, str], int]:
    balances: dict[tuple[str, str, str], int] = defaultdict(int)
    for note in replay.notes.values():
        if note.id not in replay.spent:
            balances[(note.owner, note.currency, token_key(note.token))] += note.amount_minor
    return {key: amount for key, amount in balances.items() if amount}


def _supply(replay: _Replay) -> tuple[dict[str, int], list[str]]:
    """Issuance minus destruction per currency; and every transaction of another operation
    that changed a supply."""
    supply: dict[str, int] = defaultdict(int)
    problems = []
    for tx_id, transaction in sorted(replay.transactions.items()):
        change: dict[str, int] = defaultdict(int)
        for output in transaction.outputs:
            change[output.currency] += output.amount_minor
        for note in transaction.inputs:
            if note in replay.notes:
                change[replay.notes[note].currency] -= replay.notes[note].amount_minor
        for currency, delta in change.items():
            supply[currency] += delta
            if delta and transaction.operation not in _CHANGES_SUPPLY:
                problems.append(f"transaction {tx_id[:16]}… ({transaction.operation}) changed "
                                f"the supply of {currency} by {delta}")
    return dict(supply), problems
