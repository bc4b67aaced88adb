"""The facts a condition may read, their types, and the runtime values the evaluator receives.

The engine (or `earmark explain`, or an example) builds a `Facts` value for each transaction and a
`Usage` value with the totals the store keeps for limits. Every fact always has a value, so that
evaluation is total: a receiver that is not a merchant has `mcc` 0, which no MCC set contains.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from operator import attrgetter
from typing import Final

from dsl import types
from dsl.types import Type

OPERATIONS: Final = (
    "issue", "label", "distribute", "transfer", "purchase", "cash_out", "convert", "return",
    "redeem",
)
# Operations in which a holder spends earmarked money: the ones that limits count.
SPENDING_OPERATIONS: Final = frozenset({"transfer", "purchase", "cash_out", "convert"})
# Operations after which the receiver holds the token, so `hold at most` applies.
HOLDING_OPERATIONS: Final = frozenset({"distribute", "transfer"})
RELEASE_OPERATIONS: Final = frozenset({"purchase", "cash_out"})
ROLES: Final = ("individual", "merchant", "bank", "agency", "fx_provider", "central_bank")
CHANNELS: Final = ("online", "offline", "qr", "nfc")
PERIODS: Final = ("day", "week", "month")


@dataclass(frozen=True, slots=True)
class Party:
    """One side of a transaction as the contract sees it."""

    id: str = ""
    role: str = "individual"
    kyc: int = 0
    bank: str = ""
    region: str = ""
    mcc: int = 0


@dataclass(frozen=True, slots=True)
class Quote:
    """An FX quote for `convert`; spread and fee are in percent (0.75 means 0.75 %)."""

    provider: str
    target: str
    rate: Decimal = Decimal(0)
    spread: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    age_s: int = 0


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything a contract may know about one transaction. Times are seconds since the epoch."""

    operation: str
    amount_minor: int
    currency: str
    sender: Party
    receiver: Party
    channel: str = "online"
    now_s: int = 0
    issued_at_s: int = 0
    quote: Quote | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Totals kept by the caller for limits, in minor units of the token's currency.

    `wallet_*` is what the sending wallet already spent of this token in the current period;
    `merchant_*` what the receiving merchant already accepted of it; `receiver_held` what the
    receiving wallet holds of it now.
    """

    wallet_day: int = 0
    wallet_week: int = 0
    wallet_month: int = 0
    merchant_day: int = 0
    merchant_week: int = 0
    merchant_month: int = 0
    receiver_held: int = 0


USAGE_KEYS: Final = (
    *(f"{scope}.{period}" for scope in ("wallet", "merchant") for period in PERIODS),
    "receiver.held",
)


def usage_field(key: str) -> str:
    """`wallet.month` → the `Usage` field `wallet_month`."""
    return key.replace(".", "_")


Getter = Callable[[Facts], object]


@dataclass(frozen=True, slots=True)
class FactSpec:
    """One readable fact: its type, how to read it, and the operations it exists for."""

    type: Type | None  # None: money in the token's currency (`amount`)
    read: Getter
    operations: frozenset[str] | None = None  # None: every operation


def _age(facts: Facts) -> object:
    return facts.now_s - facts.issued_at_s


_PARTY_FACTS: Final = {
    "id": types.STRING, "role": types.ROLE, "kyc": types.INT, "bank": types.STRING,
    "region": types.STRING,
}
_CONVERT = frozenset({"convert"})


def _schema() -> dict[str, FactSpec]:
    schema = {
        "op": FactSpec(types.OPERATION, attrgetter("operation")),
        "amount": FactSpec(None, attrgetter("amount_minor")),
        "channel": FactSpec(types.CHANNEL, attrgetter("channel")),
        "now": FactSpec(types.TIME, attrgetter("now_s")),
        "token.issued_at": FactSpec(types.TIME, attrgetter("issued_at_s")),
        "token.age": FactSpec(types.DURATION, _age),
        "quote.provider": FactSpec(types.STRING, attrgetter("quote.provider"), _CONVERT),
        "quote.target": FactSpec(types.CURRENCY, attrgetter("quote.target"), _CONVERT),
        "quote.rate": FactSpec(types.DECIMAL, attrgetter("quote.rate"), _CONVERT),
        "quote.spread": FactSpec(types.PERCENT, attrgetter("quote.spread"), _CONVERT),
        "quote.fee": FactSpec(types.PERCENT, attrgetter("quote.fee"), _CONVERT),
        "quote.age": FactSpec(types.DURATION, attrgetter("quote.age_s"), _CONVERT),
    }
    for side in ("sender", "receiver"):
        for name, fact_type in _PARTY_FACTS.items():
            schema[f"{side}.{name}"] = FactSpec(fact_type, attrgetter(f"{side}.{name}"))
    schema["receiver.mcc"] = FactSpec(types.INT, attrgetter("receiver.mcc"))
    return schema


FACTS: Final = _schema()
# What an example's party may say about itself (its role is the party's name), with its type.
PARTY_FIELDS: Final = {**{k: v for k, v in _PARTY_FACTS.items() if k != "role"}, "mcc": types.INT}
QUOTE_FIELDS: Final = {
    "rate": types.DECIMAL, "spread": types.PERCENT, "fee": types.PERCENT, "age": types.DURATION,
}


def default_sender(operation: str, issuer: str) -> Party:
    """Who sends when an example or `explain` does not say: the issuer or a holder."""
    if operation in {"issue", "label", "distribute"}:
        return Party(id=issuer, role="agency")
    return Party(id="holder", role="individual", kyc=1)


def default_receiver(operation: str, issuer: str, provider: str = "") -> Party:
    """Who receives when an example or `explain` does not say, by operation."""
    defaults = {
        "purchase": Party(id="merchant", role="merchant"),
        "cash_out": Party(id="bank", role="bank"),
        "return": Party(id=issuer, role="agency"),
        "convert": Party(id=provider or "fx-provider", role="fx_provider"),
        "redeem": Party(id="central-bank", role="central_bank"),
    }
    return defaults.get(operation, Party(id="recipient", role="individual", kyc=1))
