"""Currencies by their ISO 4217 numbers and amounts as exact decimals of them.

An EMVCo payload names its currency by the three-digit ISO 4217 number (`116` for the riel) and
writes the amount as text (`5000.0`). Amounts go straight from text to `Decimal` and to an
integer of minor units; a float never appears.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import NewType

import iso4217

AmountMinor = NewType("AmountMinor", int)

# Digits with an optional decimal point: "4.22", "5000.0", "180000" and "98." (EMVCo allows a
# trailing point). ASCII digits only, so that Decimal never sees other Unicode digits.
_AMOUNT = re.compile(r"[0-9]+(\.[0-9]*)?\Z")


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO 4217 currency: letters (`KHR`), three-digit number (`116`) and minor unit digits."""

    alpha: str
    numeric: str
    exponent: int


def _currencies() -> tuple[Currency, ...]:
    # Only currencies with a defined minor unit can carry an amount (XAU and XXX have none).
    return tuple(Currency(item.code, f"{item.number:03d}", item.exponent)
                 for item in iso4217.Currency if item.exponent is not None)


_BY_ALPHA = {currency.alpha: currency for currency in _currencies()}
_BY_NUMERIC = {currency.numeric: currency for currency in _currencies()}


def by_numeric(numeric: str) -> Currency | None:
    """The currency with this three-digit ISO 4217 number, or None."""
    return _BY_NUMERIC.get(numeric)


def by_alpha(alpha: str) -> Currency | None:
    """The currency with this ISO 4217 code (case-insensitive), or None."""
    return _BY_ALPHA.get(alpha.upper())


def parse_amount(text: str) -> Decimal | None:
    """The amount written in `text` as an exact decimal, or None when it is not one."""
    if not _AMOUNT.match(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def decimals_of(amount: Decimal) -> int:
    """How many digits `amount` has after the decimal point, trailing zeros not counted."""
    exponent = amount.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def to_minor(amount: Decimal, exponent: int) -> AmountMinor | None:
    """`amount` in minor units of a currency with `exponent` decimals, or None if it has more."""
    if decimals_of(amount) > exponent:
        return None
    return AmountMinor(int(amount.scaleb(exponent)))


def format_amount(amount: Decimal, decimals: int) -> str:
    """`amount` written with exactly `decimals` digits after the point (none when 0).

    The caller has checked that the amount has no more decimals than that, so this only pads.
    """
    return f"{amount:.{decimals}f}"
