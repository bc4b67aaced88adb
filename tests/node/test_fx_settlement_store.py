"""The provider's settlement rows (`node.fx_settlement_store`): the rows kept in memory stay
true to its database, every read by payment answering the row as last written, also when a read
from the database spans an update; and `reserve` counts only the reservations that hold
liquidity and caps each caller's open ones, atomically.

Method: a `SettlementBook` on a fresh SQLite database, read back through a new book on the same
database. A read that must span an update runs in a worker thread, as reads do on a database
server (`on_a_server`). The rows' times are plain numbers: the book takes its "now" from each
row's `accepted_at_s`.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest
from held_reads import HeldRead, on_a_server

from node import fx_settlement_store
from node.database import Writer, open_database
from node.errors import NodeError
from node.fx_settlement_store import Settlement, SettlementBook
from node.settlement_messages import LegStatus

ROW = Settlement(payment_id="a" * 32, quote_id="q-1", requester="b" * 64,
                 status=LegStatus.ACCEPTED, source_currency="KHR", source_minor=1_000_000,
                 destination_currency="THB", reserved_minor=8_000, accepted_at_s=1,
                 source_deadline_s=100, request=b"{}")
LIQUIDITY = 10_000
OPEN_MAX = 1_000  # far from the tests of liquidity
HUB, OTHER_HUB = "b" * 64, "e" * 64


def row(number: int, reserved_minor: int = 1_000, *, at_s: int = 1, requester: str = HUB,
        deadline_s: int = 100) -> Settlement:
    """Another payment of `reserved_minor` accepted at `at_s` until `deadline_s`."""
    return replace(ROW, payment_id=f"{number:032x}", quote_id=f"quote-{number}",
                   requester=requester, reserved_minor=reserved_minor, accepted_at_s=at_s,
                   source_deadline_s=deadline_s)


async def refusal(fx: SettlementBook, payment: Settlement, open_max: int = OPEN_MAX) -> str:
    """The code `reserve` refuses `payment` with ("" if it is reserved)."""
    try:
        await fx.reserve(payment, LIQUIDITY, open_max)
    except NodeError as error:
        return error.problem.code
    return ""


def book(tmp_path: Path) -> SettlementBook:
    """A book on the test's database (the same one at every call)."""
    engine = open_database(f"sqlite:///{tmp_path / 'fx.db'}")
    return SettlementBook(engine, Writer(engine))


def test_every_read_answers_the_row_as_last_written(tmp_path: Path) -> None:
    """Updates from stale copies of the row only write their own columns, and every read, in
    this book or a new one, answers what the database holds."""
    fx = book(tmp_path)

    async def scenario() -> None:
        await fx.reserve(ROW, LIQUIDITY, OPEN_MAX)
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
    asyncio.run(book(tmp_path).reserve(ROW, LIQUIDITY, OPEN_MAX))
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


def test_a_reservation_never_locked_stops_counting_at_its_source_deadline(tmp_path: Path,
                                                                           ) -> None:
    """The finding of issue 21: reservations whose source was never locked held the liquidity
    after their deadline. 8 000 of 10 000 reserved until 100 leave no room for 8 000 more at
    99; at 100 the first has lapsed and the second fits, without waiting for the loop to mark
    the first refunded. A source locked keeps its reservation past the deadline, and so does
    a settled payment: the provider paid it out."""
    fx = book(tmp_path)

    async def scenario() -> None:
        await fx.reserve(ROW, LIQUIDITY, OPEN_MAX)
        assert await refusal(fx, row(1, 8_000, at_s=99, deadline_s=300)) == "liquidity_exceeded"
        assert await refusal(fx, row(2, 8_000, at_s=100, deadline_s=300)) == ""
        locked = await fx.by_payment(row(2).payment_id)
        assert locked is not None
        await fx.update(locked, status=LegStatus.SOURCE_LOCKED)
        assert await refusal(fx, row(3, 8_000, at_s=301, deadline_s=900)) == (
            "liquidity_exceeded")
        await fx.update(locked, status=LegStatus.SETTLED)
        assert await refusal(fx, row(4, 2_001, at_s=901, deadline_s=1_000)) == (
            "liquidity_exceeded")
        await fx.update(locked, status=LegStatus.REFUNDED)
        assert await refusal(fx, row(5, LIQUIDITY, at_s=901, deadline_s=1_000)) == ""

    asyncio.run(scenario())


def test_a_callers_open_reservations_are_capped_atomically(tmp_path: Path) -> None:
    """With a cap of 3, of ten reservations one hub asks at once exactly three are made, the
    others refused with `open_reservations_exceeded`; another hub is not held back. A
    reservation stops being open once its source is locked or its deadline passed."""
    fx = book(tmp_path)

    async def scenario() -> None:
        asked = await asyncio.gather(*(refusal(fx, row(n), open_max=3) for n in range(10)))
        assert sorted(asked) == ["", "", "", *["open_reservations_exceeded"] * 7]
        assert await refusal(fx, row(10, requester=OTHER_HUB), open_max=3) == ""
        made = [n for n, code in enumerate(asked) if not code]
        locked = await fx.by_payment(row(made[0]).payment_id)
        assert locked is not None
        await fx.update(locked, status=LegStatus.SOURCE_LOCKED)
        assert await refusal(fx, row(11), open_max=3) == ""
        assert await refusal(fx, row(12, at_s=99), open_max=3) == "open_reservations_exceeded"
        assert await refusal(fx, row(13, at_s=100, deadline_s=200), open_max=3) == ""

    asyncio.run(scenario())
