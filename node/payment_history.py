"""A customer's payment history and the bank's payments report.

The history joins two sources, newest first:

* the bank's own records: the customer's payments and cash-outs (from prepared on) and the
  distributions it made into the wallet;
* incoming money, from the ledger: the central bank lists the customer's notes, spent ones too;
  each transaction that created a note for the customer and is not one of the customer's own
  records (change comes back from one's own payments) is an incoming payment. When the payer is
  a customer of this bank its record names the payer and the time; otherwise the payer's bank
  alone knows the payer (`counterparty` is empty) and the time shown is the note's issue time,
  the only time the ledger shares with the payee's bank.

The cursor of a page is the `created_at_s.payment_id` of its last item. The report is the bank's
own records only (what it prepared, forwarded and distributed), as CSV.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from engine.model import TokenRef
from node.bank_store import BankStore
from node.central_link import CentralClient
from node.errors import bad_request
from node.messages import PAGE_SIZE_MAX, NotesQuery, NoteWire, Page, PaymentList, PaymentWire
from node.tables import CustomerRow, PaymentRow
from node.wire import token_from_wire

HISTORY_NOTE_PAGES_MAX: Final = 10  # pages of a customer's notes read for one history page
REPORT_COLUMNS: Final = ("payment_id", "account", "kind", "counterparty", "amount_minor",
                         "currency", "token", "status", "tx_id", "code", "reason",
                         "created_at_s")


def token_label(token: TokenRef | None) -> str:
    """How a payment names its money's token: `contract/token`, empty for plain money."""
    return f"{token.contract}/{token.token}" if token is not None else ""


def payment_to_wire(row: PaymentRow) -> PaymentWire:
    """The API form of a payment record."""
    return PaymentWire(payment_id=row.id, account=row.account, kind=row.kind,
                       counterparty=row.counterparty, amount_minor=row.amount_minor,
                       currency=row.currency, token=row.token,
                       status=row.status,  # type: ignore[arg-type]  # written by this module's bank
                       tx_id=row.tx_id, code=row.code, reason=row.reason,
                       created_at_s=row.created_at_s)


@dataclass(frozen=True, slots=True)
class PaymentHistory:
    """Histories of one bank's customers."""

    store: BankStore
    central: CentralClient

    async def page(self, customer: CustomerRow, page: Page) -> PaymentList:
        """One page of the customer's payments, newest first."""
        own = await asyncio.to_thread(self.store.payments_of, customer.account)
        items = [payment_to_wire(row) for row in own]
        items += await self._incoming(customer, {row.tx_id for row in own})
        items.sort(key=_order, reverse=True)
        if page.after:
            cursor = _cursor(page.after)
            items = [item for item in items if _order(item) < cursor]
        chosen = items[:page.limit]
        more = len(items) > page.limit
        return PaymentList(items=chosen, next=_cursor_text(chosen[-1]) if more else None)

    async def _incoming(self, customer: CustomerRow, own: set[str]) -> list[PaymentWire]:
        by_tx: dict[str, list[NoteWire]] = defaultdict(list)
        for note in await self._notes(customer.key):
            if note.created_by not in own:
                by_tx[note.created_by].append(note)
        payers = await asyncio.to_thread(self.store.payments_by_tx, set(by_tx))
        return [_incoming(customer.account, notes, payers.get(tx_id))
                for tx_id, notes in by_tx.items()]

    async def _notes(self, owner: str) -> list[NoteWire]:
        notes: list[NoteWire] = []
        after = ""
        for _ in range(HISTORY_NOTE_PAGES_MAX):
            page = await self.central.notes(NotesQuery(owner=owner, include_spent=True,
                                                       limit=PAGE_SIZE_MAX, after=after))
            notes += page.items
            if page.next is None:
                break
            after = page.next
        return notes


def _incoming(account: str, notes: list[NoteWire], payer: PaymentRow | None) -> PaymentWire:
    first = notes[0]
    return PaymentWire(
        payment_id=first.created_by, account=account, kind="incoming",
        counterparty=payer.account if payer is not None else "",
        amount_minor=sum(note.amount_minor for note in notes), currency=first.currency,
        token=token_label(token_from_wire(first.token)), status="committed",
        tx_id=first.created_by,
        created_at_s=payer.created_at_s if payer is not None else first.issued_at_s)


def _order(item: PaymentWire) -> tuple[int, str]:
    return item.created_at_s, item.payment_id


def _cursor_text(item: PaymentWire) -> str:
    return f"{item.created_at_s}.{item.payment_id}"


def _cursor(text: str) -> tuple[int, str]:
    time_text, _, payment_id = text.partition(".")
    if not time_text.isdigit() or not payment_id:
        raise bad_request("invalid_request", "after: not a cursor this list returned")
    return int(time_text), payment_id


def payments_csv(rows: Iterable[PaymentRow]) -> str:
    """The report: one line per payment record, the columns of `REPORT_COLUMNS`."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(REPORT_COLUMNS)
    for row in rows:
        wire = payment_to_wire(row)
        writer.writerow([getattr(wire, column) for column in REPORT_COLUMNS])
    return text.getvalue()
