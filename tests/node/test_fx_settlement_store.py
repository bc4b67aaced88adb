"""The provider's settlement rows kept in memory (`node.fx_settlement_store`) stay true to its
database: every read by payment answers the row as last written, also when a read from the
database spans an update.

Method: a `SettlementBook` on a fresh SQLite database, read back through a new book on the same
database. A read that must span an update runs in a worker thread, as reads do on a database
server (`on_a_server`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from held_reads import HeldRead, on_a_server

from node import fx_settlement_store
from node.database import Writer, open_database
from node.fx_settlement_store import Settlement, SettlementBook
from node.settlement_messages import LegStatus

ROW = Settlement(payment_id="a" * 32, quote_id="q-1", requester="b" * 64,
                 status=LegStatus.ACCEPTED, source_currency="KHR", source_minor=1_000_000,
                 destination_currency="THB", reserved_minor=8_000, accepted_at_s=1,
                 request=b"{}")


def book(tmp_path: Path) -> SettlementBook:
    """A book on the test's database (the same one at every call)."""
    engine = open_database(f"sqlite:///{tmp_path / 'fx.db'}")
    return SettlementBook(engine, Writer(engine))


def test_every_read_answers_the_row_as_last_written(tmp_path: Path) -> None:
    """Updates from stale copies of the row only write their own columns, and every read, in
    this book or a new one, answers what the database holds."""
    fx = book(tmp_path)

    async def scenario() -> None:
        await fx.reserve(ROW, liquidity_minor=10_000)
        await fx.update(ROW, status=LegStatus.SOURCE_LOCKED, source_note_id="n-1")
        await fx.update(ROW, preimage="c" * 64)  # from the row as accepted: status untouched
        kept = await fx.by_payment(ROW.payment_id)
        fresh = await book(tmp_path).by_payment(ROW.payment_id)
        assert kept == fresh
        assert fresh is not None
        assert (fresh.status, fresh.source_note_id, fresh.preimage) == (
            LegStatus.SOURCE_LOCKED, "n-1", "c" * 64)
        assert await fx.by_payment("f" * 32) is None

    asyncio.run(scenario())


def test_a_read_that_spans_an_update_is_not_kept(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A new book reads a row while the provider updates it: the read answers what it read,
    and the next read answers the update."""
    on_a_server(monkeypatch, fx_settlement_store)
    asyncio.run(book(tmp_path).reserve(ROW, liquidity_minor=10_000))
    fx = book(tmp_path)

    async def scenario() -> None:
        held = HeldRead(monkeypatch, fx, "_one")
        early = asyncio.create_task(fx.by_payment(ROW.payment_id))
        await held.has_read()
        await fx.update(ROW, status=LegStatus.SOURCE_LOCKED)
        held.release()
        assert await early == ROW  # it read before the update
        now = await fx.by_payment(ROW.payment_id)
        assert now is not None and now.status is LegStatus.SOURCE_LOCKED

    asyncio.run(scenario())
