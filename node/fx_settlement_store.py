"""The FX provider's settlement records: one row per accepted payment, its reservation and legs.

The table, `fx_settlements`, is a node table (`node.tables`, created and upgraded by the node's
migrations). Every write goes through the provider's single `Writer`, so a write that reads
before it inserts (`reserve`: the caller's cap, the liquidity check and the reservation) runs
alone against every other write: two acceptances can never both fit into the same liquidity,
nor one hub's past its cap.

A reservation holds liquidity from acceptance on, and for good once its payment settles; it
stops when the payment is released (refunded or refused) or when it lapses: still accepted, its
source never locked, at its source deadline (no destination may be locked after it). The loop
then marks a lapsed payment refunded (`SettlementDesk._expire_unlocked`); the sums do not wait
for it. An accepted reservation before its deadline is open: a hub holds at most
`OPEN_RESERVATIONS_PER_CALLER_MAX` of those, so senders who order and never lock cannot hold
a provider's whole liquidity through it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import lru_cache
from typing import Any, Final

from sqlalchemy import (
    Engine,
    and_,
    bindparam,
    func,
    or_,
    select,
)
from sqlalchemy.engine import Connection

from engine.lookup import Lookup
from node.database import Writer, read
from node.errors import conflict, unprocessable
from node.recent import Recent
from node.settlement_messages import AcceptanceRequest, LegStatus
from node.tables import FX_SETTLEMENTS as SETTLEMENTS

# A reservation stops counting against liquidity once nothing left the provider for good.
RELEASED: Final = frozenset({LegStatus.REFUNDED, LegStatus.REFUSED})
# The payments the settlement loop still drives.
DRIVEN: Final = (LegStatus.ACCEPTED, LegStatus.SOURCE_LOCKED, LegStatus.DESTINATION_LOCKED,
                 LegStatus.DESTINATION_CLAIMED)

ROWS_KEPT_MAX: Final = 100_000  # rows written or read lately, kept in memory by payment id
TERMS_KEPT_MAX: Final = 4_096  # accepted requests kept parsed
# Built once: every handler and pass reads a row by one of these columns.
_BY: Final = {column: select(SETTLEMENTS).where(SETTLEMENTS.c[column] == bindparam("value"))
              for column in ("payment_id", "quote_id", "source_note_id")}
_UPDATE: Final = SETTLEMENTS.update().where(SETTLEMENTS.c.payment_id == bindparam("row_id"))
_INSERT: Final = SETTLEMENTS.insert()
_OPEN: Final = and_(SETTLEMENTS.c.status == LegStatus.ACCEPTED.value,
                    SETTLEMENTS.c.source_deadline_s > bindparam("now_s"))
# Conditions of single values, not lists: a `Lookup` runs `_RESERVED` for every quote.
_HOLDING: Final = and_(*(SETTLEMENTS.c.status != status.value for status in sorted(RELEASED)),
                       or_(SETTLEMENTS.c.status != LegStatus.ACCEPTED.value, _OPEN))
_RESERVED: Final = select(func.coalesce(func.sum(SETTLEMENTS.c.reserved_minor), 0)).where(
    SETTLEMENTS.c.destination_currency == bindparam("currency"), _HOLDING)
_OPEN_OF: Final = select(func.count()).where(SETTLEMENTS.c.requester == bindparam("requester"),
                                             _OPEN)
_TAKEN: Final = select(SETTLEMENTS).where((SETTLEMENTS.c.quote_id == bindparam("quote_id"))
                                          | (SETTLEMENTS.c.payment_id == bindparam("payment_id")))


@dataclass(frozen=True, slots=True)
class Settlement:
    """One payment's row: its reservation, what is known of each leg, and why it ended."""

    payment_id: str
    quote_id: str
    requester: str
    status: LegStatus
    source_currency: str
    source_minor: int
    destination_currency: str
    reserved_minor: int
    accepted_at_s: int
    source_deadline_s: int  # the request's, kept as a column (the reservation lapses at it)
    request: bytes
    source_note_id: str | None = None
    destination_signed: bytes | None = None
    destination_note_id: str | None = None
    preimage: str | None = None
    code: str = ""
    detail: str = ""

    @property
    def terms(self) -> AcceptanceRequest:
        """The accepted request: hashlock, deadlines and destination."""
        return _terms(self.request)


_COLUMNS: Final = tuple(f.name for f in fields(Settlement))


@lru_cache(maxsize=TERMS_KEPT_MAX)
def _terms(request: bytes) -> AcceptanceRequest:
    # Every step and every pass asks a row for its terms: parse each stored request once. The
    # model is shared between the rows of one request, so nobody may change it.
    return AcceptanceRequest.model_validate_json(request)


class SettlementBook:
    """The settlement rows, read directly and written through the provider's writer.

    The rows written or read lately are kept in memory by payment id (`ROWS_KEPT_MAX`), each as
    last written: the provider is the only writer of its table, and every report from the hub
    and every pass reads the payment's row first."""

    def __init__(self, engine: Engine, writer: Writer) -> None:
        self._engine = engine
        self._writer = writer
        self._rows: Recent[str, Settlement] = Recent(ROWS_KEPT_MAX)
        self._by = {column: Lookup(engine, statement) for column, statement in _BY.items()}
        self._reserved = Lookup(engine, _RESERVED)

    async def reserve(self, row: Settlement, liquidity_minor: int,
                      open_per_caller_max: int) -> Settlement:
        """Insert `row` if its quote is not taken, its requester holds fewer than
        `open_per_caller_max` open reservations, and its credit fits `liquidity_minor` beside
        the reservations holding its currency, as of its `accepted_at_s`; the stored row if
        this very payment was accepted before. Refusals: `quote_taken`, `payment_exists` (409),
        `open_reservations_exceeded`, `liquidity_exceeded` (422)."""
        def job(db: Connection) -> Settlement:
            taken = _taken(db, row)
            if taken is not None:
                return taken
            now_s = row.accepted_at_s
            held = db.execute(_OPEN_OF, {"requester": row.requester, "now_s": now_s}).scalar()
            if int(held or 0) >= open_per_caller_max:
                raise unprocessable("open_reservations_exceeded", f"this caller holds {held} "
                                    f"reservations whose source is not locked yet, the most "
                                    f"it may")
            reserved = db.execute(_RESERVED, {"currency": row.destination_currency,
                                              "now_s": now_s}).scalar()
            if int(reserved or 0) + row.reserved_minor > liquidity_minor:
                raise unprocessable("liquidity_exceeded", f"{reserved} of {liquidity_minor} "
                                    f"minor units of {row.destination_currency} are reserved; "
                                    f"{row.reserved_minor} more do not fit")
            db.execute(_INSERT, _values(row))
            return row
        stored = await self._writer.write(job)
        self._rows.keep(stored.payment_id, stored)
        return stored

    async def reserved(self, currency: str, now_s: int) -> int:
        """What the reservations holding `currency` at `now_s` hold, in minor units."""
        found = await read(self._engine, self._reserved.rows, currency=currency, now_s=now_s)
        return int(found[0][0])

    async def by_payment(self, payment_id: str) -> Settlement | None:
        """The row of `payment_id`, if accepted."""
        return await self._rows.read_through(
            payment_id, lambda: read(self._engine, self._one, "payment_id", payment_id))

    async def by_quote(self, quote_id: str) -> Settlement | None:
        """The payment that accepted `quote_id`, if any."""
        return await read(self._engine, self._one, "quote_id", quote_id)

    async def by_source_note(self, note: str) -> Settlement | None:
        """The payment that `note` already backs, if any."""
        return await read(self._engine, self._one, "source_note_id", note)

    def driven(self) -> list[Settlement]:
        """The payments still moving, oldest first (a stuck one keeps its `code`, not its turn)."""
        query = (select(SETTLEMENTS).where(SETTLEMENTS.c.status.in_(list(DRIVEN)),
                                           SETTLEMENTS.c.code == "")
                 .order_by(SETTLEMENTS.c.accepted_at_s, SETTLEMENTS.c.payment_id))
        with self._engine.connect() as db:
            return [_row(r._mapping) for r in db.execute(query)]

    async def update(self, row: Settlement, **values: Any) -> Settlement:
        """Store `values` on `row`; returns `row` with them."""
        changed = replace(row, **values)
        stored = {k: v.value if isinstance(v, LegStatus) else v for k, v in values.items()}
        stored["row_id"] = row.payment_id
        await self._writer.write(lambda db: db.execute(_UPDATE, stored).rowcount)
        # Only `values` were written: the kept row is the kept one with them, which is what
        # the database holds now; with none kept, the next read goes to the database.
        kept = self._rows.get(row.payment_id)
        if kept is None:
            self._rows.forget(row.payment_id)
        else:
            self._rows.keep(row.payment_id, replace(kept, **values))
        return changed

    def _one(self, column: str, value: str) -> Settlement | None:
        found = self._by[column].first(value=value)
        return _row(found) if found is not None else None


def _taken(db: Connection, row: Settlement) -> Settlement | None:
    """The stored acceptance of this same payment and quote, or a refusal if either is taken."""
    found = db.execute(_TAKEN, {"quote_id": row.quote_id, "payment_id": row.payment_id}).first()
    if found is None:
        return None
    stored = _row(found._mapping)
    same = (stored.payment_id, stored.quote_id, stored.requester, stored.terms) == (
        row.payment_id, row.quote_id, row.requester, row.terms)
    if same:
        return stored
    if stored.quote_id == row.quote_id:
        raise conflict("quote_taken", f"quote {row.quote_id} is accepted for another payment")
    raise conflict("payment_exists", f"payment {row.payment_id} accepted another quote")


def _values(row: Settlement) -> dict[str, Any]:
    # Shallow, unlike `asdict`, which copied every value on each of a payment's updates.
    values = {name: getattr(row, name) for name in _COLUMNS}
    values["status"] = row.status.value
    return values


def _row(mapping: Any) -> Settlement:
    values = dict(mapping)
    values["status"] = LegStatus(values["status"])
    return Settlement(**values)
