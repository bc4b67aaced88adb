"""Amounts in ISO 20022: an integer of minor units and an ISO 4217 currency, never a float.

On the wire an amount is `<IntrBkSttlmAmt Ccy="KHR">1500.00</IntrBkSttlmAmt>`: a decimal with the
currency as an attribute. The XSD allows up to five decimals whatever the currency; the bridge
allows only as many as the currency has (ISO 4217 minor units: JPY 0, KHR and USD 2, KWD 3), so
`100.5 JPY` is refused (I0302) rather than rounded, and so is `100.0 JPY`: decimals are counted
as written. Writing always gives exactly that many
decimals, so 1500 minor units of KHR are `15.00` and of JPY `1500`.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridges.iso20022.elements import Node
from bridges.iso20022.errors import AMOUNT_DECIMALS, UNKNOWN_CURRENCY, refuse
from bridges.iso20022.limits import AMOUNT_MINOR_MAX
from dsl.money import CURRENCY_EXPONENTS
from engine.ids import AmountMinor, CurrencyCode


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: `amount_minor` units of the currency's smallest unit."""

    amount_minor: AmountMinor
    currency: CurrencyCode


def money(amount_minor: int, currency: str) -> Money:
    """`Money` from a plain int and str (`money(1500, "KHR")` is 15.00 KHR)."""
    return Money(AmountMinor(amount_minor), CurrencyCode(currency))


def amount_text(amount: Money, field: str) -> str:
    """The decimal text of `amount`, with exactly as many decimals as its currency has."""
    places = _exponent_for_writing(amount.currency, field)
    if not 0 <= amount.amount_minor <= AMOUNT_MINOR_MAX:
        raise refuse(field, f"{amount.amount_minor} minor units; amounts run from 0 to "
                            f"{AMOUNT_MINOR_MAX}")
    if places == 0:
        return str(amount.amount_minor)
    whole, fraction = divmod(amount.amount_minor, 10**places)
    return f"{whole}.{fraction:0{places}d}"


def read_money(node: Node) -> Money:
    """The amount of an `…Amt` element and its `Ccy` attribute, refusing extra decimals.

    The decimals are counted as written: `100.0 JPY` is refused like `100.5 JPY`.
    """
    currency = node.attribute("Ccy")
    places = CURRENCY_EXPONENTS.get(currency)
    if places is None:
        raise node.fail(UNKNOWN_CURRENCY,
                        f"{currency!r} is not an ISO 4217 currency with minor units")
    text = node.value.strip()
    written = len(text.partition(".")[2])
    if written > places:
        raise node.fail(AMOUNT_DECIMALS, f"{text} {currency} has {written} decimals; {currency} "
                                         f"has {places}")
    return Money(AmountMinor(int(node.as_decimal().scaleb(places))), CurrencyCode(currency))


def _exponent_for_writing(currency: str, field: str) -> int:
    places = CURRENCY_EXPONENTS.get(currency)
    if places is None:
        raise refuse(field, f"{currency!r} is not an ISO 4217 currency with minor units")
    return places

