"""The node's one writer per database (`node.database.Writer`): group commit, durability first.

Method: each test runs writes through a `Writer` on a fresh SQLite database with a small table
of its own, counts the database commits with an engine event, and reads the table back through a
new engine (as a restarted node would).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Column, Connection, Engine, Integer, MetaData, Table, event, select
from sqlalchemy.exc import IntegrityError

from node import database
from node.database import Writer, open_database
from node.errors import NodeError, conflict

_METADATA = MetaData()
_ROWS = Table("writer_test_rows", _METADATA, Column("n", Integer, primary_key=True))
WRITES = 40


def fresh(tmp_path: Path) -> tuple[str, Engine, list[str]]:
    """The database url, an engine on it with the test table, and its commit log."""
    url = f"sqlite:///{tmp_path / 'node.db'}"
    engine = open_database(url)
    _METADATA.create_all(engine)
    log: list[str] = []
    event.listen(engine, "commit", lambda _connection: log.append("commit"))
    return url, engine, log


def insert(n: int) -> Callable[[Connection], int]:
    """A write of row `n`."""
    def job(db: Connection) -> int:
        db.execute(_ROWS.insert().values(n=n))
        return n
    return job


def stored(url: str) -> list[int]:
    """The rows as a new engine reads them."""
    engine = open_database(url)
    with engine.connect() as db:
        rows = sorted(db.execute(select(_ROWS.c.n)).scalars())
    engine.dispose()
    return rows


def test_writes_waiting_together_share_one_commit(tmp_path: Path) -> None:
    """While one write holds the writer, the others queue; they then commit in one go."""
    url, engine, log = fresh(tmp_path)
    writer, release = Writer(engine), threading.Event()

    def held(db: Connection) -> int:
        release.wait(10)
        db.execute(_ROWS.insert().values(n=0))
        return 0

    async def scenario() -> list[int]:
        first = asyncio.create_task(writer.write(held))
        await asyncio.sleep(0.05)  # the writer is inside `held` now
        rest = [asyncio.create_task(writer.write(insert(n))) for n in range(1, WRITES)]
        await asyncio.sleep(0.05)  # every other write is queued
        release.set()
        return await asyncio.gather(first, *rest)

    assert asyncio.run(scenario()) == list(range(WRITES))
    assert log == ["commit", "commit"]
    assert stored(url) == list(range(WRITES))
    writer.close()


def test_under_load_a_group_waits_its_window_for_more_writes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a group with company, the next group stays open for `COMMIT_WINDOW_S` (widened
    here so that a loaded machine keeps to the story): two writes 10 ms apart then share one
    commit. After a group of one, a write commits at once, so a lone writer never waits."""
    monkeypatch.setattr(database, "COMMIT_WINDOW_S", 0.5)
    url, engine, log = fresh(tmp_path)
    writer, release = Writer(engine), threading.Event()

    def held(db: Connection) -> int:
        release.wait(10)
        return 0

    async def two_apart(first: int) -> list[int]:
        early = asyncio.create_task(writer.write(insert(first)))
        await asyncio.sleep(0.01)
        return list(await asyncio.gather(early, writer.write(insert(first + 1))))

    async def scenario() -> None:
        busy = [asyncio.create_task(writer.write(held))]
        await asyncio.sleep(0.05)  # the writer is inside `held`: the next two form a group
        busy += [asyncio.create_task(writer.write(insert(n))) for n in (1, 2)]
        await asyncio.sleep(0.05)
        release.set()
        await asyncio.gather(*busy)
        log.append("busy")
        assert await two_apart(10) == [10, 11]
        log.append("windowed")
        await asyncio.sleep(0.05)
        await writer.write(insert(20))  # the last group had company: this one waits alone
        log.append("lone")
        await writer.write(insert(21))  # after a group of one: at once
        log.append("at once")

    asyncio.run(scenario())
    assert log == ["commit", "commit", "busy", "commit", "windowed", "commit", "lone",
                   "commit", "at once"]
    assert stored(url) == [1, 2, 10, 11, 20, 21]
    writer.close()


def test_a_refused_write_does_not_undo_the_others(tmp_path: Path) -> None:
    """A write that raises in a group gets its error; the others of its group still commit,
    each in its own transaction then."""
    url, engine, log = fresh(tmp_path)
    writer, release = Writer(engine), threading.Event()

    def held(db: Connection) -> int:
        release.wait(10)
        return 0

    def refused(db: Connection) -> int:
        db.execute(_ROWS.insert().values(n=1000))
        raise conflict("taken", "refused after writing")

    def duplicate(db: Connection) -> int:
        db.execute(_ROWS.insert().values(n=1))  # row 1 is written by another write
        return 1

    async def scenario() -> list[object]:
        first = asyncio.create_task(writer.write(held))
        await asyncio.sleep(0.05)  # the writer is inside `held`: the rest form one group
        group = [asyncio.create_task(writer.write(job)) for job in
                 [*(insert(n) for n in range(1, 6)), refused, duplicate]]
        await asyncio.sleep(0.05)
        release.set()
        return await asyncio.gather(first, *group, return_exceptions=True)

    answers = asyncio.run(scenario())
    assert answers[:6] == [0, 1, 2, 3, 4, 5]
    assert isinstance(answers[6], NodeError) and answers[6].problem.code == "taken"
    assert isinstance(answers[7], IntegrityError)
    assert stored(url) == [1, 2, 3, 4, 5]  # nothing of the refused writes
    assert log == ["commit"] * 6  # `held` alone, then the five good writes one by one
    writer.close()


def test_a_write_is_answered_only_once_committed(tmp_path: Path) -> None:
    """The caller resumes after the commit, and a new engine reads what it was answered."""
    url, engine, log = fresh(tmp_path)
    writer = Writer(engine)

    async def scenario() -> None:
        await writer.write(insert(7))
        log.append("answered")

    asyncio.run(scenario())
    assert log == ["commit", "answered"]
    assert stored(url) == [7]
    writer.close()


def test_close_waits_for_queued_writes_and_the_thread_ends_when_idle(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writes queued before `close` are committed by its end; an idle thread ends by itself,
    and the next write starts another."""
    monkeypatch.setattr(database, "WRITER_IDLE_S", 0.05)
    url, engine, _log = fresh(tmp_path)
    writer = Writer(engine)

    def writer_threads() -> int:
        return sum(1 for t in threading.enumerate() if t.name == f"node-writer {tmp_path}/node.db")

    async def scenario() -> None:
        tasks = [asyncio.create_task(writer.write(insert(n))) for n in range(WRITES)]
        await asyncio.sleep(0)  # queued
        await asyncio.to_thread(writer.close)
        assert stored(url) == list(range(WRITES))
        await asyncio.gather(*tasks)
        await writer.write(insert(WRITES))
        assert writer_threads() == 1
        await asyncio.sleep(0.5)
        assert writer_threads() == 0
        await writer.write(insert(WRITES + 1))

    asyncio.run(scenario())
    assert stored(url) == list(range(WRITES + 2))
    writer.close()


def test_a_write_that_breaks_the_connection_does_not_break_the_next(tmp_path: Path) -> None:
    """The writer keeps one connection while it runs: a write that left it unusable (as a lost
    database server would) costs only itself, as the connection reconnects for the next one,
    and the connection is back in the pool once the thread has ended."""
    url, engine, _log = fresh(tmp_path)
    writer = Writer(engine)

    def breaking(db: Connection) -> int:
        db.invalidate()  # the DBAPI connection is closed under the writer
        raise NodeError(503, "lost", "Lost", "the connection broke")

    async def scenario() -> None:
        with pytest.raises(NodeError):
            await writer.write(breaking)
        assert await writer.write(insert(1)) == 1

    asyncio.run(scenario())
    writer.close()
    assert stored(url) == [1]
    assert engine.pool.checkedout() == 0
