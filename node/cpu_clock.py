"""CPU time a benchmark's processes spend over its timed part: this process's own, and each
node's as its `/metrics` reports it (`process_cpu_seconds_total`, on Linux)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Final, Protocol

from node.metrics import process_cpu_s

HERE: Final = "bench clients"  # how this process's share is named


class Reporting(Protocol):
    """A client of a service with `/metrics` (a `NodeClient`)."""

    async def metrics(self) -> str:
        """The service's `/metrics` exposition."""


class CpuClock:
    """Started before the timed part, read after it."""

    def __init__(self, nodes: Mapping[str, Reporting]) -> None:
        """`nodes`: a client of each node to count, by the name it is reported under."""
        self._nodes = dict(nodes)
        self._started: dict[str, float | None] = {}

    async def start(self) -> None:
        """Note each process's CPU seconds so far."""
        self._started = await self._now()

    async def spent(self) -> dict[str, float] | None:
        """Each process's CPU seconds since `start`, this one's under `HERE`; None if a node
        reports none."""
        now = await self._now()
        spent = {}
        for name, then in self._started.items():
            later = now[name]
            if then is None or later is None:
                return None
            spent[name] = later - then
        return spent

    async def _now(self) -> dict[str, float | None]:
        now: dict[str, float | None] = {HERE: time.process_time()}
        for name, client in self._nodes.items():
            now[name] = process_cpu_s(await client.metrics())
        return now
