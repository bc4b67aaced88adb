"""The bodies the hub, FX providers and the bridge exchange to settle one cross-border payment.

A payment settles payment-versus-payment on one SHA-256 hashlock whose preimage only the hub
knows: the sender locks the source leg to the FX provider; the FX provider locks (or, toward a
partner switch that has no hashed timelock, pays) the destination leg; the preimage is revealed
first on the destination side, and whoever learns it there claims the source. The messages here
are the hub's instructions to a provider (`POST /acceptances`, `POST /legs/...`) and to the
bridge (`POST /swaps/.../claim`), and their answers (docs/hub.md, "Settlement").
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import BaseModel, Field

from node.messages import Hex64, Name, Strict

PaymentId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$", description="128 random bits, hex")]
QuoteRef = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$", description="the provider's quote id")]
EpochS = Annotated[int, Field(gt=0, le=7_258_118_400, description="Unix seconds")]
DestinationKind = Literal["ledger", "switch", "chain"]
MEMO_MAX: Final = 140  # the remittance text a pacs.008 carries (Ustrd is Max140Text)


class Destination(Strict):
    """Where the destination leg credits: a wallet on an Earmark ledger (its key), a merchant
    account at a partner switch (its account number there), or an address on a stablecoin
    chain ("0x..."), in the connected system the hub's registry names `system`."""

    kind: DestinationKind
    system: Name
    account: str = Field(min_length=1, max_length=140)


class AcceptanceRequest(Strict):
    """The hub accepts a provider's quote for one payment: the provider reserves the credit
    against its liquidity, or refuses (`quote_expired`, `quote_taken`, `liquidity_exceeded`,
    `deadline_margin`)."""

    quote_id: QuoteRef
    payment_id: PaymentId
    hashlock: Hex64 = Field(description="SHA-256 of the preimage the hub keeps")
    source_deadline_s: EpochS = Field(description="the sender's lock refunds from then on")
    destination_deadline_s: EpochS = Field(description="the provider's lock refunds from then "
                                                       "on; before the source's deadline")
    destination: Destination


class AcceptanceWire(BaseModel):
    """A reservation: the provider will lock or pay the destination once the source is locked.
    `pay_to` is the provider's participant name on the source ledger (where the sender locks)."""

    payment_id: PaymentId
    quote_id: QuoteRef
    pay_to: Name
    reserved_minor: int
    currency: str
    accepted_at_s: int


class LegStatus(StrEnum):
    """A payment's legs as the provider sees them, in the order they happen."""

    ACCEPTED = "accepted"  # reserved; the source is not known to be locked yet
    SOURCE_LOCKED = "source_locked"  # the source note is locked to the provider as agreed
    DESTINATION_LOCKED = "destination_locked"  # the provider's destination note is locked
    DESTINATION_CLAIMED = "destination_claimed"  # revealed on the destination side
    SETTLED = "settled"  # the provider claimed the source: both legs are done
    REFUNDED = "refunded"  # nothing moved for good; the reservation is released
    REFUSED = "refused"  # the source was not what was agreed; nothing was locked


class SourceLocked(Strict):
    """The sender says its lock committed in this transaction on the source ledger."""

    source_tx_id: Hex64


class Release(Strict):
    """The hub's outcome for a payment whose destination has no hashed timelock (a partner
    switch): with the preimage on ACCC or BLCK (the credit happened, so the provider claims the
    source); without it on RJCT (nothing was credited; the sender refunds at its deadline)."""

    status: Literal["ACCC", "BLCK", "RJCT"]
    preimage: Hex64 | None = None


class LegWire(BaseModel):
    """One payment's legs at the provider."""

    payment_id: PaymentId
    quote_id: QuoteRef
    status: LegStatus
    destination: Destination
    source_note_id: str | None = None
    destination_note_id: str | None = Field(default=None, description="the provider's locked "
                                            "note on the destination ledger (ledger or chain "
                                            "destinations)")
    code: str = Field(default="", description="why the legs were refused or refunded")
    detail: str = ""


class ClaimRequest(Strict):
    """Anyone who knows the preimage may have the bridge claim an on-chain lock for its
    receiver: the contract pays the receiver whoever calls it, so this relays, never redirects."""

    preimage: Hex64


class ChainSwapWire(BaseModel):
    """A swap the bridge runs between a ledger note and the chain's hashed-timelock contract."""

    ledger_note: str
    direction: Literal["out", "in"]
    status: str = Field(description="accepted, locked, claimed, refunded, declined or lost")
    receiver: str
    amount_minor: int
    hashlock: str
    chain_swap_id: str | None = None
    chain_deadline_s: int | None = None
    reason: str = ""


class ChainBalanceWire(BaseModel):
    """What one address holds of the bridged stablecoin, in the ledger currency's minor units."""

    address: str
    currency: str
    amount_minor: int
