"""Idempotency-Key on every POST: the first response is stored and replayed; the same key with
another body is refused.

A key belongs to its caller (two callers may use the same key). While the first request with a
key runs, a second one with the same key gets 409 instead of running twice. A 5xx answer is not
stored, so a retry after a server fault runs again (the ledger's own idempotency by transaction
id then keeps the retry from doing anything twice).

A key is remembered for `RETENTION_S` (two days), then pruned: every retry of a payment's steps
comes within the payment's life, and no lock may run longer than a day (`WINDOW_S_MAX`). Pruning
rides on the stores, in bounded batches (`node.pruning`).
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from aiohttp import web
from sqlalchemy import Engine, bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from engine.lookup import Lookup
from node.database import Writer, read
from node.errors import NodeError, bad_request, conflict, problem_response, unprocessable
from node.pruning import PRUNE_ROWS_MAX, AgePruning
from node.tables import IdempotencyRow

HEADER: Final = "Idempotency-Key"
REPLAYED_HEADER: Final = "Idempotent-Replayed"
KEY_CHARS_MAX: Final = 128
_TABLE = IdempotencyRow.__table__  # type: ignore[attr-defined]
# Built once: every POST runs both, and building a statement costs more than running it.
_FIND: Final = select(_TABLE.c.request_sha256, _TABLE.c.status, _TABLE.c.media_type,
                      _TABLE.c.body).where(_TABLE.c.caller == bindparam("caller"),
                                           _TABLE.c.key == bindparam("key"))
_INSERT: Final = _TABLE.insert()
RETENTION_S: Final = 2 * 24 * 3600  # how long a key is remembered


class IdempotencyStore:
    """The stored first responses, by caller and key, in the node's database."""

    def __init__(self, engine: Engine, writer: Writer | None = None, *,
                 clock: Callable[[], float] = time.time, retention_s: int = RETENTION_S,
                 prune_rows_max: int = PRUNE_ROWS_MAX) -> None:
        """`writer`: the service's writer on `engine`, if it has one (else one of its own);
        `clock`: Unix seconds (tests move it)."""
        self._engine = engine
        self._find = Lookup(engine, _FIND)
        self._writer = writer or Writer(engine)
        self._running: set[tuple[str, str]] = set()
        self._clock = clock
        self._pruning = AgePruning(_TABLE, _TABLE.c.created_at_s, (_TABLE.c.caller, _TABLE.c.key),
                                   retention_s=retention_s, rows_max=prune_rows_max)

    async def run(self, caller: str, key: str | None, body: bytes,
                  produce: Callable[[], Awaitable[web.Response]]) -> web.Response:
        """The stored response for (caller, key), or `produce()`'s, stored for next time."""
        key = _valid_key(key)
        digest = hashlib.sha256(body).hexdigest()
        stored = await read(self._engine, self._find.rows, caller=caller, key=key)
        if stored:
            return _replay(_Stored(*stored[0]), digest)
        if (caller, key) in self._running:
            raise conflict("idempotency_key_in_use", "a request with this key is still running")
        self._running.add((caller, key))
        try:
            response = await _answer(produce)
            if response.status < 500:
                await self._store(caller, key, digest, response)
            return response
        finally:
            self._running.discard((caller, key))

    async def _store(self, caller: str, key: str, digest: str,
                     response: web.Response) -> None:
        now_s = int(self._clock())
        values = {"caller": caller, "key": key, "request_sha256": digest,
                  "status": response.status, "media_type": response.content_type,
                  "body": response.body if isinstance(response.body, bytes) else b"",
                  "created_at_s": now_s}

        def insert(db: Connection) -> int:
            return db.execute(_INSERT, values).rowcount

        # Another process may have answered the same key first: its answer stands.
        with contextlib.suppress(IntegrityError):
            await self._pruning.write(self._writer, insert, now_s)


def _valid_key(key: str | None) -> str:
    if not key:
        raise bad_request("idempotency_key_missing", f"every POST carries an {HEADER} header")
    if len(key) > KEY_CHARS_MAX or not key.isprintable():
        raise bad_request("idempotency_key_invalid",
                          f"an {HEADER} is 1 to {KEY_CHARS_MAX} printable characters")
    return key


@dataclass(frozen=True, slots=True)
class _Stored:
    """A stored first response, as `_FIND` selects it."""

    request_sha256: str
    status: int
    media_type: str
    body: bytes


def _replay(stored: _Stored, digest: str) -> web.Response:
    if stored.request_sha256 != digest:
        raise unprocessable("idempotency_key_reused",
                            "this Idempotency-Key was used with another request body")
    return web.Response(status=stored.status, body=stored.body, content_type=stored.media_type,
                        headers={REPLAYED_HEADER: "true"})


async def _answer(produce: Callable[[], Awaitable[web.Response]]) -> web.Response:
    """The handler's response; a refusal is an answer too and is stored like one."""
    try:
        return await produce()
    except NodeError as error:
        return problem_response(error.problem)
