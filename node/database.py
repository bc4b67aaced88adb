"""The node's database: the services' tables migrated to the newest schema, on the same engine
set-up as the ledger's (a central node keeps both in one database), the one writer through
which a service writes its own rows, and how a request reads them.

Why one writer: SQLite lets one connection write at a time. When every request wrote on its own
pooled connection, the others waited in SQLite's busy handler, which sleeps in growing steps (up
to 100 ms) instead of waking when the lock is free; under load a payment spent most of its time
there, and the worker threads sleeping in it starved the rest of the service. The `Writer` queues
the writes instead and commits whatever is waiting in one database transaction (group commit: one
fsync for many writes). Each caller hears back only once its write is durable.

Why a request's small reads run on the event loop on SQLite (`read`): a read by key from
SQLite's page cache takes tens of microseconds, while handing it to a worker thread and back
cost far more, and the threads fought the loop for the GIL: under load a payment waited
longer for its reads' threads than for anything else. WAL readers never wait for the writer, so
such a read cannot stall the loop. On a database server a read is a network round trip, so it
goes to a worker thread there.

The reads every request makes are an `engine.lookup.Lookup` run through `read`: compiled once,
on a connection the thread keeps (see there why).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Generic, ParamSpec, TypeVar

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from engine.migrate import upgrade
from engine.store import connect

WRITES_PER_COMMIT_MAX: Final = 512  # writes committed together in one database transaction
# Under load (the last group had company), a group stays open this long for more writes to
# join it: a commit's fsync alone cost about 270 µs of CPU on the development machine (a lone
# write: 465 µs with it, 196 µs without), so fewer, larger groups left more CPU for the
# requests (5 ms against 2 ms: about 2 % less CPU per payment in `earmark bench hub`, four
# pairs of runs). Alone, a write commits at once.
COMMIT_WINDOW_S: Final = 0.005
WRITER_IDLE_S: Final = 5.0  # a writer thread idle this long ends; the next write starts another
T = TypeVar("T")
P = ParamSpec("P")


def open_database(url: str) -> Engine:
    """An engine on `url` with the node's tables at the newest schema (`node/migrations`)."""
    engine = connect(url)
    upgrade(engine, "node")
    return engine


async def read(engine: Engine, function: Callable[P, T], *args: P.args,
               **kwargs: P.kwargs) -> T:
    """`function(*args, **kwargs)`, a read of a few rows by key on `engine`: at once on SQLite,
    in a worker thread on a database server (see the module's notes)."""
    if engine.dialect.name == "sqlite":
        return function(*args, **kwargs)
    return await asyncio.to_thread(function, *args, **kwargs)


@dataclass(frozen=True, slots=True)
class _Write(Generic[T]):
    """One queued write and where its answer goes."""

    job: Callable[[Connection], T]
    future: asyncio.Future[T]
    loop: asyncio.AbstractEventLoop


class _Stop:
    """The mark `close` queues: the writes before it are committed, then the thread ends."""


_STOP: Final = _Stop()


class Writer:
    """The one thread that writes a service's rows to its database, in group commits, on one
    connection it keeps while it runs.

    A write is a function of an open connection inside a transaction; it may read what it needs
    and raise to refuse (a `NodeError`, an `IntegrityError`). Writes waiting together are run in
    one transaction; if one of them raises, that transaction is rolled back and each write of
    the group runs again in its own, so one refused write never undoes another. The thread
    starts with the first write and ends when idle, so a writer needs no start or stop of its
    own (`close` only waits for what is queued)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[_Write[Any] | _Stop] = queue.SimpleQueue()
        self._lock = threading.Lock()  # guards `_thread` against a write racing its ending
        self._thread: threading.Thread | None = None
        self._busy = False  # whether the last group had more than one write

    async def write(self, job: Callable[[Connection], T]) -> T:
        """What `job` returned, once its transaction is durable; or what it raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        write = _Write(job, future, loop)
        self._put(write)
        return await future

    def close(self) -> None:
        """Wait until every write queued so far is committed and the thread has ended."""
        with self._lock:
            thread = self._thread
            if thread is None:
                return
            self._queue.put(_STOP)
        thread.join()

    def _put(self, item: _Write[Any]) -> None:
        with self._lock:
            self._queue.put(item)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name=f"node-writer {self._engine.url.database}",
                    daemon=True)
                self._thread.start()

    # ---- the writer thread -------------------------------------------------------------------

    def _work(self) -> None:
        # The thread keeps one connection while it runs: checking one out of the pool and back
        # for every group cost about as much as the group's statements.
        db: Connection | None = None
        try:
            while True:
                try:
                    item = self._queue.get(timeout=WRITER_IDLE_S)
                except queue.Empty:
                    item = _STOP  # idle: end, unless a write came in meanwhile
                if isinstance(item, _Write):
                    # A connection invalidated by a failure reconnects on its next use.
                    db = db if db is not None else self._engine.connect()
                    self._commit(db, self._group(item))
                elif self._ended():
                    return
        finally:
            if db is not None:
                db.close()

    def _group(self, first: _Write[Any]) -> list[_Write[Any]]:
        """`first` and the writes queued behind it, up to `WRITES_PER_COMMIT_MAX`; under load,
        those that come within `COMMIT_WINDOW_S` too. The thread sleeps through the window
        rather than wait on the queue: each write arriving would wake it, and a wake-up cost
        about as much CPU as the commit it was saving."""
        if self._busy:
            time.sleep(COMMIT_WINDOW_S)
        group = [first]
        while len(group) < WRITES_PER_COMMIT_MAX:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Stop):
                self._queue.put(_STOP)  # handled once this group is committed
                break
            group.append(item)
        self._busy = len(group) > 1
        return group

    def _ended(self) -> bool:
        """At a stop mark: end the thread if nothing is queued (a later write starts another),
        else keep the mark behind what is queued."""
        with self._lock:  # `_put` holds it too: no write slips in unseen
            if self._queue.empty():
                self._thread = None
                return True
            self._queue.put(_STOP)
            return False

    def _commit(self, db: Connection, group: list[_Write[Any]]) -> None:
        """Run the group in one transaction on `db`; after a failure, each write alone."""
        try:
            with db.begin():
                results: list[object] = [write.job(db) for write in group]
        except Exception as error:
            if len(group) == 1:
                _settle(group, [error])
                return
            for write in group:
                self._commit(db, [write])
            return
        _settle(group, results)


def _settle(group: list[_Write[Any]], results: list[object]) -> None:
    """Resolve each write's future with its result, on its own event loop's thread: one call
    per loop for the whole group, as each call wakes that loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Write[Any], object]]] = {}
    for write, result in zip(group, results, strict=True):
        by_loop.setdefault(write.loop, []).append((write, result))
    for loop, answered in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(_resolve, answered)


def _resolve(answered: list[tuple[_Write[Any], object]]) -> None:
    for write, result in answered:
        if write.future.done():
            continue  # the caller went away; the write stands
        if isinstance(result, BaseException):
            write.future.set_exception(result)
        else:
            write.future.set_result(result)
