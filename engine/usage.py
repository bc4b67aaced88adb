"""Running totals for contract limits: which totals a spend reads and what a commit adds.

A total is keyed `(token, scope, party, period)`: `scope` is `wallet` (what a sender spent) or
`merchant` (what a merchant accepted), `period` a calendar label such as `day:2026-01-01`. The
store keeps them in the `usage` table; the notary reads them for a batch in one query and adds a
batch's deltas in one upsert.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Final

from dsl.facts import PERIODS, SPENDING_OPERATIONS, Usage
from engine.ids import ParticipantId
from engine.model import Note, TokenRef, Transaction

if TYPE_CHECKING:
    from engine.validate import Accepted

UsageKey = tuple[str, str, str, str]  # (token, scope, party, period label)
_DAY_S: Final = 86_400


def token_key(token: TokenRef | None) -> str:
    """How a token is written in the usage table; plain money is ""."""
    return f"{token.contract}/{token.token}" if token else ""


def period_label(period: str, at_s: int) -> str:
    """`day:2026-01-01`, `week:2026-W01`, `month:2026-01` for the period containing `at_s`."""
    return _label(period, at_s // _DAY_S)


@lru_cache(maxsize=4096)
def _label(period: str, day: int) -> str:
    # Every period is whole UTC days, so the label depends on the day alone: cached by day.
    moment = datetime.fromtimestamp(day * _DAY_S, UTC)
    if period == "day":
        return f"day:{moment:%Y-%m-%d}"
    if period == "week":
        year, week, _ = moment.isocalendar()
        return f"week:{year}-W{week:02d}"
    return f"month:{moment:%Y-%m}"


def usage_keys(token: TokenRef, transaction: Transaction,
               owner: ParticipantId) -> dict[str, UsageKey]:
    """The `Usage` field → the total it reads, for `owner` spending `token` in `transaction`.

    Both parties are keys the ledger checked — the spender, and the owner of what it pays —
    never the ids the transaction states."""
    key = token_key(token)
    merchant = receiving_owner(transaction, owner) or owner
    keys: dict[str, UsageKey] = {}
    for period in PERIODS:
        label = period_label(period, transaction.created_at_s)
        keys[f"wallet_{period}"] = (key, "wallet", owner, label)
        keys[f"merchant_{period}"] = (key, "merchant", merchant, label)
    return keys


def receiving_owner(transaction: Transaction, owner: ParticipantId) -> ParticipantId | None:
    """Who receives: the first output not back to the spender (change is not received)."""
    return next((o.owner for o in transaction.outputs if o.owner != owner), None)


def usage_of(keys: Mapping[str, UsageKey], totals: Mapping[UsageKey, int],
             receiver_held: int) -> Usage:
    """The `Usage` a policy sees, from the totals under `keys`."""
    return Usage(**{name: totals.get(key, 0) for name, key in keys.items()},
                 receiver_held=receiver_held)


def usage_deltas(accepted: Sequence[Accepted]) -> dict[UsageKey, int]:
    """What accepted transactions add to the usage totals."""
    deltas: dict[UsageKey, int] = defaultdict(int)
    for item in accepted:
        add_usage(deltas, item)
    return dict(deltas)


def add_usage(deltas: dict[UsageKey, int], item: Accepted) -> None:
    """Add one accepted transaction's spend to `deltas` (wallet, and merchant on a purchase)."""
    transaction = item.signed.transaction
    spent: tuple[Note, ...] = item.spent
    token = spent[0].token if spent else None
    if token is None or transaction.operation not in SPENDING_OPERATIONS:
        return
    purchase = transaction.operation == "purchase"
    for field, key in usage_keys(token, transaction, item.sender).items():
        if field.startswith("wallet") or purchase:
            deltas[key] = deltas.get(key, 0) + item.moved_minor
