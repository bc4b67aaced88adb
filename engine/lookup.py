"""A read of a few rows by key, compiled once, for the reads every request makes.

Why: on SQLite, checking a connection out of SQLAlchemy's pool and running a statement through
its execution machinery costs about ten times the read itself (about 45 µs against 4 µs from the
page cache). A service reads by key on every request (the idempotency record, a note, a quote, a
payment's row), so under load that overhead was a quarter of a bank's CPU. A `Lookup` compiles
its statement once, keeps the type conversions SQLAlchemy would apply to each column and bound
value, and runs on a driver connection that the calling thread keeps: one per engine and
thread, shared by every `Lookup` on that engine, so a service holds a few connections however
many lookups it has.

On a database server a read is a network round trip and the pool's overhead does not matter;
there a `Lookup` runs through the pool as any statement does.

The rows come back as tuples in the statement's column order (`rows`) or as one mapping by
column key (`first`). A `Lookup` never holds a read snapshot between calls: each call fetches all
its rows, which ends the statement.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from sqlalchemy import Engine, Select

from engine.errors import EngineError

Convert = Callable[[Any], Any] | None
_HELD: Final[weakref.WeakKeyDictionary[Engine, threading.local]] = weakref.WeakKeyDictionary()
_HELD_LOCK: Final = threading.Lock()


class Lookup:
    """`statement`, a select of a few rows by named parameters, ready to run on `engine`."""

    def __init__(self, engine: Engine, statement: Select[Any]) -> None:
        self._engine = engine
        self._statement = statement
        self._keys = tuple(statement.selected_columns.keys())
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        self._sql = str(compiled)
        self._names = tuple(compiled.positiontup or ())
        self._defaults = dict(compiled.params)
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        if any(binds[name].expanding for name in self._names):
            raise EngineError("a Lookup binds single values, not lists")
        # Only the values that need converting are visited on each call, by position.
        self._bind_converts = _needed(
            binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in self._names)
        self._converts = _needed(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns)

    def rows(self, **params: object) -> list[tuple[Any, ...]]:
        """The rows `params` select, each a tuple in the statement's column order."""
        if self._engine.dialect.name != "sqlite":
            with self._engine.connect() as db:
                return [tuple(row) for row in db.execute(self._statement, params)]
        values = {**self._defaults, **params}
        bound = [values[name] for name in self._names]
        for at, convert in self._bind_converts:
            bound[at] = convert(bound[at])
        found: list[tuple[Any, ...]] = held_connection(self._engine).execute(
            self._sql, bound).fetchall()
        if not self._converts:
            return found
        return [_converted(row, self._converts) for row in found]

    def first(self, **params: object) -> Mapping[str, Any] | None:
        """The first row `params` select, by column key; None when there is none."""
        found = self.rows(**params)
        return dict(zip(self._keys, found[0], strict=True)) if found else None


def _needed(converts: Iterable[Convert]) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
    """The positions that have a conversion, with it."""
    return tuple((at, convert) for at, convert in enumerate(converts) if convert is not None)


def _converted(row: tuple[Any, ...],
               converts: tuple[tuple[int, Callable[[Any], Any]], ...]) -> tuple[Any, ...]:
    values = list(row)
    for at, convert in converts:
        values[at] = convert(values[at])  # SQLAlchemy's conversions pass None through
    return tuple(values)


def held_connection(engine: Engine) -> Any:
    """The driver connection the calling thread keeps for reads on `engine`, checked out of the
    pool on its first read (given back when the thread ends)."""
    local = _HELD.get(engine)
    if local is None:
        with _HELD_LOCK:
            local = _HELD.setdefault(engine, threading.local())
    held = getattr(local, "connection", None)
    if held is None:
        held = local.connection = engine.raw_connection()
    return held.driver_connection
