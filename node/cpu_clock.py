"""CPU time a benchmark's processes spend over its timed part: its own process's, and each
service's as its `/metrics` reports it (`process_cpu_seconds_total`, on Linux)."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Final, Protocol

from node.metrics import process_cpu_s

HERE: Final = "bench clients"  # how this process's share is named unless told
CORES: Final = os.cpu_count() or 1


class Reporting(Protocol):
    """A client of a service with `/metrics` (a `NodeClient`)."""

    async def metrics(self) -> str:
        """The service's `/metrics` exposition."""


class CpuClock:
    """Started before the timed part, read after it."""

    def __init__(self, nodes: Mapping[str, Reporting], here: str = HERE) -> None:
        """`nodes`: a client of each service to count, by the name it is reported under;
        `here`: the name of this process's share."""
        self._nodes = dict(nodes)
        self._here = here
        self._started: dict[str, float | None] = {}

    async def start(self) -> None:
        """Note each process's CPU seconds so far."""
        self._started = await self._now()

    async def spent(self) -> dict[str, float] | None:
        """Each process's CPU seconds since `start`, this one's under `here`; None if a
        service reports none."""
        now = await self._now()
        spent = {}
        for name, then in self._started.items():
            later = now[name]
            if then is None or later is None:
                return None
            spent[name] = later - then
        return spent

    async def _now(self) -> dict[str, float | None]:
        now: dict[str, float | None] = {self._here: time.process_time()}
        for name, client in self._nodes.items():
            now[name] = process_cpu_s(await client.metrics())
        return now


def cpu_bound_per_s(ms_per_payment: float) -> float:
    """The payments a second that `ms_per_payment` of CPU allows with all cores busy."""
    return CORES * 1000 / ms_per_payment


def cpu_budget_ms(per_s: float) -> float:
    """The CPU milliseconds a payment may take, across every process, for `per_s` payments a
    second on this machine's cores."""
    return CORES * 1000 / per_s


def cpu_figures(cpu_s: Mapping[str, float] | None, payments: int) -> dict[str, object]:
    """The CPU figures of a run that completed `payments`: milliseconds per payment in all and
    by process, and the rate they bound on this machine's cores (none without a measure)."""
    if cpu_s is None or payments == 0:
        return {}
    by_process = {name: seconds / payments * 1000 for name, seconds in cpu_s.items()}
    per_payment = sum(by_process.values())
    return {"cores": CORES, "cpu_ms_per_payment": round(per_payment, 3),
            "cpu_ms_per_payment_by_process": {name: round(ms, 3)
                                              for name, ms in by_process.items()},
            "cpu_bound_per_s": round(cpu_bound_per_s(per_payment), 1)}


def cpu_line(figures: Mapping[str, object]) -> list[str]:
    """The human form of `cpu_figures` (no line without them)."""
    by_process = figures.get("cpu_ms_per_payment_by_process")
    if not isinstance(by_process, dict):
        return []
    shares = ", ".join(f"{name} {ms:.2f}" for name, ms in
                       sorted(by_process.items(), key=lambda share: -share[1]))
    return [f"CPU per payment: {figures['cpu_ms_per_payment']:.2f} ms ({shares}): at most "
            f"{figures['cpu_bound_per_s']:,} payments/s with all {CORES} cores busy"]
