"""Reads by key as they run on a database server, and held mid-flight: for the tests of what a
store keeps in memory while its database changes under a read.

On SQLite a store reads on the event loop (`node.database.read`), so no write can land during
a read; on PostgreSQL the read runs in a worker thread and one can. `on_a_server` gives a store's
module the server's behaviour, and `HeldRead` stops one of its reads after it has read and
before it answers, until the test lets it go.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

HOLD_S = 10.0  # the longest a held read waits, so a failing test ends instead of hanging


def on_a_server(monkeypatch: pytest.MonkeyPatch, module: ModuleType) -> None:
    """`module`'s reads go to worker threads, as on PostgreSQL, so a write can run while one of
    them is in flight."""
    async def threaded(_engine: object, function: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(function, *args)
    monkeypatch.setattr(module, "read", threaded)


class HeldRead:
    """`owner.name` (a store's read), replaced by one that reads, then waits to answer."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> None:
        self._monkeypatch, self._owner, self._name = monkeypatch, owner, name
        self._plain = getattr(owner, name)
        self._read, self._released = threading.Event(), threading.Event()
        monkeypatch.setattr(owner, name, self._held)

    def _held(self, *args: Any) -> Any:
        found = self._plain(*args)
        self._read.set()
        self._released.wait(HOLD_S)
        return found

    async def has_read(self) -> None:
        """Once the read has read (and is waiting to answer)."""
        await asyncio.to_thread(self._read.wait, HOLD_S)

    def release(self) -> None:
        """Let the read answer, and read plainly from now on."""
        self._released.set()
        self._monkeypatch.setattr(self._owner, self._name, self._plain)
