"""A commercial bank's own records: its customers and their payments (node tables).

SQLAlchemy Core on the bank's database. The reads every payment makes (a customer, a payment,
the day's spending) are coroutines through `node.database.read`; the larger reads of lists and
reports are synchronous, and the service calls them from worker threads (`asyncio.to_thread`),
so the event loop never waits on them. Writes are coroutines that go through the bank's one
`Writer` (`node.database`), committed in groups and answered once durable.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Collection, Iterator
from typing import Any, Final, TypeVar

from sqlalchemy import Engine, Executable, bindparam, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from engine.lookup import Lookup
from node.database import Writer, read
from node.errors import conflict
from node.recent import Recent
from node.tables import CustomerRow, PaymentRow

CUSTOMERS: Final = CustomerRow.__table__  # type: ignore[attr-defined]
PAYMENTS: Final = PaymentRow.__table__  # type: ignore[attr-defined]
ROWS_PER_READ: Final = 1_000  # rows fetched at a time when a report streams the payments
HISTORY_ROWS_MAX: Final = 5_000  # a customer's newest records joined into their history
CUSTOMERS_KEPT_MAX: Final = 100_000  # customer lookups kept in memory (all forgotten beyond)
PAYMENTS_KEPT_MAX: Final = 100_000  # payments written lately, kept in memory (oldest forgotten)
# Committed payments that count toward the daily KYC limit (distributions are incoming).
LIMITED_KINDS: Final = ("payment", "cash_out")
T = TypeVar("T")
# The statements of every payment, built once: building one costs more than running it.
_INSERT_PAYMENT: Final = PAYMENTS.insert()
_PAYMENT: Final = select(PAYMENTS).where(PAYMENTS.c.id == bindparam("payment_id"))
_ANSWER: Final = update(PAYMENTS).where(PAYMENTS.c.id == bindparam("payment_id"))
_SPENT_ON: Final = select(func.coalesce(func.sum(PAYMENTS.c.amount_minor), 0)).where(
    PAYMENTS.c.account == bindparam("account"), PAYMENTS.c.currency == bindparam("currency"),
    PAYMENTS.c.day == bindparam("day"), PAYMENTS.c.status == "committed",
    or_(*(PAYMENTS.c.kind == kind for kind in LIMITED_KINDS)))  # single values: a `Lookup`
# A customer by account, key or phone: read on a customer's first request after a change.
_CUSTOMER_BY: Final = {column: select(CUSTOMERS).where(CUSTOMERS.c[column] == bindparam("value"))
                       for column in ("account", "key", "phone")}


class BankStore:
    """Customers and payments of one bank.

    Customers are read on every request a customer signs, and change rarely, so they are kept
    in memory once read. Every change of a customer goes through this store and forgets what
    was kept, before the write (so a read already running is not kept) and after it.

    A payment is read back when it is signed, and the day's spending when the limit is
    checked; both are written only through this store (by the one process serving the bank),
    so the payments written lately and the spending totals read once are kept too, and each
    write updates them once it is durable."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.writer = Writer(engine)  # every write of the bank's own rows, the keys' too
        self._customer_by = {column: Lookup(engine, statement)
                             for column, statement in _CUSTOMER_BY.items()}
        self._spent_on = Lookup(engine, _SPENT_ON)
        self._known: dict[tuple[str, str], CustomerRow] = {}  # by (column, value) looked up
        self._generation = 0  # counts the customer changes; a read spanning one is not kept
        self._payments: Recent[str, PaymentRow] = Recent(PAYMENTS_KEPT_MAX)  # written lately
        self._spent: dict[tuple[str, str, str], int] = {}  # by (account, currency, day)
        # A total is kept only if no spending write ran during its read: each such write
        # counts itself in flight and bumps the count of changes as it starts and ends.
        self._spending_writes = 0
        self._spending_changes = 0

    # ---- customers ------------------------------------------------------------------------

    async def add_customer(self, row: CustomerRow) -> None:
        """Insert a customer; 409 `account_taken`, `phone_taken` or `key_taken` on a duplicate."""
        await self._change_customers(lambda db: _add_customer(db, row))

    async def check_new_customer(self, row: CustomerRow) -> None:
        """The 409 `add_customer` would answer for `row` as the records stand, if any: the bank
        asks before it registers the wallet centrally, so it registers none it would not open."""
        await read(self.engine, self._check_new_customer, row)

    def _check_new_customer(self, row: CustomerRow) -> None:
        with self.engine.connect() as db:
            _refuse_taken(db, row)

    async def customer(self, account: str) -> CustomerRow | None:
        """The customer with this account id."""
        return await self._customer_where("account", account)

    async def customer_by_key(self, key: str) -> CustomerRow | None:
        """The customer whose wallet key this is."""
        return await self._customer_where("key", key)

    async def customer_by_phone(self, phone: str) -> CustomerRow | None:
        """The customer with this phone number."""
        return await self._customer_where("phone", phone)

    def customers(self, after: str, limit: int) -> list[CustomerRow]:
        """Customers by account id, from after the cursor `after`."""
        query = select(CUSTOMERS).where(CUSTOMERS.c.account > after)
        with self.engine.connect() as db:
            rows = db.execute(query.order_by(CUSTOMERS.c.account).limit(limit)).mappings().all()
        return [CustomerRow.model_validate(dict(row)) for row in rows]

    async def set_kyc(self, account: str, tier: int) -> CustomerRow | None:
        """Change a customer's KYC tier; the customer as it is now, if it exists."""
        def change(db: Connection) -> CustomerRow | None:
            db.execute(update(CUSTOMERS).where(CUSTOMERS.c.account == account)
                       .values(kyc_tier=tier))
            return _customer_in(db, CUSTOMERS.c.account == account)
        return await self._change_customers(change)

    async def _customer_where(self, column: str, value: str) -> CustomerRow | None:
        known = self._known.get((column, value))
        if known is not None:
            return known
        generation = self._generation
        found = await read(self.engine, self._read_customer, column, value)
        if found is not None and generation == self._generation:
            if len(self._known) >= CUSTOMERS_KEPT_MAX:
                self._known.clear()
            self._known[(column, value)] = found
        return found

    def _read_customer(self, column: str, value: str) -> CustomerRow | None:
        row = self._customer_by[column].first(value=value)
        return CustomerRow.model_validate(row) if row is not None else None

    async def _change_customers(self, job: Callable[[Connection], T]) -> T:
        self._forget_customers()
        try:
            return await self.writer.write(job)
        finally:
            self._forget_customers()

    def _forget_customers(self) -> None:
        self._generation += 1
        self._known.clear()

    # ---- payments -------------------------------------------------------------------------

    async def add_payment(self, row: PaymentRow) -> None:
        """Record a payment (prepared, or answered for a distribution)."""
        values = row.model_dump()
        async with self._changing_spending(_spends(row)):
            await self.writer.write(lambda db: db.execute(_INSERT_PAYMENT, values).rowcount)
            self._written(row)

    async def payment(self, payment_id: str) -> PaymentRow | None:
        """The payment with this id."""
        kept = self._payments.get(payment_id)
        if kept is not None:
            return kept
        return await read(self.engine, self._read_payment, payment_id)

    def _read_payment(self, payment_id: str) -> PaymentRow | None:
        with self.engine.connect() as db:
            return _payment_in(db, payment_id)

    async def answer(self, row: PaymentRow, changes: dict[str, Any]) -> PaymentRow | None:
        """Record what became of a payment (status, code, reason, rule, day); the payment as
        recorded now, if it still exists."""
        parameters = {"payment_id": row.id, **changes}
        answered = row.model_copy(update=changes)
        async with self._changing_spending(_spends(answered)):
            updated = await self.writer.write(
                lambda db: db.execute(_ANSWER, parameters).rowcount)
            if updated != 1:
                self._payments.forget(row.id)
                return None
            self._written(answered)
        return answered

    async def spent_on(self, account: str, currency: str, day: str) -> int:
        """What a customer's committed payments and cash-outs on `day` (UTC) add up to."""
        key = (account, currency, day)
        kept = self._spent.get(key)
        if kept is not None:
            return kept
        changes, quiet = self._spending_changes, self._spending_writes == 0
        spent = await read(self.engine, self._read_spent_on, account, currency, day)
        if quiet and changes == self._spending_changes:
            if len(self._spent) >= CUSTOMERS_KEPT_MAX:
                self._spent.clear()
            self._spent[key] = spent
        return spent

    def _written(self, row: PaymentRow) -> None:
        """Keep a payment just written, and count it in its day's spending if it is kept."""
        self._payments.keep(row.id, row)
        key = (row.account, row.currency, row.day)
        if _spends(row) and key in self._spent:
            self._spent[key] += row.amount_minor

    @contextlib.asynccontextmanager
    async def _changing_spending(self, spends: bool) -> AsyncIterator[None]:
        if not spends:
            yield
            return
        self._spending_writes += 1
        self._spending_changes += 1
        try:
            yield
        finally:
            self._spending_writes -= 1
            self._spending_changes += 1

    def _read_spent_on(self, account: str, currency: str, day: str) -> int:
        [(spent,)] = self._spent_on.rows(account=account, currency=currency, day=day)
        return int(spent)

    def payments_of(self, account: str) -> list[PaymentRow]:
        """A customer's payments, cash-outs and distributions, newest first (at most
        `HISTORY_ROWS_MAX`)."""
        query = select(PAYMENTS).where(PAYMENTS.c.account == account).order_by(
            PAYMENTS.c.created_at_s.desc(), PAYMENTS.c.id.desc()).limit(HISTORY_ROWS_MAX)
        with self.engine.connect() as db:
            rows = db.execute(query).mappings().all()
        return [PaymentRow.model_validate(dict(row)) for row in rows]

    def payments_by_tx(self, tx_ids: Collection[str]) -> dict[str, PaymentRow]:
        """This bank's payments with these transaction ids, by id."""
        if not tx_ids:
            return {}
        with self.engine.connect() as db:
            rows = db.execute(select(PAYMENTS).where(PAYMENTS.c.tx_id.in_(list(tx_ids)))
                              ).mappings().all()
        return {row["tx_id"]: PaymentRow.model_validate(dict(row)) for row in rows}

    def every_payment(self) -> Iterator[PaymentRow]:
        """All payments, oldest first, read in chunks."""
        last_time, last_id = -1, ""
        while True:
            query = select(PAYMENTS).where(
                (PAYMENTS.c.created_at_s > last_time)
                | ((PAYMENTS.c.created_at_s == last_time) & (PAYMENTS.c.id > last_id))
            ).order_by(PAYMENTS.c.created_at_s, PAYMENTS.c.id).limit(ROWS_PER_READ)
            with self.engine.connect() as db:
                rows = [PaymentRow.model_validate(dict(r))
                        for r in db.execute(query).mappings().all()]
            yield from rows
            if len(rows) < ROWS_PER_READ:
                return
            last_time, last_id = rows[-1].created_at_s, rows[-1].id


def _executing(statement: Executable) -> Callable[[Connection], None]:
    """A write that executes one statement."""
    def execute(db: Connection) -> None:
        db.execute(statement)
    return execute


def _refuse_taken(db: Connection, row: CustomerRow) -> None:
    """409 if another customer has the row's account, key or phone."""
    for column, code in (("account", "account_taken"), ("key", "key_taken"),
                         ("phone", "phone_taken")):
        value = getattr(row, column)
        if value is not None and db.execute(select(CUSTOMERS.c.account).where(
                CUSTOMERS.c[column] == value)).first() is not None:
            raise conflict(code, f"a customer with this {column} exists")


def _add_customer(db: Connection, row: CustomerRow) -> None:
    _refuse_taken(db, row)
    try:
        db.execute(CUSTOMERS.insert().values(**row.model_dump()))
    except IntegrityError:  # a concurrent insert won the race between check and insert
        raise conflict("account_taken", "a customer with this account exists") from None


def _customer_in(db: Connection, condition: Any) -> CustomerRow | None:
    row = db.execute(select(CUSTOMERS).where(condition)).mappings().first()
    return CustomerRow.model_validate(dict(row)) if row is not None else None


def _spends(row: PaymentRow) -> bool:
    """Whether the payment, as recorded, counts toward its day's limit."""
    return row.status == "committed" and row.kind in LIMITED_KINDS


def _payment_in(db: Connection, payment_id: str) -> PaymentRow | None:
    row = db.execute(_PAYMENT, {"payment_id": payment_id}).mappings().first()
    return PaymentRow.model_validate(dict(row)) if row is not None else None
