"""The services' own tables, beside the ledger's: registry, directory and the keys both hold,
customers, payments, the bridge's swaps, the hub's payments and the FX providers' quotes and
settlements.

They live on a metadata of their own (`NODE_METADATA`) with their own alembic history
(`node/migrations`, version table `node_alembic_version`), so a central node keeps them in the
ledger's database without either migration history seeing the other's tables.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, LargeBinary, MetaData, Table, Text
from sqlmodel import Field, SQLModel

NODE_METADATA = MetaData()


class NodeTable(SQLModel):
    """Base of the node's tables: binds them to `NODE_METADATA`."""

    metadata = NODE_METADATA


class ParticipantRow(NodeTable, table=True):
    """Central: a registered bank, agency or FX provider (the central bank is its config)."""

    __tablename__ = "participants"

    key: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=128, unique=True)
    role: str = Field(max_length=16)
    registered_at_s: int = Field(sa_column=Column(BigInteger, nullable=False))
    # FX providers: the currencies the central bank lets it issue bridged tokens in, "JPY,USD".
    bridged: str = Field(default="", max_length=256, sa_column_kwargs={"server_default": ""})


class RegisteredKeyRow(NodeTable, table=True):
    """Central: every key registered, as a participant or as one bank's customer's wallet.

    Its primary key is the rule that a key is registered once: a participant's registration and
    a wallet's each insert the key here in the database transaction that writes their own row,
    so of two registrations of one key, concurrent or not, the database commits one."""

    __tablename__ = "registered_keys"

    key: str = Field(primary_key=True, max_length=64)


class ReserveRow(NodeTable, table=True):
    """Central: a bank's reserves at the central bank, against which money is issued."""

    __tablename__ = "reserves"

    bank: str = Field(primary_key=True, max_length=128)
    currency: str = Field(primary_key=True, max_length=3)
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))


class WalletRow(NodeTable, table=True):
    """Central: a customer's wallet as its bank registered it (the payee directory)."""

    __tablename__ = "wallets"

    key: str = Field(primary_key=True, max_length=64)
    account: str = Field(max_length=160, unique=True)
    phone: str | None = Field(default=None, max_length=20, unique=True)
    bank: str = Field(max_length=128, index=True)
    display_name: str = Field(max_length=128)
    role: str = Field(max_length=16)
    kyc: int
    mcc: int
    region: str = Field(max_length=32)


class IdempotencyRow(NodeTable, table=True):
    """Both: the first response to a caller's POST under an Idempotency-Key, replayed after."""

    __tablename__ = "idempotency"
    __table_args__ = (Index("idempotency_by_age", "created_at_s"),)  # pruning takes the oldest

    caller: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=128)
    request_sha256: str = Field(max_length=64)
    status: int
    media_type: str = Field(max_length=64)
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at_s: int = Field(sa_column=Column(BigInteger, nullable=False))


class CustomerRow(NodeTable, table=True):
    """Bank: a customer, the KYC facts the bank attests and the wallet key they opened."""

    __tablename__ = "customers"

    account: str = Field(primary_key=True, max_length=160)
    key: str = Field(max_length=64, unique=True)
    display_name: str = Field(max_length=128)
    role: str = Field(max_length=16)
    mcc: int
    phone: str | None = Field(default=None, max_length=20, unique=True)
    kyc_tier: int
    region: str = Field(max_length=32)
    created_at_s: int = Field(sa_column=Column(BigInteger, nullable=False))


class PaymentRow(NodeTable, table=True):
    """Bank: a payment, distribution or cash-out of one of its customers, from prepared on."""

    __tablename__ = "payments"
    __table_args__ = (Index("payments_by_account_and_time", "account", "created_at_s"),
                      Index("payments_by_account_and_day", "account", "currency", "day"))

    id: str = Field(primary_key=True, max_length=36)
    account: str = Field(max_length=160)
    kind: str = Field(max_length=16)
    counterparty: str = Field(max_length=160)
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    token: str = Field(max_length=200)
    status: str = Field(max_length=16)
    tx_id: str = Field(max_length=64, index=True)
    code: str = Field(default="", max_length=64)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    # The contract rule that refused the payment (RuleWire as JSON), empty otherwise.
    rule: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    day: str = Field(max_length=10)
    transaction: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at_s: int = Field(sa_column=Column(BigInteger, nullable=False))


class BridgeCursorRow(NodeTable, table=True):
    """Bridge: the last chain block whose vault events it has taken in (resumes from here)."""

    __tablename__ = "bridge_cursor"

    name: str = Field(primary_key=True, max_length=32)
    block: int = Field(sa_column=Column(BigInteger, nullable=False))


class BridgeDepositRow(NodeTable, table=True):
    """Bridge: a confirmed vault deposit and the ledger issue that credits it, written before
    the issue is submitted, so a restart resubmits the same transaction (same id)."""

    __tablename__ = "bridge_deposits"

    id: str = Field(primary_key=True, max_length=80)  # "<chain tx hash>:<log index>"
    block: int = Field(sa_column=Column(BigInteger, nullable=False))
    depositor: str = Field(max_length=42)
    owner: str = Field(max_length=64)
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    status: str = Field(max_length=16, index=True)  # pending, credited, refused
    tx_id: str = Field(max_length=64)
    signed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))


class BridgeNoteRow(NodeTable, table=True):
    """Bridge: a note paid to the bridge on the ledger; a withdrawal when its payment names an
    EVM receiver (burned on the ledger, then paid from the vault), inventory otherwise."""

    __tablename__ = "bridge_notes"

    note_id: str = Field(primary_key=True, max_length=64)
    receiver: str = Field(default="", max_length=42)
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    status: str = Field(max_length=16, index=True)  # received, burned, paid, inventory
    tx_id: str = Field(default="", max_length=64)  # the burn
    signed: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))
    chain_tx: str = Field(default="", max_length=66)  # the payout, once sent
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))


class BridgeSwapRow(NodeTable, table=True):
    """Bridge: a hashed-timelock swap between a ledger note and an on-chain lock under one
    hashlock. `out` (ledger to chain): a sender locked bridged notes to the bridge, which locks
    stablecoin on chain for an EVM receiver until `swap_margin_s` earlier. `in` (chain to ledger):
    an EVM sender locked stablecoin for the bridge, which locks bridged notes on the ledger for
    the wallet the lock's memo names, until `swap_margin_s` earlier."""

    __tablename__ = "bridge_swaps"

    id: str = Field(primary_key=True, max_length=64)  # out: the ledger note; in: the chain swap
    direction: str = Field(max_length=3)
    hashlock: str = Field(max_length=64)
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    evm_party: str = Field(max_length=42)  # out: the receiver on chain; in: the sender
    ledger_party: str = Field(max_length=64)  # out: the sender's refund key; in: the receiver
    ledger_deadline_s: int = Field(sa_column=Column(BigInteger, nullable=False))
    chain_deadline_s: int = Field(sa_column=Column(BigInteger, nullable=False))
    chain_swap: str = Field(max_length=64)
    chain_block: int = Field(sa_column=Column(BigInteger, nullable=False))  # claims from here
    ledger_note: str = Field(default="", max_length=64)  # in: the bridge's locked note
    status: str = Field(max_length=16, index=True)  # accepted, locked, claimed, refunded, declined
    tx_id: str = Field(default="", max_length=64)  # in: the ledger lock
    signed: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))
    preimage: str = Field(default="", max_length=64)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))



# The hub's and the FX provider's tables. Their stores read and write them through SQLAlchemy
# Core, with statements built once, so they are declared as Core tables on the same metadata:
# the node's migrations create them and carry them to each newer schema.

HUB_QUOTES = Table(
    "hub_quotes", NODE_METADATA,
    Column("id", Text, primary_key=True),  # the provider's quote id
    Column("requester", Text, nullable=False),
    Column("quote", Text, nullable=False),  # QuoteWire as the provider signed it
    Column("destination", Text, nullable=False),  # Destination as resolved
)
HUB_PAYMENTS = Table(
    "hub_payments", NODE_METADATA,
    Column("id", Text, primary_key=True),
    Column("quote_id", Text, nullable=False, unique=True),
    Column("sender", Text, nullable=False),
    Column("stage", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("preimage", Text, nullable=False),
    Column("hashlock", Text, nullable=False),
    Column("source_deadline_s", BigInteger, nullable=False),
    Column("destination_deadline_s", BigInteger, nullable=False),
    Column("pay_to", Text, nullable=False, default=""),
    Column("source_tx_id", Text, nullable=False, default=""),
    Column("destination_note_id", Text, nullable=False, default=""),
    Column("code", Text, nullable=False, default=""),
    Column("detail", Text, nullable=False, default=""),
    Column("created_at_s", BigInteger, nullable=False),
    Column("updated_at_s", BigInteger, nullable=False),
    # A sender's orders not yet locked (before the source deadline) are counted at each order.
    Index("hub_payments_open_by_sender", "sender", "stage", "source_deadline_s"),
)
FX_QUOTES = Table(
    "fx_quotes", NODE_METADATA,
    Column("id", Text, primary_key=True),
    Column("requester", Text, nullable=False),
    Column("created_at_s", BigInteger, nullable=False),
    Column("expires_at_s", BigInteger, nullable=False),
    Column("body", LargeBinary, nullable=False),  # the signed QuoteWire as it was answered
    Index("fx_quotes_by_age", "created_at_s"),  # pruning takes the oldest
)
FX_SETTLEMENTS = Table(
    "fx_settlements", NODE_METADATA,
    Column("payment_id", Text, primary_key=True),
    Column("quote_id", Text, nullable=False, unique=True),  # a quote backs one payment
    Column("requester", Text, nullable=False),  # the hub key that accepted
    Column("status", Text, nullable=False),
    Column("source_currency", Text, nullable=False),
    Column("source_minor", BigInteger, nullable=False),
    Column("destination_currency", Text, nullable=False),
    Column("reserved_minor", BigInteger, nullable=False),
    Column("accepted_at_s", BigInteger, nullable=False),
    # The request's, as a column: a reservation not locked by then stops counting.
    Column("source_deadline_s", BigInteger, nullable=False),
    Column("request", LargeBinary, nullable=False),  # the AcceptanceRequest as it came
    Column("source_note_id", Text, unique=True),  # a source note backs one payment
    Column("destination_signed", LargeBinary),  # the signed destination lock, before submitting
    Column("destination_note_id", Text),
    Column("preimage", Text),  # stored before the source is claimed with it
    Column("code", Text, nullable=False, default=""),
    Column("detail", Text, nullable=False, default=""),
    # A hub's open reservations (accepted, the source deadline ahead) are counted at each one.
    Index("fx_settlements_open_by_requester", "requester", "status", "source_deadline_s"),
)
