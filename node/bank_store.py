"""A commercial bank's own records: its customers and their payments (node tables).

Synchronous SQLAlchemy Core on the bank's database; the service calls it from worker threads
(`asyncio.to_thread`), so the event loop never waits on the disk.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any, Final

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError

from node.errors import conflict
from node.tables import CustomerRow, PaymentRow

CUSTOMERS: Final = CustomerRow.__table__  # type: ignore[attr-defined]
PAYMENTS: Final = PaymentRow.__table__  # type: ignore[attr-defined]
ROWS_PER_READ: Final = 1_000  # rows fetched at a time when a report streams the payments
HISTORY_ROWS_MAX: Final = 5_000  # a customer's newest records joined into their history
# Committed payments that count toward the daily KYC limit (distributions are incoming).
LIMITED_KINDS: Final = ("payment", "cash_out")


class BankStore:
    """Customers and payments of one bank."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ---- customers ------------------------------------------------------------------------

    def add_customer(self, row: CustomerRow) -> None:
        """Insert a customer; 409 `account_taken`, `phone_taken` or `key_taken` on a duplicate."""
        with self.engine.begin() as db:
            for column, code in (("account", "account_taken"), ("key", "key_taken"),
                                 ("phone", "phone_taken")):
                value = getattr(row, column)
                if value is not None and db.execute(select(CUSTOMERS.c.account).where(
                        CUSTOMERS.c[column] == value)).first() is not None:
                    raise conflict(code, f"a customer with this {column} exists")
            try:
                db.execute(CUSTOMERS.insert().values(**row.model_dump()))
            except IntegrityError:  # a concurrent insert won the race between check and insert
                raise conflict("account_taken", "a customer with this account exists") from None

    def remove_customer(self, account: str) -> None:
        """Undo an opening the central bank refused."""
        with self.engine.begin() as db:
            db.execute(CUSTOMERS.delete().where(CUSTOMERS.c.account == account))

    def customer(self, account: str) -> CustomerRow | None:
        """The customer with this account id."""
        return self._customer_where(CUSTOMERS.c.account == account)

    def customer_by_key(self, key: str) -> CustomerRow | None:
        """The customer whose wallet key this is."""
        return self._customer_where(CUSTOMERS.c.key == key)

    def customer_by_phone(self, phone: str) -> CustomerRow | None:
        """The customer with this phone number."""
        return self._customer_where(CUSTOMERS.c.phone == phone)

    def customers(self, after: str, limit: int) -> list[CustomerRow]:
        """Customers by account id, from after the cursor `after`."""
        query = select(CUSTOMERS).where(CUSTOMERS.c.account > after)
        with self.engine.connect() as db:
            rows = db.execute(query.order_by(CUSTOMERS.c.account).limit(limit)).mappings().all()
        return [CustomerRow.model_validate(dict(row)) for row in rows]

    def set_kyc(self, account: str, tier: int) -> CustomerRow | None:
        """Change a customer's KYC tier; the customer as it is now, if it exists."""
        with self.engine.begin() as db:
            db.execute(update(CUSTOMERS).where(CUSTOMERS.c.account == account)
                       .values(kyc_tier=tier))
        return self.customer(account)

    def _customer_where(self, condition: Any) -> CustomerRow | None:
        with self.engine.connect() as db:
            row = db.execute(select(CUSTOMERS).where(condition)).mappings().first()
        return CustomerRow.model_validate(dict(row)) if row is not None else None

    # ---- payments -------------------------------------------------------------------------

    def add_payment(self, row: PaymentRow) -> None:
        """Record a payment (prepared, or answered for a distribution)."""
        with self.engine.begin() as db:
            db.execute(PAYMENTS.insert().values(**row.model_dump()))

    def payment(self, payment_id: str) -> PaymentRow | None:
        """The payment with this id."""
        with self.engine.connect() as db:
            row = db.execute(select(PAYMENTS).where(PAYMENTS.c.id == payment_id)
                             ).mappings().first()
        return PaymentRow.model_validate(dict(row)) if row is not None else None

    def answer(self, payment_id: str, changes: dict[str, Any]) -> PaymentRow | None:
        """Record what became of a payment (status, code, reason, rule, day)."""
        with self.engine.begin() as db:
            db.execute(update(PAYMENTS).where(PAYMENTS.c.id == payment_id).values(**changes))
        return self.payment(payment_id)

    def spent_on(self, account: str, currency: str, day: str) -> int:
        """What a customer's committed payments and cash-outs on `day` (UTC) add up to."""
        query = select(func.coalesce(func.sum(PAYMENTS.c.amount_minor), 0)).where(
            PAYMENTS.c.account == account, PAYMENTS.c.currency == currency,
            PAYMENTS.c.day == day, PAYMENTS.c.status == "committed",
            PAYMENTS.c.kind.in_(LIMITED_KINDS))
        with self.engine.connect() as db:
            return int(db.execute(query).scalar_one())

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
