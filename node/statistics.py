"""The central bank's monetary statistics: supply per currency and token, and who holds it.

Built from the ledger's unspent totals (`SqlStore.table_balances`): a bank holds what its own key
owns and what the wallets it registered own; agencies, FX providers and the central bank hold
the rest ("elsewhere").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from node.messages import MoneyStatistics, Statistics, TokenWire

Balances = Mapping[tuple[str, str, str], int]  # (owner, currency, "contract/token" or "")


def statistics(balances: Balances, bank_of: Mapping[str, str]) -> Statistics:
    """The statistics of `balances`; `bank_of` maps an owner key to the bank it counts for."""
    supply: dict[tuple[str, str], int] = defaultdict(int)
    by_bank: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    plain: dict[str, int] = defaultdict(int)
    earmarked: dict[str, int] = defaultdict(int)
    for (owner, currency, token), amount in balances.items():
        kind = (currency, token)
        supply[kind] += amount
        if (bank := bank_of.get(owner)) is not None:
            by_bank[kind][bank] += amount
        (earmarked if token else plain)[currency] += amount
    items = [MoneyStatistics(currency=currency, token=_token(token), supply_minor=total,
                             held_by_bank=dict(sorted(by_bank[(currency, token)].items())),
                             held_elsewhere_minor=total - sum(by_bank[(currency, token)].values()))
             for (currency, token), total in sorted(supply.items())]
    return Statistics(items=items, plain_minor=dict(sorted(plain.items())),
                      earmarked_minor=dict(sorted(earmarked.items())))


def _token(token: str) -> TokenWire | None:
    """The wire form of `table_balances`' "contract/token" key."""
    if not token:
        return None
    contract, _, name = token.partition("/")
    return TokenWire(contract=contract, token=name)
