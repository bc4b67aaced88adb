"""Idempotency-Key on every POST: one effect per key, whatever comes twice or at once.

A key belongs to its caller (two callers may use the same key) and to one request: its method,
path and body (`request_identity`); the same key on any other request is refused
(`idempotency_key_reused`). Before the handler runs, the key is **claimed** by inserting its row
in the database — the same statement on SQLite and PostgreSQL, whose primary key lets one
request in: a request that finds a claim in progress gets 409 `idempotency_key_in_use` with
Retry-After and never runs the handler a second time. When the handler answers, a final answer
is stored in the claim's row and replayed to every retry; an answer that is not final — a 5xx,
or one carrying Retry-After (held notes, a dependency unavailable, a claim in progress) — drops
the claim, so a retry runs again (the ledger's own idempotency by transaction id then keeps the
retry from doing anything twice). A service's claims belong to its one process: on start it
drops those a crash left behind.

A key is remembered for `RETENTION_S` (two days), then pruned: every retry of a payment's steps
comes within the payment's life, and no lock may run longer than a day (`WINDOW_S_MAX`). Pruning
rides on the stores, in bounded batches (`node.pruning`).
"""

from __future__ import annotations

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
from node.errors import NodeError, bad_request, problem_response, unprocessable
from node.pruning import PRUNE_ROWS_MAX, AgePruning
from node.tables import IdempotencyRow

HEADER: Final = "Idempotency-Key"
_CLAIMED: Final = 0  # the status of a key whose request is running
REPLAYED_HEADER: Final = "Idempotent-Replayed"
KEY_CHARS_MAX: Final = 128
_TABLE = IdempotencyRow.__table__  # type: ignore[attr-defined]
# Built once: every POST runs both, and building a statement costs more than running it.
_FIND: Final = select(_TABLE.c.request_sha256, _TABLE.c.status, _TABLE.c.media_type,
                      _TABLE.c.body).where(_TABLE.c.caller == bindparam("caller"),
                                           _TABLE.c.key == bindparam("key"))
_INSERT: Final = _TABLE.insert()
# Named apart from the columns: an UPDATE's SET takes the columns' own names.
_ROW: Final = ((_TABLE.c.caller == bindparam("row_caller"))
               & (_TABLE.c.key == bindparam("row_key")))
_ANSWER: Final = _TABLE.update().where(_ROW).values(
    status=bindparam("status"), media_type=bindparam("media_type"), body=bindparam("body"))
_RELEASE: Final = _TABLE.delete().where(_ROW & (_TABLE.c.status == _CLAIMED))
_CLAIMS: Final = _TABLE.delete().where(_TABLE.c.status == _CLAIMED)
_CLAIM_ATTEMPTS: Final = 3  # claims tried when the holder keeps dropping its claim meanwhile
RETRY_AFTER_S: Final = 1  # what a request that finds its key in use is told to wait
RETENTION_S: Final = 2 * 24 * 3600  # how long a key is remembered


class IdempotencyStore:
    """The stored first responses, by caller and key, in the node's database."""

    def __init__(self, engine: Engine, writer: Writer | None = None, *,
                 clock: Callable[[], float] = time.time, retention_s: int = RETENTION_S,
                 prune_rows_max: int = PRUNE_ROWS_MAX) -> None:
        """`writer`: the service's writer on `engine`, if it has one (else one of its own);
        `clock`: Unix seconds (tests move it). Made once per service process, before it
        serves: it drops the claims a crash left (`recover`)."""
        self._engine = engine
        self._find = Lookup(engine, _FIND)
        self._writer = writer or Writer(engine)
        self._clock = clock
        self._pruning = AgePruning(_TABLE, _TABLE.c.created_at_s, (_TABLE.c.caller, _TABLE.c.key),
                                   retention_s=retention_s, rows_max=prune_rows_max)
        self.recover()

    async def run(self, caller: str, key: str | None, request: bytes,
                  produce: Callable[[], Awaitable[web.Response]]) -> web.Response:
        """The stored answer for (caller, key), or `produce()`'s, stored when final.

        `request` is what the key is bound to (`request_identity`)."""
        key = _valid_key(key)
        digest = hashlib.sha256(request).hexdigest()
        for _ in range(_CLAIM_ATTEMPTS):
            if await self._claim(caller, key, digest):
                return await self._produce(caller, key, produce)
            stored = await read(self._engine, self._find.rows, caller=caller, key=key)
            if stored:
                return _replay(_Stored(*stored[0]), digest)
            # The holder dropped its claim between our insert and this read: claim again.
        raise _in_use()  # claimed and released over and over meanwhile: let the caller retry

    async def _produce(self, caller: str, key: str,
                       produce: Callable[[], Awaitable[web.Response]]) -> web.Response:
        """Run the handler under our claim; store a final answer, else drop the claim."""
        try:
            response = await _answer(produce)
        except BaseException:
            await self._writer.write(lambda db: db.execute(_RELEASE, _ids(caller, key)))
            raise
        if _final(response):
            body = response.body if isinstance(response.body, bytes) else b""
            answer = {**_ids(caller, key), "status": response.status,
                      "media_type": response.content_type, "body": body}
            await self._writer.write(lambda db: db.execute(_ANSWER, answer))
        else:
            await self._writer.write(lambda db: db.execute(_RELEASE, _ids(caller, key)))
        return response

    async def _claim(self, caller: str, key: str, digest: str) -> bool:
        """Whether this request now holds the key (False: another row holds it)."""
        now_s = int(self._clock())
        values = {"caller": caller, "key": key, "request_sha256": digest, "status": _CLAIMED,
                  "media_type": "", "body": b"", "created_at_s": now_s}

        def insert(db: Connection) -> int:
            return db.execute(_INSERT, values).rowcount

        try:
            await self._pruning.write(self._writer, insert, now_s)
        except IntegrityError:
            return False
        return True

    def recover(self) -> int:
        """Drop the claims of requests that were running when the service stopped (its one
        process holds them all); how many."""
        with self._engine.begin() as db:
            return int(db.execute(_CLAIMS).rowcount)


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


def request_identity(method: str, path_qs: str, body: bytes) -> bytes:
    """What an Idempotency-Key is bound to: the method, the path with its query, the body."""
    return b"%s %s\n%s" % (method.upper().encode(), path_qs.encode(), body)


def _ids(caller: str, key: str) -> dict[str, str]:
    return {"row_caller": caller, "row_key": key}


def _final(response: web.Response) -> bool:
    """Whether an answer is the key's for good: not a fault, not a "try again"."""
    return response.status < 500 and "Retry-After" not in response.headers


def _reused() -> NodeError:
    return unprocessable("idempotency_key_reused", "this Idempotency-Key was used with another "
                         "request (method, path or body)")


def _in_use() -> NodeError:
    return NodeError(409, "idempotency_key_in_use", "Conflict", "a request with this key is "
                     "still running: try again shortly", retry_after_s=RETRY_AFTER_S)


def _replay(stored: _Stored, digest: str) -> web.Response:
    """The stored answer; refused for another request, and "in use" while it runs."""
    if stored.request_sha256 != digest:
        raise _reused()
    if stored.status == _CLAIMED:
        raise _in_use()
    return web.Response(status=stored.status, body=stored.body, content_type=stored.media_type,
                        headers={REPLAYED_HEADER: "true"})


async def _answer(produce: Callable[[], Awaitable[web.Response]]) -> web.Response:
    """The handler's response; a refusal is an answer too and is stored like one."""
    try:
        return await produce()
    except NodeError as error:
        return problem_response(error.problem)
