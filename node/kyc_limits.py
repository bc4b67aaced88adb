"""Daily spending limits by KYC tier: Bakong's default of USD 250 a day at tier 1, in any currency.

The defaults are the equivalents of fixed USD amounts at reference rates written here; a bank
sets its own per currency and tier in its configuration (`daily_limits`), and a customer's limit
rises when the bank re-verifies them to a higher tier.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from dsl.money import exponent
from node.errors import NodeError

KYC_TIERS: Final = (0, 1, 2, 3)
USD_PER_DAY_BY_TIER: Final = (50, 250, 2_500, 25_000)
# Units of each currency per US dollar, rounded: reference values for defaults only.
UNITS_PER_USD: Final = {
    "USD": Decimal(1), "KHR": Decimal(4_100), "THB": Decimal(36), "KZT": Decimal(500),
    "JPY": Decimal(150), "MYR": Decimal("4.5"), "VND": Decimal(25_000), "SGD": Decimal("1.35"),
    "CNY": Decimal("7.2"), "EUR": Decimal("0.92"), "LAK": Decimal(21_000),
}


def default_daily_limits(currency: str) -> list[int]:
    """Minor units per tier equivalent to `USD_PER_DAY_BY_TIER` in `currency`."""
    rate = UNITS_PER_USD.get(currency)
    if rate is None:
        raise NodeError(400, "config_invalid", "No default limit",
                        f"set daily_limits.{currency} in the configuration: there is no "
                        "reference rate for it")
    scale = 10 ** exponent(currency)
    return [int(usd * rate * scale) for usd in USD_PER_DAY_BY_TIER]
