"""The bodies of an FX provider's HTTP API: quote requests, quotes and the rate sheet (pydantic).

Rates and percentages travel as decimal strings (`"0.0086625"`, `"0.75"`), never as JSON numbers,
so no float ever touches them; amounts are integers of minor units. A quote is signed by the
provider's key over its canonical bytes (`quote_signing_bytes`), so the hub can show later what
the provider offered.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Final, Literal

import orjson
from pydantic import BaseModel, Field

from dsl.money import format_minor
from node.fx_quotes import Fixed
from node.messages import AmountMinor, Currency, Hex64, Name, SignatureHex, Strict

DecimalText = Annotated[str, Field(pattern=r"^[0-9]{1,30}(\.[0-9]{1,30})?$",
                                   description="a decimal number written as a string")]
QuoteId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$", description="128 random bits, hex")]
FeeKind = Literal["provider"]
QUOTE_DOMAIN: Final = b"earmark/fx-quote/v1\n"
FEES_MAX: Final = 8  # fee lines of one quote
CORRIDORS_MAX: Final = 64  # corridors one provider serves
EPOCH_S_MAX: Final = 7_258_118_400  # 2200-01-01: a time past it is an error, not a date


class QuoteRequest(Strict):
    """Ask for a quote: the pair, which side the sender fixes, and that side's amount."""

    source_currency: Currency
    destination_currency: Currency
    fixed: Fixed
    amount_minor: AmountMinor


class MoneyWire(BaseModel):
    """An amount of one currency, in minor units."""

    currency: Currency
    amount_minor: int


class FeeWire(BaseModel):
    """One fee the sender pays, in the currency it is charged in."""

    kind: FeeKind
    amount_minor: int
    currency: Currency


class QuoteWire(BaseModel):
    """A firm quote until `expires_at_s` (provider clock): what is debited and credited."""

    id: QuoteId
    provider: Name
    provider_key: Hex64
    source: MoneyWire
    destination: MoneyWire
    fixed: Fixed
    rate: DecimalText = Field(description="destination per source, major units, after spread")
    reference_rate: DecimalText
    spread_percent: DecimalText
    fees: list[FeeWire] = Field(max_length=FEES_MAX)
    fee_percent: DecimalText = Field(description="all fees over the source, rounded up")
    effective_rate: DecimalText = Field(description="destination credited per source debited")
    created_at_s: int = Field(ge=0, le=EPOCH_S_MAX)
    expires_at_s: int = Field(ge=0, le=EPOCH_S_MAX)
    signature: SignatureHex

    def lines(self) -> list[str]:
        """What the sender sees before approving: debited, credited, effective rate, every fee."""
        source, destination = self.source.currency, self.destination.currency
        lines = [f"debited: {format_minor(self.source.amount_minor, source)}",
                 f"credited: {format_minor(self.destination.amount_minor, destination)}",
                 f"effective rate: 1 {source} = {self.effective_rate} {destination}"]
        lines += [f"fee ({fee.kind}): {format_minor(fee.amount_minor, fee.currency)}"
                  for fee in self.fees]
        until = datetime.fromtimestamp(self.expires_at_s, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        lines.append(f"rate {self.rate} (reference {self.reference_rate}, spread "
                     f"{self.spread_percent} %) from {self.provider}, quote {self.id}, valid "
                     f"until {until}")
        return lines

    def fee_total_minor(self, currency: str) -> int:
        """The fees charged in `currency`."""
        return sum(fee.amount_minor for fee in self.fees if fee.currency == currency)


def quote_signing_bytes(quote: QuoteWire) -> bytes:
    """The bytes the provider signs: every field but the signature, canonically ordered."""
    fields = quote.model_dump(mode="json", exclude={"signature"})
    return QUOTE_DOMAIN + orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)


def decimal_text(value: Decimal) -> str:
    """A decimal as the wire writes it: plain notation, no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return text if "." not in text else text.rstrip("0").rstrip(".")


class TierWire(BaseModel):
    """From this source amount on, the spread improves by this much."""

    from_minor: int
    improvement_percent: DecimalText


class CorridorRatesWire(BaseModel):
    """One corridor's published prices."""

    source_currency: Currency
    destination_currency: Currency
    reference_rate: DecimalText
    spread_percent: DecimalText
    base_rate: DecimalText = Field(description="the rate below the first tier")
    tiers: list[TierWire]
    fee_percent: DecimalText
    fee_minimum_minor: int
    quote_valid_s: int
    liquidity_minor: int = Field(description="the provider's liquidity in the destination "
                                 "currency: a quote credits at most what the payments it has "
                                 "accepted leave of it")


class RateSheetWire(BaseModel):
    """What a provider publishes: its identity, accounts and prices per corridor."""

    provider: Name
    provider_key: Hex64
    accounts: dict[str, str] = Field(description="currency -> the provider's account there")
    corridors: list[CorridorRatesWire] = Field(max_length=CORRIDORS_MAX)
