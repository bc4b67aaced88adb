"""The bodies of the HTTP API: what callers send and what the services answer (pydantic).

The engine's values stay frozen dataclasses inside; these models are the edge. A transaction
travels as the engine's wire form (`engine.encoding.to_wire`), which the engine decodes strictly.
Amounts are integers of minor units with an ISO 4217 currency, never floats.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Hex64 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="64 hex digits")]
SignatureHex = Annotated[str, Field(pattern=r"^[0-9a-f]{128}$", description="Ed25519, hex")]
Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
AmountMinor = Annotated[int, Field(gt=0, le=2**63 - 1, description="minor units")]
Account = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}@[a-z0-9][a-z0-9-]{0,62}$",
                               description="name@bank")]
Phone = Annotated[str, Field(pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164")]
Mcc = Annotated[int, Field(ge=0, le=9999)]
KycTier = Annotated[int, Field(ge=0, le=3)]
ParticipantRole = Literal["bank", "agency", "fx_provider"]
CustomerRole = Literal["individual", "merchant"]
PAGE_SIZE_MAX = 500


class Strict(BaseModel):
    """Unknown fields are refused: a typo is an error, not a silently ignored field."""

    model_config = ConfigDict(extra="forbid")


class Page(Strict):
    """Pagination of a list: `after` is the cursor the previous page returned."""

    limit: int = Field(default=100, ge=1, le=PAGE_SIZE_MAX)
    after: str = Field(default="", max_length=200)


# ---- the ledger's values on the wire -------------------------------------------------------


class TokenWire(Strict):
    """An earmarked token: deployed contract hash and token name."""

    contract: Hex64
    token: str = Field(min_length=1, max_length=128)


class SignatureWire(Strict):
    """One signer's signature over the transaction id."""

    signer: Hex64
    signature: SignatureHex


class SignedTransactionWire(Strict):
    """A transaction (engine wire form), its id and its signatures."""

    id: Hex64
    transaction: dict[str, Any]
    signatures: list[SignatureWire] = Field(max_length=64)


class EndorsementWire(Strict):
    """A bank's one signature over a batch's transaction ids (its co-signature on each)."""

    signer: Hex64
    tx_ids: list[Hex64] = Field(min_length=1, max_length=1024)
    signature: SignatureHex


class RuleWire(BaseModel):
    """The contract rule that decided: contract, rule name, line."""

    contract: str
    name: str
    line: int


class OutcomeWire(BaseModel):
    """The ledger's answer for one transaction."""

    tx_id: str
    status: Literal["committed", "refused"]
    code: str = Field(description="`committed` or the engine's result code")
    reason: str = ""
    rule: RuleWire | None = None
    replayed: bool = False


class JournalEntryWire(BaseModel):
    """A committed transaction's body (engine wire form), for those who may see it."""

    tx_id: str
    transaction: dict[str, Any]


class SupplyWire(BaseModel):
    """What is outstanding of one token on the ledger: its unspent notes, summed."""

    currency: str
    token: TokenWire
    supply_minor: int


class LockWire(BaseModel):
    """A hashed timelock on a note: claimed with the preimage of `digest` before `deadline_s`
    by the note's owner, refunded to `refund_to` from then on."""

    digest: str
    refund_to: str
    deadline_s: int


class NoteWire(BaseModel):
    """A note in the ledger."""

    id: str
    owner: str
    amount_minor: int
    currency: str
    token: TokenWire | None
    issued_at_s: int
    created_by: str
    spent_by: str | None = None
    lock: LockWire | None = None


class BalanceWire(BaseModel):
    """What an owner holds of one kind of money."""

    currency: str
    token: TokenWire | None
    amount_minor: int
    notes: int
    locked_minor: int = Field(default=0, description=(
        "a bank's view: hash-locked notes of this money, left out of `amount_minor` and "
        "`notes` (they are claimed or refunded, never spent as money); the central bank's "
        "`GET /balances` counts them in `amount_minor` and leaves this 0"))


# ---- central bank ---------------------------------------------------------------------------


class RegisterParticipant(Strict):
    """The central bank registers a bank, agency or FX provider by its public key."""

    name: Name
    role: ParticipantRole
    key: Hex64
    bridged: list[Currency] = Field(
        default=[], max_length=16,
        description="FX providers only: the currencies in which the central bank lets it "
                    "issue its bridged tokens")


class ParticipantWire(BaseModel):
    """A registered participant."""

    name: str
    role: str
    bridged: list[str] = []
    key: str


class ParticipantList(BaseModel):
    """A page of participants; `next` is the cursor of the following page, if any."""

    items: list[ParticipantWire]
    next: str | None = None


class ReserveDeposit(Strict):
    """The central bank credits a bank's reserves (money moved in its RTGS account)."""

    bank: Name
    currency: Currency
    amount_minor: AmountMinor


class ReserveWire(BaseModel):
    """A bank's reserves in one currency."""

    bank: str
    currency: str
    amount_minor: int


class IssuanceRequest(Strict):
    """A bank asks for digital money against its reserves."""

    currency: Currency
    amount_minor: AmountMinor


class RedemptionRequest(Strict):
    """A bank returns notes (a `redeem` transaction it signed) for reserves."""

    transaction: SignedTransactionWire


class ContractUpload(Strict):
    """An agency deploys a contract: its source and a file name for diagnostics."""

    source: str = Field(min_length=1, max_length=256 * 1024)
    filename: str = Field(default="contract.earmark", max_length=200)


class ContractWire(BaseModel):
    """A deployed contract."""

    hash: str
    name: str
    version: int
    tokens: list[str]
    issuer: str
    source: str | None = None


class ContractList(BaseModel):
    """A page of deployed contracts."""

    items: list[ContractWire]
    next: str | None = None


class TransactionBatch(Strict):
    """Signed transactions to notarise, with the endorsements of the banks that forward them."""

    transactions: list[SignedTransactionWire] = Field(min_length=1, max_length=1024)
    endorsements: list[EndorsementWire] = Field(default_factory=list, max_length=64)


class OutcomeList(BaseModel):
    """The ledger's answers, in the order of the batch."""

    outcomes: list[OutcomeWire]


class RegisterWallet(Strict):
    """A bank registers (or updates) a customer's wallet in the central directory."""

    key: Hex64
    account: Account
    phone: Phone | None = None
    display_name: str = Field(min_length=1, max_length=128)
    role: CustomerRole
    kyc: KycTier
    mcc: Mcc = 0
    region: str = Field(default="", max_length=32)


class PayeeWire(BaseModel):
    """A resolved payee: what a payer needs to pay and to confirm the payee."""

    key: str
    account: str
    bank: str
    display_name: str = Field(description="masked for confirmation of payee")
    role: str
    kyc: int
    mcc: int
    region: str


class DirectoryQuery(Strict):
    """Resolve a payee by exactly one of account id or phone number."""

    account: Account | None = None
    phone: Phone | None = None


class NotesQuery(Strict):
    """Notes of one owner; spent ones too if asked (for history)."""

    owner: Hex64
    currency: Currency | None = None
    include_spent: bool = False
    limit: int = Field(default=100, ge=1, le=PAGE_SIZE_MAX)
    after: str = Field(default="", max_length=200)


class NoteList(BaseModel):
    """A page of notes."""

    items: list[NoteWire]
    next: str | None = None


class BalanceList(BaseModel):
    """An owner's balances by currency and token."""

    owner: str
    balances: list[BalanceWire]


class MoneyStatistics(BaseModel):
    """One currency and token: supply, and how much each bank and its customers hold."""

    currency: str
    token: TokenWire | None
    supply_minor: int
    held_by_bank: dict[str, int]
    held_elsewhere_minor: int = Field(description="agencies, FX providers, the central bank")


class Statistics(BaseModel):
    """The monetary statistics: plain and earmarked money per currency."""

    items: list[MoneyStatistics]
    plain_minor: dict[str, int]
    earmarked_minor: dict[str, int]


# ---- commercial bank ------------------------------------------------------------------------


class OpenCustomer(Strict):
    """The bank opens a customer after KYC: facts it attests and the wallet's public key."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]
    display_name: str = Field(min_length=1, max_length=128)
    role: CustomerRole = "individual"
    mcc: Mcc = 0
    phone: Phone | None = None
    kyc_tier: KycTier = 1
    region: str = Field(default="", max_length=32)
    key: Hex64 = Field(description="the wallet's public key; its spend key stays with the "
                                   "customer")


class CustomerWire(BaseModel):
    """A customer as their bank knows them."""

    account: str
    key: str
    display_name: str
    role: str
    mcc: int
    phone: str | None
    kyc_tier: int
    region: str


class CustomerList(BaseModel):
    """A page of the bank's customers."""

    items: list[CustomerWire]
    next: str | None = None


class Reverify(Strict):
    """The bank re-verifies a customer to another KYC tier."""

    kyc_tier: KycTier


class Distribution(Strict):
    """The bank moves digital money from its holdings into a customer's wallet."""

    account: Account
    currency: Currency
    amount_minor: AmountMinor


class PayTo(Strict):
    """Exactly one way to name the payee."""

    account: Account | None = None
    phone: Phone | None = None
    qr: str | None = Field(default=None, max_length=512, description="EMVCo merchant QR payload")
    participant: Name | Hex64 | None = Field(
        default=None, description="a participant registered at the central bank (an FX "
                                  "provider, an agency, a bank), by name or key")


class LockRequest(Strict):
    """A hashed timelock on the payee's note: the payee claims it with the preimage of `digest`
    before `deadline_s`; from then on the paying customer's wallet refunds it."""

    digest: Hex64 = Field(description="SHA-256 of the 32-byte preimage, 64 lowercase hex digits")
    deadline_s: int = Field(gt=0, le=2**63 - 1, description="Unix seconds on the notary's "
                                                            "clock; at most 24 h ahead")


class PaymentRequest(Strict):
    """A customer asks their bank to prepare a payment; they sign what the bank prepares."""

    to: PayTo
    currency: Currency
    amount_minor: AmountMinor
    token: TokenWire | None = None
    operation: Literal["transfer", "purchase"] | None = Field(
        default=None, description="default: purchase to a merchant, transfer otherwise")
    lock: LockRequest | None = Field(
        default=None, description="hash-lock the payee's note (one leg of a swap); the refund "
                                  "goes to the paying customer's wallet")


class SettlementRequest(Strict):
    """A customer settles a hash-locked note: claims it with the preimage (as its owner, before
    the deadline) or, without one, refunds it (as the party its lock names, from then on)."""

    note_id: Hex64
    preimage: Hex64 | None = Field(default=None, description="the 32-byte secret, hex: a claim; "
                                                             "none: a refund")


class CashOutRequest(Strict):
    """A customer returns digital money from their wallet to their bank deposit."""

    currency: Currency
    amount_minor: AmountMinor
    token: TokenWire | None = None


class PreparedPayment(BaseModel):
    """What the customer checks and signs: the transaction, its id, and the payee confirmed."""

    payment_id: str
    tx_id: str
    transaction: dict[str, Any]
    payee: str = Field(description="masked display name of the payee")
    debit_minor: int
    currency: str
    expires_at_s: int


class PaymentSignature(Strict):
    """The customer's signature over the prepared transaction's id."""

    signature: SignatureHex


class PaymentWire(BaseModel):
    """A payment as the bank records it."""

    payment_id: str
    account: str
    kind: str
    counterparty: str
    amount_minor: int
    currency: str
    token: str
    status: Literal["prepared", "committed", "refused", "expired"]
    tx_id: str
    code: str = ""
    reason: str = ""
    created_at_s: int
    lock: LockWire | None = Field(default=None, description="the hash lock a locked payment "
                                                            "put on the payee's note")


class PaymentList(BaseModel):
    """A page of a customer's payments, newest first."""

    items: list[PaymentWire]
    next: str | None = None
