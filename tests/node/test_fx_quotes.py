"""The FX quote arithmetic (`node.fx_quotes`): hand-worked examples and properties.

The examples are computed by hand in the comments beside them, across currencies with different
exponents (KHR and THB have 2 decimals, JPY none); the property tests draw random prices and
amounts and hold the fixed-destination answer to the forward formula.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.errors import NodeError
from node.fx_quotes import (
    AMOUNT_MINOR_MAX,
    Fixed,
    Pricing,
    Tier,
    credit_for,
    effective_rate,
    fee_for,
    fee_percent,
    price_destination,
    price_source,
    rate_at,
    spread_for,
)

# 1 KHR = 0.00875 THB; spread 0.5 %, fee 0.3 % but at least 10.00 KHR.
KHR_THB = Pricing("KHR", "THB", Decimal("0.00875"), Decimal("0.5"), (), Decimal("0.3"), 1_000)
# 1 JPY = 27.5 KHR; spread 0.8 %, 0.3 % better from 500 000 JPY; fee 0.2 %, at least 100 JPY.
JPY_KHR = Pricing("JPY", "KHR", Decimal("27.5"), Decimal("0.8"),
                  (Tier(500_000, Decimal("0.3")),), Decimal("0.2"), 100)
# 1 THB = 4.25 JPY; spread 1 %, fee 0.5 %, no minimum.
THB_JPY = Pricing("THB", "JPY", Decimal("4.25"), Decimal("1"), (), Decimal("0.5"), 0)


def test_khr_to_thb_with_a_fixed_source() -> None:
    """1 000 000.00 KHR: fee 3 000.00 KHR, rate 0.00875 x 0.995, credit rounded down."""
    priced = price_source(KHR_THB, 100_000_000)
    assert priced.fee_minor == 300_000  # ceil(100 000 000 x 0.003)
    assert priced.rate == Decimal("0.00870625")  # 0.00875 x (1 - 0.005)
    # (100 000 000 - 300 000) x 0.00870625 = 868 013.125 -> 868 013 (8 680.13 THB)
    assert priced.destination_minor == 868_013
    assert priced.fixed is Fixed.SOURCE
    assert effective_rate(100_000_000, "KHR", 868_013, "THB") == Decimal("0.00868013")


def test_the_minimum_fee_applies_to_small_amounts() -> None:
    """2 000.00 KHR would pay 6.00 KHR at 0.3 %; the minimum of 10.00 KHR applies instead."""
    priced = price_source(KHR_THB, 200_000)
    assert priced.fee_minor == 1_000
    # 199 000 x 0.00870625 = 1 732.54375 -> 1 732 (17.32 THB)
    assert priced.destination_minor == 1_732


def test_khr_to_thb_with_a_fixed_destination() -> None:
    """8 680.13 THB costs 999 999.86 KHR: one KHR minor unit less would credit 8 680.12 THB."""
    priced = price_destination(KHR_THB, 868_013)
    # fee ceil(299 999.958) = 300 000; 99 699 986 x 0.00870625 = 868 013.0031 -> 868 013
    assert priced.source_minor == 99_999_986
    assert priced.destination_minor == 868_013
    assert priced.fee_minor == 300_000
    assert priced.fixed is Fixed.DESTINATION
    # 99 699 985 x 0.00870625 = 868 012.994 -> 868 012
    assert credit_for(KHR_THB, 99_999_985) == 868_012


def test_jpy_to_khr_across_exponents_and_tiers() -> None:
    """Yen have no decimals and riel two: 100 000 JPY at 27.28 credit 2 722 544.00 KHR."""
    below = price_source(JPY_KHR, 100_000)
    assert (below.fee_minor, below.rate) == (200, Decimal("27.28"))  # 27.5 x 0.992
    assert below.destination_minor == 99_800 * 2_728  # 272 254 400 = 2 722 544.00 KHR
    tiered = price_source(JPY_KHR, 500_000)
    assert tiered.spread_percent == Decimal("0.5")  # 0.8 - 0.3
    assert tiered.rate == Decimal("27.3625")
    # (500 000 - 1 000) x 27.3625 x 100 = 1 365 388 750
    assert tiered.destination_minor == 1_365_388_750


def test_a_fixed_destination_at_a_tier_boundary_pays_into_the_better_tier() -> None:
    """499 999 JPY credit 1 361 269 272 KHR minor units (base rate); a little more needs the
    tier, whose first amount is then the least source."""
    assert credit_for(JPY_KHR, 499_999) == 498_999 * 2_728
    priced = price_destination(JPY_KHR, 1_362_000_000)
    assert priced.source_minor == 500_000
    assert priced.spread_percent == Decimal("0.5")


def test_the_least_yen_for_one_riel_minor_unit_covers_the_minimum_fee() -> None:
    """0.01 KHR needs 1 JPY after the 100 JPY minimum fee: 101 JPY."""
    assert price_destination(JPY_KHR, 1).source_minor == 101


def test_thb_to_jpy_rounds_down_into_yen() -> None:
    """10 000.00 THB: fee 50.00 THB, 9 950.00 THB x 4.2075 = 41 864.625 JPY -> 41 864 JPY."""
    priced = price_source(THB_JPY, 1_000_000)
    assert (priced.fee_minor, priced.rate) == (5_000, Decimal("4.2075"))
    assert priced.destination_minor == 41_864
    # 1.00 THB: fee ceil(0.5) = 1 minor unit; 0.99 THB x 4.2075 = 4.165 -> 4 JPY
    assert price_source(THB_JPY, 100).destination_minor == 4


def test_thb_to_jpy_with_a_fixed_destination() -> None:
    """41 864 JPY need a net of ceil(41 864 / 0.042075) = 994 986 THB minor units, so a source
    of ceil(994 986 / 0.995) = 999 986."""
    assert price_destination(THB_JPY, 41_864).source_minor == 999_986


def test_fees_round_up_and_credits_round_down() -> None:
    """A fee of 0.5 % of 1 minor unit is a whole unit; what is left buys nothing and is
    refused."""
    assert fee_for(THB_JPY, 1) == 1
    with pytest.raises(NodeError) as refused:
        price_source(THB_JPY, 1)
    assert refused.value.problem.code == "amount_too_small"


def test_the_spread_never_goes_below_zero() -> None:
    """An improvement larger than the base spread leaves the reference rate itself."""
    generous = Pricing("KHR", "THB", Decimal("0.00875"), Decimal("0.2"),
                       (Tier(10, Decimal("0.5")),), Decimal("0"), 0)
    assert spread_for(generous, 9) == Decimal("0.2")
    assert spread_for(generous, 10) == Decimal(0)
    assert price_source(generous, 10_000).rate == Decimal("0.00875")


def test_non_positive_amounts_are_refused() -> None:
    """Zero and negative amounts are refused with a stable code in both directions."""
    for price in (price_source, price_destination):
        with pytest.raises(NodeError) as refused:
            price(KHR_THB, 0)
        assert refused.value.problem.code == "amount_not_positive"


def test_the_fee_percent_a_contract_reads_is_rounded_up() -> None:
    """1 of 3 minor units is 33.3333... %, shown as 33.3334 % so a cap is never understated."""
    assert fee_percent(1, 3) == Decimal("33.3334")
    assert fee_percent(300_000, 100_000_000) == Decimal("0.3000")


# ---- properties ------------------------------------------------------------------------------

CURRENCIES = ("KHR", "THB", "JPY", "USD", "BHD")  # exponents 2, 2, 0, 2, 3


@st.composite
def pricings(draw: st.DrawFn) -> Pricing:
    """A corridor's prices within what a provider's configuration allows."""
    source, destination = draw(st.lists(st.sampled_from(CURRENCIES), min_size=2, max_size=2,
                                        unique=True))
    reference = Decimal(draw(st.integers(1, 10**9))).scaleb(-draw(st.integers(0, 9)))
    spread = Decimal(draw(st.integers(0, 500))).scaleb(-2)  # 0 to 5 %
    starts = sorted(draw(st.sets(st.integers(1, 10**9), max_size=3)))
    improvements = sorted(Decimal(draw(st.integers(0, 300))).scaleb(-2) for _ in starts)
    tiers = tuple(Tier(start, gain) for start, gain in zip(starts, improvements, strict=True))
    fee = Decimal(draw(st.integers(0, 500))).scaleb(-2)
    return Pricing(source, destination, reference, spread, tiers, fee,
                   draw(st.integers(0, 10_000)))


@settings(max_examples=300, deadline=None)
@given(pricings(), st.integers(1, 10**12))
def test_the_fixed_destination_source_is_the_least_that_credits_enough(
        pricing: Pricing, destination_minor: int) -> None:
    """For any prices and amount, the forward formula on the computed source credits at least
    the destination, and on one minor unit less it credits less; a destination refused as too
    large is one that even the largest amount cannot buy."""
    try:
        source = price_destination(pricing, destination_minor).source_minor
    except NodeError as refused:
        assert refused.problem.code == "amount_too_large"
        assert credit_for(pricing, AMOUNT_MINOR_MAX) < destination_minor
        return
    assert credit_for(pricing, source) >= destination_minor
    assert source == 1 or credit_for(pricing, source - 1) < destination_minor


@settings(max_examples=200, deadline=None)
@given(pricings(), st.integers(1, 10**12))
def test_a_fixed_source_follows_the_formula_exactly(pricing: Pricing, source_minor: int) -> None:
    """fee = max(minimum, ceil(source x fee %)); credit = floor((source - fee) x rate), checked
    with the rate rebuilt from the reference and the spread."""
    fee = fee_for(pricing, source_minor)
    assert fee >= pricing.fee_minimum_minor
    assert fee * 100 >= source_minor * pricing.fee_percent
    rate = rate_at(pricing.reference_rate, spread_for(pricing, source_minor))
    assert rate <= pricing.reference_rate
    credit = credit_for(pricing, source_minor)
    if credit > 0:
        priced = price_source(pricing, source_minor)
        assert (priced.destination_minor, priced.fee_minor, priced.rate) == (credit, fee, rate)


@settings(max_examples=200, deadline=None)
@given(pricings(), st.integers(1, 10**11))
def test_more_source_never_credits_less(pricing: Pricing, source_minor: int) -> None:
    """The credit is monotone in the source, the premise of the fixed-destination search."""
    assert credit_for(pricing, source_minor + 1) >= credit_for(pricing, source_minor)
