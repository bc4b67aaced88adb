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

from node.database import open_database
from node.errors import NodeError, conflict
from node.idempotency import KEY_CHARS_MAX, REPLAYED_HEADER, IdempotencyStore


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


def test_other_process_answering_first_wins(tmp_path: Path) -> None:
    """Two nodes on one database answer the same key at once: the first stored answer stands
    for every later replay, and the second node's store does not fail."""
    first_node, second_node = store(tmp_path), store(tmp_path)
    inner = Producer(body=b'"second node"')

    async def racing() -> web.Response:
        # While the first node produces, the second node answers the same key and stores it.
        await second_node.run("alice", "key-1", b"{}", inner)
        return web.Response(status=201, body=b'"first node"')

    raced = answer(first_node, racing)
    replayed = answer(first_node, Producer())
    assert raced.body == b'"first node"'
    assert replayed.body == b'"second node"1'
