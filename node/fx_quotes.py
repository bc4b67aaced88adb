"""FX quote arithmetic: rates, spreads by amount tier, fees, and both directions of a conversion.

Money is integers of minor units; rates are exact decimals (units of the destination currency per
unit of the source currency, in major units, as central banks publish them). Every rounding goes
the provider's way by at most one minor unit and is stated here once:

* rate = reference x (1 - spread), spread = base spread - tier improvement, never below 0;
* fee = max(minimum fee, ceil(source x fee %)), in the source currency;
* destination = floor((source - fee) x rate), converted between the currencies' exponents.

With the destination fixed, exactly that destination is credited and the source is the smallest
amount whose destination by the formula above is at least the one asked; the source is verified
by the forward formula before it is used, so the two directions can never disagree. Arithmetic
runs on `Fraction`: exact at any size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal, localcontext
from enum import StrEnum
from fractions import Fraction
from functools import lru_cache
from typing import Final

from dsl.money import exponent
from engine.errors import InvariantViolation
from node.errors import unprocessable

AMOUNT_MINOR_MAX: Final = 2**63 - 1  # the largest amount the ledger stores
TIERS_MAX: Final = 16  # amount tiers of one corridor
EFFECTIVE_RATE_DIGITS: Final = 12  # significant digits of the effective rate shown to senders
FEE_PERCENT_PLACES: Final = 4  # decimals of the effective fee %, rounded up (never understated)
_EXACT_DIGITS: Final = 80  # precision under which a Decimal of ours is always exact
_HUNDRED: Final = Fraction(100)
RATES_KEPT_MAX: Final = 1_024  # (reference, spread) pairs and currency pairs kept computed


class Fixed(StrEnum):
    """Which side of the conversion the sender fixed."""

    SOURCE = "source"
    DESTINATION = "destination"


@dataclass(frozen=True, slots=True)
class Tier:
    """From `from_minor` of the source currency on, the spread is `improvement_percent` less."""

    from_minor: int
    improvement_percent: Decimal


@dataclass(frozen=True, slots=True)
class Pricing:
    """How one provider prices one corridor; percentages are in percent (0.75 means 0.75 %)."""

    source: str
    destination: str
    reference_rate: Decimal
    spread_percent: Decimal
    tiers: tuple[Tier, ...]  # ascending `from_minor`, non-decreasing improvement
    fee_percent: Decimal
    fee_minimum_minor: int


@dataclass(frozen=True, slots=True)
class Priced:
    """One conversion priced: both amounts, the fee, and the rate and spread that applied."""

    fixed: Fixed
    source_minor: int
    destination_minor: int
    fee_minor: int
    spread_percent: Decimal
    rate: Decimal


def spread_for(pricing: Pricing, source_minor: int) -> Decimal:
    """The spread in percent for converting `source_minor`: the base less its tier's part."""
    improvement = Decimal(0)
    for tier in pricing.tiers:
        if tier.from_minor > source_minor:
            break
        improvement = tier.improvement_percent
    return max(Decimal(0), pricing.spread_percent - improvement)


@lru_cache(maxsize=RATES_KEPT_MAX)  # pure, and asked several times for every quote
def rate_at(reference_rate: Decimal, spread_percent: Decimal) -> Decimal:
    """reference x (1 - spread), exact."""
    return _exact(Fraction(reference_rate) * (1 - Fraction(spread_percent) / _HUNDRED))


def fee_for(pricing: Pricing, source_minor: int) -> int:
    """max(minimum fee, ceil(source x fee %)), in minor units of the source currency."""
    proportional = math.ceil(source_minor * Fraction(pricing.fee_percent) / _HUNDRED)
    return max(pricing.fee_minimum_minor, proportional)


def convert_minor(net_minor: int, rate: Decimal, source: str, destination: str) -> int:
    """floor(net x rate) in the destination's minor units: what `net_minor` of `source` buys."""
    return math.floor(net_minor * Fraction(rate) * _scale(source, destination))


def credit_for(pricing: Pricing, source_minor: int) -> int:
    """The forward formula: what the destination receives when `source_minor` is debited."""
    rate = rate_at(pricing.reference_rate, spread_for(pricing, source_minor))
    net = source_minor - fee_for(pricing, source_minor)
    return convert_minor(net, rate, pricing.source, pricing.destination) if net > 0 else 0


def price_source(pricing: Pricing, source_minor: int) -> Priced:
    """Price a conversion whose source amount is fixed."""
    _require_amount(source_minor, pricing.source)
    spread = spread_for(pricing, source_minor)
    destination = credit_for(pricing, source_minor)
    if destination <= 0:
        raise unprocessable("amount_too_small", f"{source_minor} minor units of "
                            f"{pricing.source} do not cover the fee and buy nothing")
    return Priced(Fixed.SOURCE, source_minor, destination, fee_for(pricing, source_minor),
                  spread, rate_at(pricing.reference_rate, spread))


def price_destination(pricing: Pricing, destination_minor: int) -> Priced:
    """Price a conversion whose destination amount is fixed: the least source that yields it."""
    _require_amount(destination_minor, pricing.destination)
    source = _least_source(pricing, destination_minor)
    if source > AMOUNT_MINOR_MAX:
        raise unprocessable("amount_too_large", f"{destination_minor} minor units of "
                            f"{pricing.destination} would cost more than the ledger can hold")
    _verify_least(pricing, source, destination_minor)
    spread = spread_for(pricing, source)
    # The sender fixed what is credited: the fraction of a minor unit the least source buys
    # beyond it stays with the provider, like every other rounding.
    return Priced(Fixed.DESTINATION, source, destination_minor, fee_for(pricing, source),
                  spread, rate_at(pricing.reference_rate, spread))


def effective_rate(source_minor: int, source: str, destination_minor: int,
                   destination: str) -> Decimal:
    """Destination credited per unit of source debited, in major units, rounded down."""
    ratio = Fraction(destination_minor, source_minor) / _scale(source, destination)
    with localcontext() as context:
        context.prec = EFFECTIVE_RATE_DIGITS
        context.rounding = ROUND_DOWN
        return Decimal(ratio.numerator) / Decimal(ratio.denominator)


def fee_percent(fee_minor: int, source_minor: int) -> Decimal:
    """The fees as a percentage of the source, rounded up: what a contract's `quote.fee` reads."""
    ratio = Fraction(fee_minor * 100, source_minor)
    with localcontext() as context:
        context.prec = _EXACT_DIGITS
        exact = Decimal(ratio.numerator) / Decimal(ratio.denominator)
        return exact.quantize(Decimal(1).scaleb(-FEE_PERCENT_PLACES), rounding=ROUND_CEILING)


# ---- the least source for a fixed destination ------------------------------------------------


def _least_source(pricing: Pricing, destination_minor: int) -> int:
    """The smallest source whose credit is at least `destination_minor`.

    The credit never decreases with the source (the net grows by 0 or 1 per minor unit, and a
    higher tier only improves the rate), so the first tier, in ascending order, whose own least
    source falls inside it holds the answer.
    """
    starts = [1, *(tier.from_minor for tier in pricing.tiers)]
    ends = [*starts[1:], None]
    for start, end in zip(starts, ends, strict=True):
        rate = rate_at(pricing.reference_rate, spread_for(pricing, start))
        candidate = max(start, _least_source_at(pricing, rate, destination_minor))
        if end is None or candidate < end:
            return candidate
    raise InvariantViolation("the last tier is unbounded; the loop always returns")


def _least_source_at(pricing: Pricing, rate: Decimal, destination_minor: int) -> int:
    """The least source at one rate: its net after fees must buy `destination_minor`.

    net = source - max(minimum, ceil(source x f)) >= needed holds exactly when both
    source - minimum >= needed and floor(source x (1 - f)) >= needed.
    """
    per_net = Fraction(rate) * _scale(pricing.source, pricing.destination)
    needed = math.ceil(destination_minor / per_net)
    kept = 1 - Fraction(pricing.fee_percent) / _HUNDRED
    return max(needed + pricing.fee_minimum_minor, math.ceil(needed / kept))


def _verify_least(pricing: Pricing, source_minor: int, destination_minor: int) -> None:
    """Check the computed source by the forward formula: enough, and one unit less is not."""
    if credit_for(pricing, source_minor) < destination_minor:
        raise InvariantViolation(f"{source_minor} {pricing.source} minor units credit less than "
                                 f"{destination_minor} {pricing.destination}")
    if source_minor > 1 and credit_for(pricing, source_minor - 1) >= destination_minor:
        raise InvariantViolation(f"{source_minor} {pricing.source} minor units are not the "
                                 f"least that credit {destination_minor} {pricing.destination}")


# ---- small exact pieces ----------------------------------------------------------------------


@lru_cache(maxsize=RATES_KEPT_MAX)
def _scale(source: str, destination: str) -> Fraction:
    """Minor units of the destination per major unit, over those of the source."""
    return Fraction(10) ** (exponent(destination) - exponent(source))


def _exact(value: Fraction) -> Decimal:
    """A fraction with a terminating decimal expansion (ours: products of decimals) as Decimal."""
    with localcontext() as context:
        context.prec = _EXACT_DIGITS
        result = Decimal(value.numerator) / Decimal(value.denominator)
    if Fraction(result) != value:
        raise InvariantViolation(f"{value} has no exact decimal of {_EXACT_DIGITS} digits")
    return result


def _require_amount(amount_minor: int, currency: str) -> None:
    if not 0 < amount_minor <= AMOUNT_MINOR_MAX:
        raise unprocessable("amount_not_positive" if amount_minor <= 0 else "amount_too_large",
                            f"an amount of {currency} is 1 to {AMOUNT_MINOR_MAX} minor units, "
                            f"not {amount_minor}")
