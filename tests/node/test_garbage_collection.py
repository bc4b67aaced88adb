"""The collector policy of a long-running process: rare collections that still find cycles, and
what exists at start-up exempted from them (`node.garbage_collection`), as `run_loop` and
`serve_app` apply it."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest
from aiohttp import web

from node.garbage_collection import (
    MIDDLE_COLLECTIONS_PER_FULL,
    YOUNG_COLLECTIONS_PER_MIDDLE,
    YOUNG_OBJECTS,
    collect_rarely,
    freeze_heap,
)
from node.http_service import run_loop, serve_app
from node.processes import free_port

POLICY = (YOUNG_OBJECTS, YOUNG_COLLECTIONS_PER_MIDDLE, MIDDLE_COLLECTIONS_PER_FULL)


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    """Each test starts from the interpreter's own collector and leaves it so."""
    before, enabled = gc.get_threshold(), gc.isenabled()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)
    if enabled:
        gc.enable()


class _Cycle:
    """A container that refers to itself: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


def _tracked(thing: object) -> bool:
    """Whether the collector still walks `thing` (a frozen object is not listed). The tests'
    objects are lists: CPython does not track a dict of plain values at all."""
    return any(o is thing for o in gc.get_objects())


def test_rare_collections_still_free_cycles_without_being_asked() -> None:
    collect_rarely()
    assert gc.get_threshold() == POLICY
    first = _Cycle()
    gone = weakref.ref(first)
    del first
    for _ in range(YOUNG_OBJECTS + 1):
        _Cycle()
    assert gone() is None, "a cycle outlived a whole batch of young objects"


def test_freezing_exempts_what_exists_and_not_what_comes_later() -> None:
    before = ["made before"]
    freeze_heap()
    after = ["made after"]
    assert not _tracked(before)
    assert _tracked(after)


def test_run_loop_collects_rarely_and_never_walks_what_was_made_before() -> None:
    made_before = ["made before the loop"]

    async def main() -> tuple[tuple[int, int, int], bool]:
        return gc.get_threshold(), _tracked(made_before)

    threshold, tracked = run_loop(main())
    assert threshold == POLICY
    assert not tracked


def test_a_service_freezes_what_it_opened_once_it_listens() -> None:
    asyncio.run(_serve_and_look())


async def _serve_and_look() -> None:
    opened: dict[str, object] = {}

    async def open_service(_app: web.Application) -> None:
        opened["state"] = ["opened at start-up"]

    app = web.Application()
    app.on_startup.append(open_service)
    ready = asyncio.Event()
    serving = asyncio.create_task(serve_app(app, "127.0.0.1", free_port(), "test", ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        assert not _tracked(opened["state"])
        assert _tracked(["made while serving"])
    finally:
        serving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await serving
