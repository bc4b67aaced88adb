"""A read by key compiled once and run on a connection its thread keeps (`node.database.Lookup`).

Method: a small table of its own on a fresh database (SQLite, and PostgreSQL where the test does
not concern SQLite alone); rows are written through other connections (as the service's writer
does) and read back through one `Lookup`.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from postgres import fresh_postgres
from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    select,
)

from node.database import Lookup, open_database
from node.errors import NodeError

_METADATA = MetaData()
_ROWS = Table("lookup_test_rows", _METADATA,
              Column("owner", String(16), primary_key=True),
              Column("n", Integer, primary_key=True),
              Column("blob", LargeBinary, nullable=False),
              Column("flag", Boolean, nullable=False))
_BY_OWNER = select(_ROWS.c.n, _ROWS.c.blob).where(_ROWS.c.owner == bindparam("owner")).order_by(
    _ROWS.c.n)


def fresh(tmp_path: Path) -> Engine:
    """An engine on a new SQLite database with the test table."""
    engine = open_database(f"sqlite:///{tmp_path / 'node.db'}")
    _METADATA.create_all(engine)
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def any_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    """An engine on a new database of either kind with the test table."""
    if request.param == "sqlite":
        return fresh(tmp_path)
    engine = open_database(fresh_postgres("lookup"))
    _METADATA.create_all(engine)
    return engine


def add(engine: Engine, owner: str, n: int) -> None:
    """Commit one row through a connection of its own."""
    with engine.begin() as db:
        db.execute(_ROWS.insert().values(owner=owner, n=n, blob=bytes([n]), flag=True))


def test_finds_rows_by_key_as_plain_values(any_engine: Engine) -> None:
    """Each row comes back in the statement's column order; other keys' rows do not."""
    engine = any_engine
    for owner, n in (("ann", 2), ("ann", 1), ("bob", 3)):
        add(engine, owner, n)
    lookup = Lookup(engine, _BY_OWNER)
    assert asyncio.run(lookup.rows(owner="ann")) == [(1, b"\x01"), (2, b"\x02")]
    assert asyncio.run(lookup.rows(owner="nobody")) == []


def test_the_kept_connection_sees_every_later_commit(any_engine: Engine) -> None:
    """The connection a thread keeps holds no read snapshot between reads: a row committed
    after the first read, elsewhere, is found by the next."""
    engine = any_engine
    add(engine, "ann", 1)
    lookup = Lookup(engine, _BY_OWNER)

    async def twice() -> tuple[int, int]:
        before = len(await lookup.rows(owner="ann"))
        add(engine, "ann", 2)
        return before, len(await lookup.rows(owner="ann"))

    assert asyncio.run(twice()) == (1, 2)


def test_each_thread_reads_on_a_connection_of_its_own(tmp_path: Path) -> None:
    """Two live threads' reads never share a driver connection (a SQLite connection must not
    be used by two threads at once)."""
    engine = fresh(tmp_path)
    add(engine, "ann", 1)
    lookup = Lookup(engine, _BY_OWNER)
    connections: list[object] = []
    both_read = threading.Barrier(2)

    def reader() -> None:
        if asyncio.run(lookup.rows(owner="ann")) == [(1, b"\x01")]:
            connections.append(lookup._connection())
        both_read.wait()  # neither thread ends (and gives its connection back) before both read

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(connections) == 2 and connections[0] is not connections[1]


def test_literal_values_in_the_statement_are_bound_too(any_engine: Engine) -> None:
    """A value written into the statement (not a named parameter) still takes part."""
    engine = any_engine
    add(engine, "ann", 1)
    add(engine, "ann", 5)
    big = select(_ROWS.c.n).where(_ROWS.c.owner == bindparam("owner"), _ROWS.c.n > 3)
    assert asyncio.run(Lookup(engine, big).rows(owner="ann")) == [(5,)]


def test_refuses_a_column_the_driver_does_not_return_as_is(tmp_path: Path) -> None:
    """SQLite returns a boolean as an integer; a Lookup would hand it on unconverted, so such a
    column is refused when the Lookup is built, not misread later."""
    with pytest.raises(NodeError, match="flag needs converting"):
        Lookup(fresh(tmp_path), select(_ROWS.c.flag))
