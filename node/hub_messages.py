"""The bodies of the hub's HTTP API: quotes for a destination, payment orders and their status.

A sender asks `POST /quotes` for the best allowed quote toward a resolved destination, orders
the payment with `POST /payments` (the hub answers what to lock, to whom, until when), locks the
source leg through its bank, reports the transaction with `POST /payments/{id}/source`, and
reads the status (pacs.002 codes) with `GET /payments/{id}` (docs/hub.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from node.fx_messages import QuoteId, QuoteWire
from node.fx_quotes import Fixed
from node.messages import Account, AmountMinor, Currency, LockRequest, Name, Strict, TokenWire
from node.settlement_messages import Destination, PaymentId


class HubQuoteRequest(Strict):
    """The best quote for paying `destination` from `source_currency`, the sender fixing
    either side's amount. The sender is the wallet registered as `sender_account` on the
    source ledger: the hub serves only the key registered there."""

    sender_account: Account = Field(description="the caller's account on the source ledger "
                                    "(`name@bank`), whose registered key must sign the request")
    source_currency: Currency
    destination: Destination
    fixed: Fixed
    amount_minor: AmountMinor
    token: TokenWire | None = Field(default=None, description="the earmarked token spent, "
                                    "whose `convert` rules the quote must pass")


class RefusedQuoteWire(BaseModel):
    """A quote the hub may not use, and the rule that refused it."""

    provider: str
    rule: str
    reason: str
    contract: str | None = None


class SkippedProviderWire(BaseModel):
    """A provider that gave no quote in time or answered an error."""

    provider: str
    why: Literal["timeout", "error"]
    detail: str


class HubQuoteWire(BaseModel):
    """The chosen quote and what the sender sees before approving it."""

    quote: QuoteWire
    destination: Destination
    lines: list[str] = Field(description="debited, credited, effective rate, every fee")
    refused: list[RefusedQuoteWire]
    skipped: list[SkippedProviderWire]


class PaymentOrder(Strict):
    """The sender approves a quote the hub offered it."""

    quote_id: QuoteId


class PayInstruction(BaseModel):
    """What the sender locks on the source ledger: the amount, to the provider's participant,
    under the hub's hashlock until the deadline (a bank's `PaymentRequest` with `to.participant`
    and `lock`)."""

    participant: Name
    amount_minor: int
    currency: str
    lock: LockRequest


class HubPaymentWire(BaseModel):
    """One cross-border payment as the hub sees it."""

    id: PaymentId
    status: Literal["PDNG", "ACWP", "ACCC", "RJCT", "BLCK"]
    stage: str
    quote: QuoteWire
    destination: Destination
    pay: PayInstruction
    destination_deadline_s: int
    source_tx_id: str | None = None
    destination_note_id: str | None = None
    preimage: str | None = Field(default=None, description="shown to the receiver of a ledger "
                                 "destination once its note is locked, so it can claim it")
    code: str = ""
    detail: str = ""
    created_at_s: int
    updated_at_s: int


class SystemsWire(BaseModel):
    """The hub's registry as it publishes it."""

    ledgers: list[dict[str, str]]
    switches: list[dict[str, str]]
    chains: list[dict[str, str]]
    providers: list[str]
