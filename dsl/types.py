"""The types of the contract language and how they read in messages."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """What sort of value an expression has; the value is the word used in messages."""

    INT = "whole number"
    DECIMAL = "decimal number"
    PERCENT = "percentage"
    MONEY = "amount"
    DURATION = "duration"
    TIME = "point in time"
    STRING = "string"
    BOOL = "condition"
    ROLE = "role"
    CHANNEL = "channel"
    OPERATION = "operation"
    CURRENCY = "currency"
    SET = "set"
    EMPTY = "empty set element"  # the element type of `{}`: fits any set
    ERROR = "error"  # a value whose error was already reported; silences follow-on errors


@dataclass(frozen=True, slots=True)
class Type:
    """A type; money carries its currency, a set its element type."""

    kind: Kind
    currency: str | None = None
    element: Type | None = None

    def describe(self) -> str:
        """`an amount in KZT`, `a set of whole numbers`, `a role`."""
        if self.kind is Kind.MONEY:
            return f"an amount in {self.currency}"
        if self.kind is Kind.SET and self.element is not None:
            if self.element.kind is Kind.EMPTY:
                return "an empty set"
            return f"a set of {self.element.plural()}"
        article = "an" if self.kind.value[0] in "aeiou" else "a"
        return f"{article} {self.kind.value}"

    def plural(self) -> str:
        """`amounts in KZT`, `whole numbers`."""
        if self.kind is Kind.MONEY:
            return f"amounts in {self.currency}"
        if self.kind is Kind.SET:
            return "sets"
        return f"{self.kind.value}s"

    @property
    def is_error(self) -> bool:
        """Whether this is the silent error type."""
        return self.kind is Kind.ERROR


INT = Type(Kind.INT)
DECIMAL = Type(Kind.DECIMAL)
PERCENT = Type(Kind.PERCENT)
DURATION = Type(Kind.DURATION)
TIME = Type(Kind.TIME)
STRING = Type(Kind.STRING)
BOOL = Type(Kind.BOOL)
ROLE = Type(Kind.ROLE)
CHANNEL = Type(Kind.CHANNEL)
OPERATION = Type(Kind.OPERATION)
CURRENCY = Type(Kind.CURRENCY)
ERROR = Type(Kind.ERROR)
EMPTY_SET = Type(Kind.SET, element=Type(Kind.EMPTY))


def money(currency: str) -> Type:
    """The type of amounts in `currency`."""
    return Type(Kind.MONEY, currency=currency)


def set_of(element: Type) -> Type:
    """The type of sets of `element`."""
    return Type(Kind.SET, element=element)


ORDERED = frozenset({Kind.INT, Kind.DECIMAL, Kind.PERCENT, Kind.MONEY, Kind.DURATION, Kind.TIME})
NUMERIC = frozenset({Kind.INT, Kind.DECIMAL})
