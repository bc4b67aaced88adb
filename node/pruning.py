"""Rows kept for a retention, then pruned by age in bounded batches riding on the table's writes.

A service that keeps rows only for a while (idempotency records, an FX provider's quotes) prunes
them without a task of its own: at most once every `PRUNE_EVERY_S` a write it makes anyway also
deletes up to `rows_max` of the oldest expired rows, in the same transaction, and the next write
does again while a full batch came out. The table stays bounded, and no prune holds the
service's one writer for long. The age column wants an index (the oldest are read first).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

from sqlalchemy import Column, Table, bindparam, select, tuple_
from sqlalchemy.engine import Connection

from node.database import Writer

PRUNE_EVERY_S: Final = 60
PRUNE_ROWS_MAX: Final = 2_000  # expired rows one write deletes at most
T = TypeVar("T")


class AgePruning:
    """Prunes the rows of `table` whose `age` (Unix seconds) is older than `retention_s`;
    `keys` name a row (its primary key)."""

    def __init__(self, table: Table, age: Column[Any], keys: Sequence[Column[Any]], *,
                 retention_s: int, rows_max: int = PRUNE_ROWS_MAX) -> None:
        expired = (select(*keys).where(age < bindparam("cutoff")).order_by(age)
                   .limit(bindparam("most")))
        # Built once: the delete runs with the writes, and building it costs more than running.
        self._delete = table.delete().where(tuple_(*keys).in_(expired))
        self._retention_s = retention_s
        self._rows_max = rows_max
        self._due_s = 0  # the first write prunes: a service may restart after a long stop

    async def write(self, writer: Writer, job: Callable[[Connection], T], now_s: int) -> T:
        """What `job` returned, written through `writer`; when a prune is due at `now_s`, it
        runs in the same transaction."""
        if now_s < self._due_s:
            return await writer.write(job)
        # Claimed at once, so the writes running meanwhile do not all prune too.
        self._due_s = now_s + PRUNE_EVERY_S
        expired = {"cutoff": now_s - self._retention_s, "most": self._rows_max}

        def job_and_prune(db: Connection) -> tuple[T, int]:
            return job(db), db.execute(self._delete, expired).rowcount

        done, pruned = await writer.write(job_and_prune)
        if pruned >= self._rows_max:
            self._due_s = now_s  # more are expired: the next write goes on
        return done
