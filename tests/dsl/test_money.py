"""Exact money: ISO 4217 minor units, amounts as integers, refusals instead of rounding."""

from __future__ import annotations

import pytest

from dsl.money import (
    CURRENCY_EXPONENTS,
    MoneyError,
    exponent,
    format_minor,
    is_currency,
    parse_number,
    to_minor,
)
from dsl.phases import CompiledContract


@pytest.mark.parametrize(
    ("currency", "places"),
    [("JPY", 0), ("VND", 0), ("KZT", 2), ("KHR", 2), ("USD", 2), ("THB", 2), ("BHD", 3),
     ("KWD", 3)],
)
def test_currency_exponents(currency: str, places: int) -> None:
    """Each currency has its ISO 4217 number of decimals: ask `exponent` for a few known ones."""
    assert exponent(currency) == places
    assert CURRENCY_EXPONENTS[currency] == places
    assert is_currency(currency)


@pytest.mark.parametrize("code", ["XAU", "XXX", "QQQ", "kzt", "", "KZTT"])
def test_codes_without_minor_units_are_not_money(code: str) -> None:
    """Metals, XXX and non-codes are no money: `is_currency` is false and `exponent` raises."""
    assert not is_currency(code)
    with pytest.raises(MoneyError) as raised:
        exponent(code)
    assert raised.value.reason == "currency"


@pytest.mark.parametrize(
    ("number", "currency", "minor"),
    [
        ("12.50", "USD", 1250),
        ("12.5", "USD", 1250),
        ("12.500", "USD", 1250),  # trailing zeros add no precision
        ("200_000", "KZT", 20_000_000),
        ("1", "BHD", 1000),
        ("0.001", "BHD", 1),
        ("1_000", "JPY", 1000),
        ("35_000", "VND", 35_000),
        ("0", "KHR", 0),
        ("4_000_000.99", "KHR", 400_000_099),
    ],
)
def test_to_minor_scales_exactly(number: str, currency: str, minor: int) -> None:
    """Literal text becomes whole minor units: convert and compare with the hand-computed value."""
    result = to_minor(number, currency)
    assert result == minor
    assert type(result) is int


@pytest.mark.parametrize(
    ("number", "currency"),
    [("12.505", "USD"), ("0.5", "JPY"), ("1.1", "VND"), ("0.0001", "BHD"), ("1.234", "KZT")],
)
def test_to_minor_refuses_more_decimals_than_the_currency_has(number: str, currency: str) -> None:
    """A fraction of a minor unit is refused with reason `decimals`, never rounded."""
    with pytest.raises(MoneyError) as raised:
        to_minor(number, currency)
    assert raised.value.reason == "decimals"
    assert f"{currency} has {exponent(currency)} decimal" in str(raised.value)


@pytest.mark.parametrize(
    ("number", "exact"),
    [
        ("99999999999999999999999999999", 9_999_999_999_999_999_999_999_999_999_900),
        ("1234567890123456789012345678.91", 123_456_789_012_345_678_901_234_567_891),
    ],
)
def test_to_minor_never_rounds_long_amounts(number: str, exact: int) -> None:
    """Past the default 28-digit decimal precision an amount is scaled exactly or refused."""
    try:
        result = to_minor(number, "KZT")
    except MoneyError:
        return
    assert result == exact


def test_parse_number_refuses_non_numbers() -> None:
    """Text that is no number raises `MoneyError` with reason `number` (not a bare ValueError)."""
    assert parse_number("1_000.25") == parse_number("1000.25")
    with pytest.raises(MoneyError) as raised:
        parse_number("twelve")
    assert raised.value.reason == "number"


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (1250, "USD", "12.50 USD"),
        (123_456_789, "KZT", "1_234_567.89 KZT"),
        (5, "KZT", "0.05 KZT"),
        (-5, "KZT", "-0.05 KZT"),
        (-123_456, "KZT", "-1_234.56 KZT"),
        (1000, "JPY", "1_000 JPY"),
        (0, "JPY", "0 JPY"),
        (1, "BHD", "0.001 BHD"),
        (1_234_567, "BHD", "1_234.567 BHD"),
        (20_000_000, "KZT", "200_000.00 KZT"),
    ],
)
def test_format_minor(minor: int, currency: str, text: str) -> None:
    """Minor units print as a contract writes them: `_` thousands, all decimals, the code last."""
    assert format_minor(minor, currency) == text


def test_format_minor_refuses_unknown_currency() -> None:
    """Formatting in a non-currency raises `MoneyError` rather than guessing two decimals."""
    with pytest.raises(MoneyError):
        format_minor(100, "QQQ")


@pytest.mark.parametrize(("literal", "currency"), [("1.5 JPY", "JPY"), ("0.0005 BHD", "BHD"),
                                                   ("10.001 KZT", "KZT")])
def test_contracts_refuse_literals_with_too_many_decimals(literal: str, currency: str) -> None:
    """The compiler reports E0204 for such a literal: compile a rule that uses it."""
    source = (
        f'contract c version 1\ntoken T {{\n  currency {currency}\n  issuer "a"\n}}\n'
        f"policy T {{\n  allow purchase when amount <= {literal}\n}}\n"
    )
    codes = [d.code.code for d in CompiledContract(source).diagnostics]
    assert codes == ["E0204"]
