"""The ledger's tables, as SQLModel models; alembic migrations (engine/migrations) create them.

`spent` is the notary's spent set: its primary key is what makes "a note is spent at most once"
hold across processes and crashes. `transactions` is the journal: append-only, one row per
committed transaction with its canonical body, from which `earmark ledger verify` replays every
note, balance and the supply and compares them with `notes` and `spent`.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, LargeBinary, Text
from sqlmodel import Field, SQLModel


class ContractRow(SQLModel, table=True):
    """A deployed contract, by the hash of its source."""

    __tablename__ = "contracts"

    hash: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=128)
    version: int
    source: str = Field(sa_column=Column(Text, nullable=False))


class NoteRow(SQLModel, table=True):
    """A note ever created; spent or not is the `spent` table's business."""

    __tablename__ = "notes"
    # A wallet's notes of one kind of money: note choice and `hold at most` read by these.
    __table_args__ = (Index("notes_by_owner_and_token", "owner", "token_contract", "token_name"),)

    id: str = Field(primary_key=True, max_length=64)
    owner: str = Field(max_length=64)
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    token_contract: str | None = Field(default=None, max_length=64)
    token_name: str | None = Field(default=None, max_length=128)
    issued_at_s: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_by: str = Field(max_length=64)
    # A hashed timelock (engine.model.HashLock), all three or none.
    lock_digest: str | None = Field(default=None, max_length=64)
    lock_refund_to: str | None = Field(default=None, max_length=64)
    lock_deadline_s: int | None = Field(default=None, sa_column=Column(BigInteger))


class SpentRow(SQLModel, table=True):
    """The notary's spent set: one row per spent note, the spending transaction beside it."""

    __tablename__ = "spent"

    note_id: str = Field(primary_key=True, max_length=64)
    tx_id: str = Field(max_length=64)


class TransactionRow(SQLModel, table=True):
    """The journal: every committed transaction, its canonical body, never updated or deleted."""

    __tablename__ = "transactions"

    id: str = Field(primary_key=True, max_length=64)
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    code: str = Field(max_length=32)  # "committed"
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    committed_at_s: int = Field(sa_column=Column(BigInteger, nullable=False))
    # The bank endorsement that co-signed it, if a batch endorsement did (engine.model).
    endorsement: str | None = Field(default=None, max_length=64)


class EndorsementRow(SQLModel, table=True):
    """A bank's signature over a batch of transaction ids: the co-signature of each of them."""

    __tablename__ = "endorsements"

    digest: str = Field(primary_key=True, max_length=64)
    signer: str = Field(max_length=64)
    signature: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    tx_ids: str = Field(sa_column=Column(Text, nullable=False))  # ids in signed order, by ","


class UsageRow(SQLModel, table=True):
    """Running totals for limits: per token, per wallet or merchant, per calendar period."""

    __tablename__ = "usage"

    token: str = Field(primary_key=True, max_length=200)
    scope: str = Field(primary_key=True, max_length=16)  # "wallet" or "merchant"
    party: str = Field(primary_key=True, sa_column_kwargs={"nullable": False}, max_length=256)
    period: str = Field(primary_key=True, max_length=24)  # "day:2026-01-01", "month:2026-01"
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))


__all__ = ["ContractRow", "EndorsementRow", "NoteRow", "SpentRow", "TransactionRow",
           "UsageRow"]
