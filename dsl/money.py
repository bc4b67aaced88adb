"""Exact money: ISO 4217 currencies and their minor units, amounts as integers of minor units.

A literal such as `12.50 USD` becomes 1250 minor units; `12.505 USD` is refused because the US
dollar has two decimals. Floats never appear: the text goes straight to `decimal.Decimal`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import NewType

import iso4217

from dsl.errors import DslError

AmountMinor = NewType("AmountMinor", int)
CurrencyCode = NewType("CurrencyCode", str)


class MoneyError(DslError, ValueError):
    """A currency or amount that cannot be represented exactly; `reason` says which rule."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # "currency" or "decimals"


def _known_currencies() -> dict[str, int]:
    # Only currencies with a defined minor unit can be money here (XAU and XXX have none).
    return {c.code: c.exponent for c in iso4217.Currency if c.exponent is not None}


CURRENCY_EXPONENTS: dict[str, int] = _known_currencies()


def is_currency(code: str) -> bool:
    """Whether `code` is an ISO 4217 currency usable as money."""
    return code in CURRENCY_EXPONENTS


def exponent(currency: str) -> int:
    """How many decimals the currency has (JPY 0, KZT 2, BHD 3)."""
    if currency not in CURRENCY_EXPONENTS:
        raise MoneyError("currency", f"{currency!r} is not an ISO 4217 currency")
    return CURRENCY_EXPONENTS[currency]


def parse_number(text: str) -> Decimal:
    """A number as written in a contract (`200_000`, `0.75`) as an exact decimal."""
    try:
        return Decimal(text.replace("_", ""))
    except InvalidOperation:
        raise MoneyError("number", f"{text!r} is not a number") from None


def scale_exact(number: str, factor: int) -> int | None:
    """`number` times `factor` as an integer, or None when the product has a fraction.

    Exact at any size: `Decimal` arithmetic would round past 28 digits.
    """
    try:
        product = Fraction(number.replace("_", "")) * factor
    except (ValueError, ZeroDivisionError):
        raise MoneyError("number", f"{number!r} is not a number") from None
    return product.numerator if product.denominator == 1 else None


def to_minor(number: str, currency: str) -> AmountMinor:
    """`"12.50", "USD"` → 1250; refuses more decimals than the currency has."""
    places = exponent(currency)
    scaled = scale_exact(number, 10**places)
    if scaled is None:
        raise MoneyError(
            "decimals",
            f"{currency} has {places} decimal{'s' if places != 1 else ''}; {number} has more",
        )
    return AmountMinor(scaled)


def format_minor(amount_minor: int, currency: str) -> str:
    """1250, "USD" → `12.50 USD`, with `_` between thousands as contracts write them."""
    places = exponent(currency)
    sign = "-" if amount_minor < 0 else ""
    whole, fraction = divmod(abs(amount_minor), 10**places)
    text = f"{whole:_}"
    if places:
        text += f".{fraction:0{places}d}"
    return f"{sign}{text} {currency}"
