"""The independent verifier: rebuild balances and supply from the journal and compare.

Invariants are checked in two places (TigerBeetle): validation refuses what would break them, and
this verifier re-derives the ledger from the append-only journal and the committed transactions,
so a bug or a corrupted store shows up as a mismatch rather than as wrong money.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select

from engine.encoding import from_bytes
from engine.store import COMMITTED, SqlStore
from engine.tables import TransactionRow

_TRANSACTIONS = TransactionRow.__table__  # type: ignore[attr-defined]
# Only issuance creates money; redemption and a burning sweep (a return) destroy it.
_CHANGES_SUPPLY = frozenset({"issue", "redeem", "return"})


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What the verifier found; `ok` when nothing."""

    balances_checked: int
    supply: dict[str, int]
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No mismatch anywhere."""
        return not self.mismatches


def verify(store: SqlStore) -> VerifyReport:
    """Compare the tables with the journal, and the supply with issuance minus redemption."""
    tables, journal = store.table_balances(), store.journal_balances()
    mismatches = [
        f"balance of {owner[:16]}… {currency} {token or 'plain'}: tables "
        f"{tables.get((owner, currency, token), 0)}, journal "
        f"{journal.get((owner, currency, token), 0)}"
        for owner, currency, token in sorted(set(tables) | set(journal))
        if tables.get((owner, currency, token), 0) != journal.get((owner, currency, token), 0)
    ]
    held: dict[str, int] = defaultdict(int)
    for (_, currency, _), amount in tables.items():
        held[currency] += amount
    supply, unconserved = _supply(store)
    mismatches += unconserved
    mismatches += [f"supply of {currency}: issued less redeemed {supply.get(currency, 0)}, held "
                   f"{held.get(currency, 0)}" for currency in sorted(set(supply) | set(held))
                   if supply.get(currency, 0) != held.get(currency, 0)]
    return VerifyReport(len(set(tables) | set(journal)), supply, mismatches)


def _supply(store: SqlStore) -> tuple[dict[str, int], list[str]]:
    """Issuance minus destruction per currency, re-derived from every committed transaction's
    body and its input notes; also names any transaction that was not conserved."""
    supply: dict[str, int] = defaultdict(int)
    problems = []
    query = select(_TRANSACTIONS.c.id, _TRANSACTIONS.c.body).where(
        _TRANSACTIONS.c.code == COMMITTED)
    with store.engine.connect() as db:
        rows = list(db.execute(query))
    for tx_id, body in rows:
        transaction = from_bytes(body)
        change: dict[str, int] = defaultdict(int)
        for output in transaction.outputs:
            change[output.currency] += output.amount_minor
        for note, _ in store.notes(transaction.inputs).values():
            change[note.currency] -= note.amount_minor
        for currency, delta in change.items():
            supply[currency] += delta
            if delta and transaction.operation not in _CHANGES_SUPPLY:
                problems.append(f"transaction {tx_id[:16]}… ({transaction.operation}) changed the "
                                f"supply of {currency} by {delta}")
    return dict(supply), problems
