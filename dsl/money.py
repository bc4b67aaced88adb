"""Exact money: ISO 4217 currencies and their minor units, amounts as integers of minor units.

A literal such as `12.50 USD` becomes 1250 minor units; `12.505 USD` is refused because the US
dollar has two decimals. Floats never appear: the text goes straight to `decimal.Decimal`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import NewType

import iso4217

AmountMinor = NewType("AmountMinor", int)
CurrencyCode = NewType("CurrencyCode", str)


class MoneyError(ValueError):
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


def to_minor(number: str, currency: str) -> AmountMinor:
    """`"12.50", "USD"` → 1250; refuses more decimals than the currency has."""
    places = exponent(currency)
    scaled = parse_number(number).scaleb(places)
    if scaled != scaled.to_integral_value():
        raise MoneyError(
            "decimals",
            f"{currency} has {places} decimal{'s' if places != 1 else ''}; {number} has more",
        )
    return AmountMinor(int(scaled))


def format_minor(amount_minor: int, currency: str) -> str:
    """1250, "USD" → `12.50 USD`, with `_` between thousands as contracts write them."""
    places = exponent(currency)
    sign = "-" if amount_minor < 0 else ""
    whole, fraction = divmod(abs(amount_minor), 10**places)
    text = f"{whole:_}"
    if places:
        text += f".{fraction:0{places}d}"
    return f"{sign}{text} {currency}"
