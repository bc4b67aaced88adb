"""A read by key compiled once and run on a connection its thread keeps (`engine.lookup`).

Method: a small table of its own on a fresh database (SQLite, and PostgreSQL where the test does
not concern SQLite alone); rows are written through other connections (as a service's writer
does) and read back through `Lookup`s.
"""

from __future__ import annotations

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
    TypeDecorator,
    bindparam,
    select,
)

from engine.errors import EngineError
from engine.lookup import Lookup, held_connection
from engine.store import connect

_METADATA = MetaData()


class Lower(TypeDecorator[str]):
    """Text stored in lower case and read back in upper case: a type whose values SQLAlchemy
    converts both ways, on any database."""

    impl = String(16)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: object) -> str | None:
        return None if value is None else value.lower()

    def process_result_value(self, value: str | None, dialect: object) -> str | None:
        return None if value is None else value.upper()


_ROWS = Table("lookup_test_rows", _METADATA,
              Column("owner", Lower, primary_key=True),
              Column("n", Integer, primary_key=True),
              Column("blob", LargeBinary, nullable=False),
              Column("flag", Boolean, nullable=False))
_BY_OWNER = select(_ROWS.c.n, _ROWS.c.blob).where(_ROWS.c.owner == bindparam("owner")).order_by(
    _ROWS.c.n)


def fresh(tmp_path: Path) -> Engine:
    """An engine on a new SQLite database with the test table."""
    engine = connect(f"sqlite:///{tmp_path / 'node.db'}")
    _METADATA.create_all(engine)
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def any_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    """An engine on a new database of either kind with the test table."""
    if request.param == "sqlite":
        return fresh(tmp_path)
    engine = connect(fresh_postgres("lookup"))
    _METADATA.create_all(engine)
    return engine


def add(engine: Engine, owner: str, n: int, flag: bool = True) -> None:
    """Commit one row through a connection of its own."""
    with engine.begin() as db:
        db.execute(_ROWS.insert().values(owner=owner, n=n, blob=bytes([n]), flag=flag))


def test_finds_rows_by_key(any_engine: Engine) -> None:
    """Each row comes back in the statement's column order; other keys' rows do not."""
    engine = any_engine
    for owner, n in (("ann", 2), ("ann", 1), ("bob", 3)):
        add(engine, owner, n)
    lookup = Lookup(engine, _BY_OWNER)
    assert lookup.rows(owner="ann") == [(1, b"\x01"), (2, b"\x02")]
    assert lookup.rows(owner="nobody") == []
    assert lookup.first(owner="bob") == {"n": 3, "blob": b"\x03"}
    assert lookup.first(owner="nobody") is None


def test_values_are_converted_as_sqlalchemy_converts_them(any_engine: Engine) -> None:
    """SQLite stores a boolean as an integer: it comes back a bool, and a bool binds, as
    through SQLAlchemy's own execution."""
    engine = any_engine
    add(engine, "ann", 1, flag=False)
    add(engine, "ann", 2, flag=True)
    by_flag = select(_ROWS.c.n, _ROWS.c.flag).where(_ROWS.c.flag == bindparam("flag"))
    found = Lookup(engine, by_flag).rows(flag=True)
    assert found == [(2, True)]
    assert type(found[0][1]) is bool


def test_a_typed_value_converts_both_ways(any_engine: Engine) -> None:
    """A column type's own conversions apply to the value bound and to the value read."""
    add(any_engine, "Ann", 1)
    by_owner = select(_ROWS.c.owner, _ROWS.c.n).where(_ROWS.c.owner == bindparam("owner"))
    assert Lookup(any_engine, by_owner).rows(owner="ANN") == [("ANN", 1)]


def test_the_kept_connection_sees_every_later_commit(any_engine: Engine) -> None:
    """The connection a thread keeps holds no read snapshot between reads: a row committed
    after the first read, elsewhere, is found by the next."""
    engine = any_engine
    add(engine, "ann", 1)
    lookup = Lookup(engine, _BY_OWNER)
    before = len(lookup.rows(owner="ann"))
    add(engine, "ann", 2)
    assert (before, len(lookup.rows(owner="ann"))) == (1, 2)


def test_lookups_on_one_engine_share_the_thread_connection(tmp_path: Path) -> None:
    """However many lookups a service has, a thread keeps one connection per engine, so the
    lookups cannot drain the pool."""
    engine = fresh(tmp_path)
    add(engine, "ann", 1)
    lookups = [Lookup(engine, _BY_OWNER) for _ in range(engine.pool.size() + 3)]  # type: ignore[attr-defined]
    assert all(lookup.rows(owner="ann") == [(1, b"\x01")] for lookup in lookups)
    assert engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    (tmp_path / "other").mkdir()
    assert held_connection(fresh(tmp_path / "other")) is not held_connection(engine)


def test_each_thread_reads_on_a_connection_of_its_own(tmp_path: Path) -> None:
    """Two live threads' reads never share a driver connection (a SQLite connection must not
    be used by two threads at once)."""
    engine = fresh(tmp_path)
    add(engine, "ann", 1)
    lookup = Lookup(engine, _BY_OWNER)
    connections: list[object] = []
    both_read = threading.Barrier(2)

    def reader() -> None:
        if lookup.rows(owner="ann") == [(1, b"\x01")]:
            connections.append(held_connection(engine))
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
    assert Lookup(engine, big).rows(owner="ann") == [(5,)]


def test_refuses_a_list_parameter(tmp_path: Path) -> None:
    """A list bound into IN (...) changes the statement's text with its length, so it cannot be
    compiled once: refused when the Lookup is built."""
    in_list = select(_ROWS.c.n).where(_ROWS.c.owner.in_(bindparam("owners", expanding=True)))
    with pytest.raises(EngineError, match="single values"):
        Lookup(fresh(tmp_path), in_list)
