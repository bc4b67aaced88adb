"""The partner switch's durable state: account balances, the messages it answered, its postings.

The switch is a separate system with its own database, so its tables live here, on their own
`MetaData`, beside the node's tables that `open_database` migrates. Every credit transfer is
settled in one database transaction by the one writer of `node.database`: the message id is
looked up (a resend gets the stored answer), the settlement account is debited only if it holds
the amount (a conditional `UPDATE`, so no interleaving can overdraw it), the creditor is credited,
and the posting and the answer are stored. The caller hears back only once that is durable, so
nothing acknowledged is lost in a crash, and nothing is posted twice.

Two guards keep money safe: the debit's condition and a `CHECK` constraint against negative
balances on write, and `audit`, which checks independently that the sum of the balances is the
sum of the opening balances and that none is negative.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Engine,
    ForeignKey,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection

from bridges.iso20022 import ReasonCode, TransactionStatus
from engine.errors import InvariantViolation
from node.database import Writer, open_database
from node.errors import NodeError

SWITCH_METADATA: Final = MetaData()
# ISO 20022 lengths: MsgId is a Max35Text, an account's Othr/Id a Max34Text, a UETR 36 characters.
_MESSAGE_ID, _ACCOUNT, _UETR = String(35), String(34), String(36)

ACCOUNTS: Final = Table(
    "partner_switch_accounts", SWITCH_METADATA,
    Column("account", _ACCOUNT, primary_key=True),
    Column("kind", String(16), nullable=False),  # settlement, merchant or hold
    Column("holder", String(140), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("opening_minor", BigInteger, nullable=False),
    Column("balance_minor", BigInteger, nullable=False),
    CheckConstraint("balance_minor >= 0", name="partner_switch_balance_not_negative"),
)
MESSAGES: Final = Table(
    "partner_switch_messages", SWITCH_METADATA,
    Column("message_id", _MESSAGE_ID, primary_key=True),
    Column("digest", String(64), nullable=False),  # sha256 of the pacs.008's modelled content
    Column("uetr", _UETR, nullable=False),
    Column("status", String(4), nullable=False),
    Column("reason", String(4), nullable=True),
    Column("reply", LargeBinary, nullable=False),  # the pacs.002 answered, byte for byte
    Column("received_at_s", BigInteger, nullable=False),
)
POSTINGS: Final = Table(
    "partner_switch_postings", SWITCH_METADATA,
    Column("uetr", _UETR, primary_key=True),  # one posting per payment, whatever its message
    Column("message_id", _MESSAGE_ID, ForeignKey(MESSAGES.c.message_id), nullable=False),
    Column("debit_account", _ACCOUNT, ForeignKey(ACCOUNTS.c.account), nullable=False),
    Column("credit_account", _ACCOUNT, ForeignKey(ACCOUNTS.c.account), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("posted_at_s", BigInteger, nullable=False),
)
# The statements of every credit transfer, built once: building one cost more than running it.
_MESSAGE: Final = select(MESSAGES).where(MESSAGES.c.message_id == bindparam("message_id"))
_INSERT_MESSAGE: Final = insert(MESSAGES)
_POSTED: Final = select(POSTINGS.c.message_id).where(POSTINGS.c.uetr == bindparam("uetr"))
_INSERT_POSTING: Final = insert(POSTINGS)
_DEBIT: Final = update(ACCOUNTS).where(
    ACCOUNTS.c.account == bindparam("moved_account"),
    ACCOUNTS.c.balance_minor >= bindparam("moved_minor"),
).values(balance_minor=ACCOUNTS.c.balance_minor - bindparam("moved_minor"))
_CREDIT: Final = update(ACCOUNTS).where(
    ACCOUNTS.c.account == bindparam("moved_account")).values(
    balance_minor=ACCOUNTS.c.balance_minor + bindparam("moved_minor"))


@dataclass(frozen=True, slots=True)
class AccountSeed:
    """An account the configuration names, with the balance it opens with."""

    account: str
    kind: str
    holder: str
    opening_minor: int


@dataclass(frozen=True, slots=True)
class AccountBalance:
    """One account as the database holds it now."""

    account: str
    kind: str
    holder: str
    currency: str
    opening_minor: int
    balance_minor: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of a credit transfer: a pacs.002 status and, unless ACCC, its reason."""

    status: TransactionStatus
    reason: ReasonCode | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Posting:
    """Money to move if the debit account holds it, and the outcome when it has moved."""

    debit_account: str
    credit_account: str
    amount_minor: int
    outcome: Outcome


# What the switch decided before looking at balances: a refusal, or money to move.
Plan = Outcome | Posting


@dataclass(frozen=True, slots=True)
class Received:
    """A credit transfer as the store keys it: its message id, content digest and UETR."""

    message_id: str
    digest: str
    uetr: str


@dataclass(frozen=True, slots=True)
class Settled:
    """The answer to a credit transfer: the pacs.002 bytes, its outcome, whether a replay."""

    reply: bytes
    outcome: Outcome
    replayed: bool


DUPLICATE_MESSAGE: Final = Outcome(
    TransactionStatus.REJECTED, ReasonCode.DUPLICATE_PAYMENT,
    "this message id was used for a credit transfer with other content")
DUPLICATE_PAYMENT: Final = Outcome(
    TransactionStatus.REJECTED, ReasonCode.DUPLICATE_PAYMENT,
    "a payment with this UETR has already been posted")
INSUFFICIENT_FUNDS: Final = Outcome(
    TransactionStatus.REJECTED, ReasonCode.INSUFFICIENT_FUNDS,
    "the settlement account does not hold the amount")

Report = Callable[[Outcome], bytes]  # builds the pacs.002 answering one outcome


class SwitchStore:
    """The switch's tables in its own database (SQLite by default, PostgreSQL by URL)."""

    def __init__(self, url: str, currency: str) -> None:
        self.engine: Engine = open_database(url)
        SWITCH_METADATA.create_all(self.engine)
        self.currency = currency
        self._writer = Writer(self.engine)

    def close(self) -> None:
        """Wait for queued writes, then release the connections."""
        self._writer.close()
        self.engine.dispose()

    def seed(self, seeds: Sequence[AccountSeed]) -> None:
        """Create the accounts that do not exist yet, each with its opening balance.

        Existing accounts keep their balance. A database that holds another currency is
        refused: it belongs to another switch.
        """
        with self.engine.begin() as db:
            currencies = set(db.scalars(select(ACCOUNTS.c.currency).distinct()))
            if currencies - {self.currency}:
                raise NodeError(500, "database_mismatch", "Database of another switch",
                                f"the database holds {sorted(currencies)}, the switch settles "
                                f"{self.currency}")
            known = set(db.scalars(select(ACCOUNTS.c.account)))
            rows = [{"account": seed.account, "kind": seed.kind, "holder": seed.holder,
                     "currency": self.currency, "opening_minor": seed.opening_minor,
                     "balance_minor": seed.opening_minor}
                    for seed in seeds if seed.account not in known]
            if rows:
                db.execute(insert(ACCOUNTS), rows)

    async def settle(self, received: Received, plan: Plan, report: Report) -> Settled:
        """Answer a credit transfer once, durably; a resend of it gets the stored answer."""
        return await self._writer.write(lambda db: _settle(db, received, plan, report))

    def accounts(self) -> list[AccountBalance]:
        """Every account, by account number."""
        with self.engine.connect() as db:
            rows = db.execute(select(ACCOUNTS).order_by(ACCOUNTS.c.account)).mappings()
            return [AccountBalance(**row) for row in rows]

    def account(self, account: str) -> AccountBalance | None:
        """One account, or None."""
        with self.engine.connect() as db:
            row = db.execute(select(ACCOUNTS).where(ACCOUNTS.c.account == account)
                             ).mappings().first()
            return None if row is None else AccountBalance(**row)

    def audit(self) -> int:
        """The money in the switch, after checking it is what the accounts opened with.

        Raises `InvariantViolation` when a balance is negative or money appeared or vanished.
        """
        with self.engine.connect() as db:
            total, opening, lowest = db.execute(select(
                func.coalesce(func.sum(ACCOUNTS.c.balance_minor), 0),
                func.coalesce(func.sum(ACCOUNTS.c.opening_minor), 0),
                func.coalesce(func.min(ACCOUNTS.c.balance_minor), 0))).one()
        if lowest < 0:
            raise InvariantViolation(f"a balance of {lowest} minor units")
        if total != opening:
            raise InvariantViolation(f"the accounts hold {total} minor units; they opened with "
                                     f"{opening}")
        return int(total)


def _settle(db: Connection, received: Received, plan: Plan, report: Report) -> Settled:
    """One credit transfer, inside the writer's transaction (see the module docstring)."""
    stored = db.execute(_MESSAGE, {"message_id": received.message_id}).mappings().first()
    if stored is not None:
        if stored["digest"] != received.digest:
            return Settled(report(DUPLICATE_MESSAGE), DUPLICATE_MESSAGE, replayed=False)
        reason = None if stored["reason"] is None else ReasonCode(stored["reason"])
        return Settled(bytes(stored["reply"]),
                       Outcome(TransactionStatus(stored["status"]), reason), replayed=True)
    outcome, moved = _post(db, received, plan)
    reply = report(outcome)
    now_s = int(time.time())
    db.execute(_INSERT_MESSAGE, {
        "message_id": received.message_id, "digest": received.digest, "uetr": received.uetr,
        "status": outcome.status.value,
        "reason": None if outcome.reason is None else outcome.reason.value, "reply": reply,
        "received_at_s": now_s})
    if moved and isinstance(plan, Posting):
        db.execute(_INSERT_POSTING, {
            "uetr": received.uetr, "message_id": received.message_id,
            "debit_account": plan.debit_account, "credit_account": plan.credit_account,
            "amount_minor": plan.amount_minor, "posted_at_s": now_s})
    return Settled(reply, outcome, replayed=False)


def _post(db: Connection, received: Received, plan: Plan) -> tuple[Outcome, bool]:
    """Move the money of `plan` if it may move: the outcome, and whether money moved."""
    if not isinstance(plan, Posting):
        return plan, False
    if db.scalar(_POSTED, {"uetr": received.uetr}) is not None:
        return DUPLICATE_PAYMENT, False
    debited = db.execute(_DEBIT, {"moved_account": plan.debit_account,
                                  "moved_minor": plan.amount_minor})
    if debited.rowcount != 1:
        return INSUFFICIENT_FUNDS, False
    credited = db.execute(_CREDIT, {"moved_account": plan.credit_account,
                                    "moved_minor": plan.amount_minor})
    if credited.rowcount != 1:
        # Accounts are never deleted and the plan names configured ones: a bug, so undo all.
        raise InvariantViolation(f"credit account {plan.credit_account} does not exist")
    return plan.outcome, True
