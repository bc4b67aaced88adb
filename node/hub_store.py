"""The hub's durable state: the quotes it offered and every payment's stage.

A payment row is written before each step that reaches outside the hub (accepting the quote,
instructing the provider, sending the pacs.008, releasing the preimage), and each of those steps
is idempotent at the other end, so a hub killed at any moment redoes at most the step it was in
and ends where it would have ended. The preimage is stored with the payment before its hashlock
leaves the hub: a preimage that is lost would leave the legs to refund, never to half-settle.

Each order makes the provider reserve liquidity until the source deadline, so a sender holds at
most `OPEN_ORDERS_PER_SENDER_MAX` orders whose source is not locked yet: an order is open while
it is being accepted or awaits its source, until its source deadline, after which it lapses (the
provider's reservation lapses then too). The count and the insert are one write of the hub's
single writer, so concurrent orders cannot both take the last place, on SQLite and on a
database server alike.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import Engine, bindparam, func, select

from bridges.iso20022 import TransactionStatus
from node.database import Writer, read
from node.errors import NodeError, unprocessable
from node.fx_messages import QuoteWire
from node.recent import Recent
from node.settlement_messages import Destination
from node.tables import HUB_PAYMENTS as PAYMENTS
from node.tables import HUB_QUOTES as QUOTES

PAYMENTS_PER_PASS_MAX: Final = 500  # payments one pass of the driver looks at
QUOTES_KEPT_MAX: Final = 100_000  # offered quotes kept in memory (the oldest forgotten)
PAYMENTS_KEPT_MAX: Final = 100_000  # payments written or read lately, kept in memory
# Orders one sender may hold whose source is not locked yet: each holds a provider's liquidity
# until its source deadline, and a wallet app orders one payment at a time.
OPEN_ORDERS_PER_SENDER_MAX: Final = 3
# Built once: every payment runs them, and building one cost more than running it.
_QUOTE: Final = select(QUOTES).where(QUOTES.c.id == bindparam("quote_id"))
_PAYMENT: Final = select(PAYMENTS).where(PAYMENTS.c.id == bindparam("payment_id"))
_SAVE: Final = PAYMENTS.update().where(PAYMENTS.c.id == bindparam("payment_id"))
_OF_QUOTE: Final = select(PAYMENTS).where(PAYMENTS.c.quote_id == bindparam("quote_id"))
_INSERT_PAYMENT: Final = PAYMENTS.insert()
_INSERT_QUOTE: Final = QUOTES.insert()


class Stage(StrEnum):
    """Where a payment is in the hub's work; the next step follows from it alone."""

    ACCEPTING = "accepting"  # the provider is being asked to reserve
    AWAITING_SOURCE = "awaiting_source"  # the sender has still to lock the source leg
    SOURCE_REPORTED = "source_reported"  # the provider is to verify it and lock its leg
    SWITCH_CREDIT = "switch_credit"  # the pacs.008 is (being) sent to the partner switch
    RELEASING = "releasing"  # the outcome (and preimage) is being given to the provider
    DESTINATION_LOCKED = "destination_locked"  # waiting for the receiver's claim or refund
    DONE = "done"


# A sender's orders whose source is not locked yet, their source deadline still ahead.
_OPEN_OF: Final = select(func.count()).where(
    PAYMENTS.c.sender == bindparam("sender"),
    PAYMENTS.c.stage.in_([Stage.ACCEPTING.value, Stage.AWAITING_SOURCE.value]),
    PAYMENTS.c.source_deadline_s > bindparam("now_s"))


@dataclass(frozen=True, slots=True)
class OfferedQuote:
    """A quote the hub offered a sender, with the destination it was asked for."""

    quote: QuoteWire
    requester: str
    destination: Destination


@dataclass(frozen=True, slots=True)
class HubPayment:
    """One payment's row."""

    id: str
    quote_id: str
    sender: str
    stage: Stage
    # pacs.002: PDNG until the source is locked, ACWP while the destination is under way,
    # then ACCC, RJCT (each leg refunds to its payer) or BLCK.
    status: TransactionStatus
    preimage: str
    hashlock: str
    source_deadline_s: int
    destination_deadline_s: int
    created_at_s: int
    updated_at_s: int
    pay_to: str = ""
    source_tx_id: str = ""
    destination_note_id: str = ""
    code: str = ""
    detail: str = ""


_COLUMNS: Final = tuple(f.name for f in fields(HubPayment))


class HubStore:
    """The hub's tables; every write goes through the service's one writer.

    An offered quote never changes, and a payment's settlement reads its quote at nearly every
    stage, so the quotes offered or read lately are kept in memory (`QUOTES_KEPT_MAX`). So are
    the payments written or read lately (`PAYMENTS_KEPT_MAX`), each as last written: the hub
    is the only writer of its tables, and every step of a payment reads it first."""

    def __init__(self, engine: Engine, writer: Writer) -> None:
        self._engine = engine
        self._writer = writer
        self._quotes: Recent[str, OfferedQuote] = Recent(QUOTES_KEPT_MAX)  # by quote id
        self._payments: Recent[str, HubPayment] = Recent(PAYMENTS_KEPT_MAX)  # by payment id

    async def offer(self, offered: OfferedQuote) -> None:
        """Keep a quote offered to `offered.requester`."""
        values = {"id": offered.quote.id, "requester": offered.requester,
                  "quote": offered.quote.model_dump_json(),
                  "destination": offered.destination.model_dump_json()}
        await self._writer.write(lambda db: db.execute(_INSERT_QUOTE, values).rowcount)
        self._quotes.keep(offered.quote.id, offered)

    async def offered(self, quote_id: str, requester: str) -> OfferedQuote | None:
        """The quote `quote_id` if it was offered to `requester`."""
        offered = await self._offered(quote_id)
        return offered if offered is not None and offered.requester == requester else None

    async def _offered(self, quote_id: str) -> OfferedQuote | None:
        return await self._quotes.read_through(quote_id, lambda: self._read_quote(quote_id))

    async def _read_quote(self, quote_id: str) -> OfferedQuote | None:
        row = await read(self._engine, self._one, _QUOTE, {"quote_id": quote_id})
        if row is None:
            return None
        return OfferedQuote(QuoteWire.model_validate_json(row["quote"]), row["requester"],
                            Destination.model_validate_json(row["destination"]))

    async def create(self, payment: HubPayment, expires_at_s: int) -> HubPayment | None:
        """Insert `payment`, or return the payment already made from its quote (one payment per
        quote: a resent order finds the first, also once the quote has expired); None when
        there is none and the quote expired at `expires_at_s`, before the payment's time.
        Refuses `open_orders_exceeded` (422) when its sender holds `OPEN_ORDERS_PER_SENDER_MAX`
        open orders as of the payment's time."""
        def job(db: Any) -> HubPayment | None:
            found = db.execute(_OF_QUOTE, {"quote_id": payment.quote_id}).mappings().first()
            if found is not None:
                return _payment(found)
            if payment.created_at_s >= expires_at_s:
                return None
            held = db.execute(_OPEN_OF, {"sender": payment.sender,
                                         "now_s": payment.created_at_s}).scalar()
            if int(held or 0) >= OPEN_ORDERS_PER_SENDER_MAX:
                raise unprocessable("open_orders_exceeded", f"this sender holds {held} orders "
                                    "whose source is not locked yet, the most it may; lock "
                                    "one or let it lapse at its source deadline",
                                    open_orders_max=OPEN_ORDERS_PER_SENDER_MAX)
            db.execute(_INSERT_PAYMENT, _values(payment))
            return payment
        stored: HubPayment | None = await self._writer.write(job)
        if stored is not None:
            self._payments.keep(stored.id, stored)
        return stored

    async def save(self, payment: HubPayment, **changes: Any) -> HubPayment:
        """`payment` with `changes` (and the time of the change), stored."""
        changed = replace(payment, **{"updated_at_s": int(time.time()), **changes})
        values = {k: v for k, v in _values(changed).items() if k != "id"}
        values["payment_id"] = payment.id
        await self._writer.write(lambda db: db.execute(_SAVE, values).rowcount)
        self._payments.keep(changed.id, changed)
        return changed

    async def payment(self, payment_id: str) -> HubPayment | None:
        """The payment `payment_id`."""
        return await self._payments.read_through(payment_id,
                                                 lambda: self._read_payment(payment_id))

    async def _read_payment(self, payment_id: str) -> HubPayment | None:
        row = await read(self._engine, self._one, _PAYMENT, {"payment_id": payment_id})
        return None if row is None else _payment(row)

    async def unfinished(self, now_s: float) -> list[HubPayment]:
        """Payments the driver has work on at `now_s`, oldest first: not done, and not waiting
        for a sender whose deadline is still ahead (only the sender moves those on)."""
        waiting = ((PAYMENTS.c.stage == Stage.AWAITING_SOURCE.value)
                   & (PAYMENTS.c.source_deadline_s > now_s))
        query = (select(PAYMENTS).where(PAYMENTS.c.stage != Stage.DONE.value, ~waiting)
                 .order_by(PAYMENTS.c.created_at_s).limit(PAYMENTS_PER_PASS_MAX))
        rows = await asyncio.to_thread(self._all, query)
        return [_payment(row) for row in rows]

    async def destination_of(self, payment: HubPayment) -> Destination:
        """The destination the payment's quote was offered for."""
        return (await self._quote_of(payment)).destination

    async def quote_of(self, payment: HubPayment) -> QuoteWire:
        """The quote the payment settles."""
        return (await self._quote_of(payment)).quote

    async def _quote_of(self, payment: HubPayment) -> OfferedQuote:
        offered = await self._offered(payment.quote_id)
        if offered is None:  # every payment is made from an offered quote
            raise inconsistent(f"payment {payment.id} has no offered quote {payment.quote_id}")
        return offered

    def _one(self, query: Any, parameters: dict[str, str]) -> Any:
        with self._engine.connect() as db:
            return db.execute(query, parameters).mappings().first()

    def _all(self, query: Any) -> list[Any]:
        with self._engine.connect() as db:
            return list(db.execute(query).mappings())


def inconsistent(detail: str) -> NodeError:
    """The hub's own tables contradict each other: a bug or a damaged database, never input."""
    return NodeError(500, "hub_state_inconsistent", "Hub state inconsistent", detail)


def _values(payment: HubPayment) -> dict[str, Any]:
    values = {name: getattr(payment, name) for name in _COLUMNS}
    values["stage"], values["status"] = payment.stage.value, payment.status.value
    return values


def _payment(row: Any) -> HubPayment:
    values = {name: row[name] for name in _COLUMNS}
    values["stage"], values["status"] = Stage(row["stage"]), TransactionStatus(row["status"])
    return HubPayment(**values)
