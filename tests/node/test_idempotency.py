"""The Idempotency-Key store (`node.idempotency`) on its own, without HTTP.

Each test runs `IdempotencyStore.run` on a fresh SQLite database with a counting producer and
checks what is answered, what is stored and how often the producer ran.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from postgres import fresh_postgres
from sqlalchemy import Engine, func, select

from node.database import open_database
from node.errors import NodeError, conflict
from node.idempotency import KEY_CHARS_MAX, REPLAYED_HEADER, IdempotencyStore
from node.pruning import PRUNE_EVERY_S
from node.tables import IdempotencyRow


class Producer:
    """Answers a fixed response (or raises) and counts its calls."""

    def __init__(self, status: int = 201, body: bytes = b'{"ok":1}',
                 error: NodeError | None = None) -> None:
        self.calls = 0
        self.status, self.body, self.error = status, body, error

    async def __call__(self) -> web.Response:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return web.Response(status=self.status, body=self.body + str(self.calls).encode(),
                            content_type="application/json")


def store(tmp_path: Path) -> IdempotencyStore:
    """A store on a fresh database."""
    return IdempotencyStore(open_database(f"sqlite:///{tmp_path / 'node.db'}"))


def answer(store: IdempotencyStore, produce: Callable[[], Awaitable[web.Response]],
           key: str | None = "key-1", body: bytes = b"{}", caller: str = "alice") -> web.Response:
    """`store.run` once, in its own event loop."""
    return asyncio.run(store.run(caller, key, body, produce))


def test_first_answer_is_stored_and_replayed(tmp_path: Path) -> None:
    """The second call with the key and body answers the first response, marked, unproduced."""
    idempotency, produce = store(tmp_path), Producer()
    first = answer(idempotency, produce)
    again = answer(idempotency, produce)
    assert produce.calls == 1
    assert (again.status, again.body, again.content_type) == (201, first.body,
                                                              "application/json")
    assert again.headers[REPLAYED_HEADER] == "true"
    assert REPLAYED_HEADER not in first.headers


def test_replay_survives_a_restart(tmp_path: Path) -> None:
    """A new store on the same database (a restarted node) replays what the old one stored."""
    produce = Producer()
    first = answer(store(tmp_path), produce)
    again = answer(store(tmp_path), produce)
    assert produce.calls == 1
    assert again.body == first.body


def test_keys_belong_to_their_caller(tmp_path: Path) -> None:
    """Two callers using the same key each get their own answer."""
    idempotency, produce = store(tmp_path), Producer()
    alice = answer(idempotency, produce, caller="alice")
    bob = answer(idempotency, produce, caller="bob")
    assert produce.calls == 2
    assert alice.body != bob.body


def test_other_body_with_the_key_is_refused(tmp_path: Path) -> None:
    """The key again with another body: 422 idempotency_key_reused."""
    idempotency, produce = store(tmp_path), Producer()
    answer(idempotency, produce, body=b'{"amount":1}')
    with pytest.raises(NodeError) as raised:
        answer(idempotency, produce, body=b'{"amount":2}')
    assert (raised.value.problem.status, raised.value.problem.code) == (
        422, "idempotency_key_reused")
    assert produce.calls == 1


def test_refusal_is_stored_as_a_problem(tmp_path: Path) -> None:
    """A NodeError of the handler becomes the stored answer: its problem is replayed."""
    idempotency = store(tmp_path)
    produce = Producer(error=conflict("name_taken", "that name is taken"))
    first = answer(idempotency, produce)
    again = answer(idempotency, produce)
    assert produce.calls == 1
    assert first.status == again.status == 409
    assert again.content_type == "application/problem+json"
    assert b"name_taken" in (again.body if isinstance(again.body, bytes) else b"")


def test_server_fault_is_not_stored(tmp_path: Path) -> None:
    """A 5xx answer is not stored: the retry runs again."""
    idempotency, produce = store(tmp_path), Producer(status=503)
    answer(idempotency, produce)
    retried = answer(idempotency, produce)
    assert produce.calls == 2
    assert REPLAYED_HEADER not in retried.headers


@pytest.mark.parametrize(("key", "code"), [
    (None, "idempotency_key_missing"), ("", "idempotency_key_missing"),
    ("k" * (KEY_CHARS_MAX + 1), "idempotency_key_invalid"),
    ("line\nbreak", "idempotency_key_invalid"),
])
def test_bad_keys_are_refused(tmp_path: Path, key: str | None, code: str) -> None:
    """A missing, empty, too long or unprintable key: 400 with its code, nothing produced."""
    produce = Producer()
    with pytest.raises(NodeError) as raised:
        answer(store(tmp_path), produce, key=key)
    assert (raised.value.problem.status, raised.value.problem.code) == (400, code)
    assert produce.calls == 0


def test_longest_key_is_accepted(tmp_path: Path) -> None:
    """A key of exactly the limit is accepted."""
    assert answer(store(tmp_path), Producer(), key="k" * KEY_CHARS_MAX).status == 201


def test_a_request_finding_the_key_claimed_is_told_to_retry(tmp_path: Path) -> None:
    """Two nodes on one database take the same key at once: the second finds the first's claim
    in the database, gets 409 idempotency_key_in_use with Retry-After and never runs its
    handler; afterwards both replay the first's answer."""
    first_node, second_node = store(tmp_path), store(tmp_path)
    inner = Producer(body=b'"second node"')
    refusals: list[NodeError] = []

    async def racing() -> web.Response:
        try:
            await second_node.run("alice", "key-1", b"{}", inner)
        except NodeError as error:
            refusals.append(error)
        return web.Response(status=201, body=b'"first node"')

    raced = answer(first_node, racing)
    [refused] = refusals
    problem = refused.problem
    assert (problem.status, problem.code, problem.retry_after_s) == (
        409, "idempotency_key_in_use", 1)
    assert inner.calls == 0
    for node in (first_node, second_node):
        assert answer(node, Producer()).body == raced.body == b'"first node"'


def test_concurrent_identical_requests_run_once_on_each_store(tmp_path: Path) -> None:
    """Twelve requests with one key at once, spread over two stores on one database: the
    handler runs once, and every other request is told to retry or replays its answer
    (issue 22's finding ran one key's handler twice under PostgreSQL)."""
    url = f"sqlite:///{tmp_path / 'node.db'}"
    _run_concurrently(url)


def test_concurrent_identical_requests_run_once_on_postgresql() -> None:
    """The same on PostgreSQL, where the finding was made."""
    _run_concurrently(fresh_postgres("idempotency_claims"))


def _run_concurrently(url: str) -> None:
    stores = [IdempotencyStore(open_database(url)) for _ in range(2)]
    produce = Producer()

    async def slow() -> web.Response:
        await asyncio.sleep(0)  # let the others arrive while this one runs
        return await produce()

    async def one(index: int) -> int:
        try:
            response = await stores[index % 2].run("alice", "key-1", b"{}", slow)
        except NodeError as error:
            assert error.problem.code == "idempotency_key_in_use"
            return 409
        return response.status

    async def all_at_once() -> list[int]:
        return list(await asyncio.gather(*(one(index) for index in range(12))))

    statuses = asyncio.run(all_at_once())
    assert produce.calls == 1
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}
    assert answer(stores[0], Producer()).headers[REPLAYED_HEADER] == "true"


def test_an_answer_asking_to_retry_is_not_kept(tmp_path: Path) -> None:
    """A refusal carrying Retry-After (held notes, a dependency away) is not the key's answer:
    the retry runs again, and its final answer is then kept."""
    idempotency = store(tmp_path)
    held = Producer(error=NodeError(409, "notes_held", "Conflict", retry_after_s=2))
    first = answer(idempotency, held)
    assert (first.status, first.headers["Retry-After"]) == (409, "2")
    produce = Producer()
    assert answer(idempotency, produce).status == 201
    assert answer(idempotency, produce).headers[REPLAYED_HEADER] == "true"
    assert produce.calls == 1


def test_a_claim_left_by_a_crash_is_dropped_when_the_service_starts(tmp_path: Path) -> None:
    """A request running when its process died leaves its claim; the restarted service (a new
    store) drops it, so the retry runs instead of being told forever that the key is in use."""
    engine = open_database(f"sqlite:///{tmp_path / 'node.db'}")
    crashed = IdempotencyStore(engine)

    async def dies() -> web.Response:
        raise KeyboardInterrupt  # stands for the process dying: nothing after it runs

    with pytest.raises(KeyboardInterrupt):
        asyncio.run(_claim_then(crashed, dies))
    produce = Producer()
    assert answer(IdempotencyStore(engine), produce).status == 201
    assert produce.calls == 1


async def _claim_then(idempotency: IdempotencyStore,
                      produce: Callable[[], Awaitable[web.Response]]) -> web.Response:
    """Take the key, then run `produce` with the claim's release made impossible (as after a
    SIGKILL: the process does not get to drop it)."""
    async def no_release(_job: object) -> None:
        raise KeyboardInterrupt

    claimed = await idempotency.run("alice", "key-1", b"{}", _swap_writer(idempotency,
                                                                         no_release, produce))
    return claimed


def _swap_writer(idempotency: IdempotencyStore, write: Callable[[object], Awaitable[None]],
                 produce: Callable[[], Awaitable[web.Response]]
                 ) -> Callable[[], Awaitable[web.Response]]:
    async def swapped() -> web.Response:
        idempotency._writer.write = write  # type: ignore[method-assign,assignment]
        return await produce()
    return swapped


class Clock:
    """Unix seconds that a test moves."""

    def __init__(self) -> None:
        self.now_s = 1_000_000.0

    def __call__(self) -> float:
        return self.now_s


def kept_keys(engine: Engine) -> set[str]:
    """The keys the table holds."""
    with engine.connect() as db:
        return set(db.scalars(select(IdempotencyRow.key)))  # type: ignore[call-overload]


def test_expired_keys_are_pruned_and_run_again(tmp_path: Path) -> None:
    """A key older than the retention is pruned by a later store, and then the same request
    runs as new; a key within the retention is still replayed."""
    engine, clock = open_database(f"sqlite:///{tmp_path / 'node.db'}"), Clock()
    idempotency, produce = IdempotencyStore(engine, clock=clock, retention_s=600), Producer()
    answer(idempotency, produce, key="old")
    clock.now_s += 300
    young = answer(idempotency, produce, key="young")
    clock.now_s += 301  # "old" is 601 s old, "young" 301 s
    answer(idempotency, produce, key="late")
    assert kept_keys(engine) == {"young", "late"}
    assert answer(idempotency, produce, key="young").body == young.body
    assert REPLAYED_HEADER not in answer(idempotency, produce, key="old").headers
    assert produce.calls == 4


def test_pruning_goes_in_batches_then_waits(tmp_path: Path) -> None:
    """A store deletes at most the batch; the next store goes on while batches come out full,
    and once one is not full, pruning waits a minute."""
    engine, clock = open_database(f"sqlite:///{tmp_path / 'node.db'}"), Clock()
    idempotency = IdempotencyStore(engine, clock=clock, retention_s=10, prune_rows_max=2)
    produce = Producer()
    for index in range(5):
        answer(idempotency, produce, key=f"old-{index}")
    clock.now_s += 100
    left = []
    for index in range(4):
        answer(idempotency, produce, key=f"new-{index}")
        left.append(sum(key.startswith("old") for key in kept_keys(engine)))
    assert left == [3, 1, 0, 0]
    clock.now_s += 20  # the new keys have expired, but the last prune was not full
    answer(idempotency, produce, key="soon")
    assert len(kept_keys(engine)) == 5
    clock.now_s += PRUNE_EVERY_S
    answer(idempotency, produce, key="after-a-minute")
    assert len(kept_keys(engine)) == 4  # one more stored, a batch of two pruned


def test_pruning_on_postgresql() -> None:
    """The prune's statement (a row-value IN over a limited subquery) runs on PostgreSQL too."""
    engine, clock = open_database(fresh_postgres("idempotency_prune")), Clock()
    idempotency = IdempotencyStore(engine, clock=clock, retention_s=10, prune_rows_max=2)
    produce = Producer()
    for index in range(3):
        answer(idempotency, produce, key=f"old-{index}")
    clock.now_s += 100
    answer(idempotency, produce, key="new")
    with engine.connect() as db:
        assert db.scalar(select(func.count()).select_from(IdempotencyRow)) == 2
    engine.dispose()


def test_a_claim_dropped_while_another_looks_is_claimed_again(tmp_path: Path) -> None:
    """The holder drops its claim (its answer was not final) between the second request's
    insert and its read: the second request claims again and runs, where it was told that it
    reused the key for another request."""
    engine = open_database(f"sqlite:///{tmp_path / 'node.db'}")
    idempotency, produce = IdempotencyStore(engine), Producer()
    with engine.begin() as db:  # the first request's claim, as `_claim` writes it
        db.execute(IdempotencyRow.__table__.insert().values(  # type: ignore[attr-defined]
            caller="alice", key="key-1", request_sha256="held", status=0, media_type="",
            body=b"", created_at_s=0))
    found = idempotency._find.rows

    def dropped_meanwhile(**where: object) -> list[object]:
        with engine.begin() as db:
            db.execute(IdempotencyRow.__table__.delete())  # type: ignore[attr-defined]
        return list(found(**where))

    idempotency._find.rows = dropped_meanwhile  # type: ignore[method-assign]
    assert answer(idempotency, produce).status == 201
    assert produce.calls == 1
