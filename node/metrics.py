"""`/metrics` in Prometheus' text format: requests by route and status, their latency, and the
process's own figures (CPU seconds, memory, open files; on Linux), as every Prometheus client
exports them."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

PROCESS_CPU: Final = "process_cpu_seconds_total"

_LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """One registry per service, so several services in one process never mix their counts."""

    def __init__(self, role: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("earmark_http_requests", "HTTP requests answered",
                                ["role", "method", "route", "status"], registry=self.registry)
        self.latency = Histogram("earmark_http_request_duration_seconds",
                                 "Time from request to response", ["role", "route"],
                                 buckets=_LATENCY_BUCKETS_S, registry=self.registry)
        ProcessCollector(registry=self.registry)
        self.role = role
        # Each label set's counter and histogram, found once: `labels()` validates and locks
        # on every call, which every request paid for twice.
        self._counted: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    @web.middleware
    async def middleware(self, request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                         ) -> web.StreamResponse:
        """Counts and times every request under its route's template, not its concrete path."""
        started = time.perf_counter()
        response = await handler(request)
        route = request.match_info.route.resource
        template = route.canonical if route is not None else "unmatched"
        key = (request.method, template, response.status)
        counted = self._counted.get(key)
        if counted is None:
            counted = self._counted[key] = (
                self.requests.labels(self.role, request.method, template, str(response.status)),
                self.latency.labels(self.role, template))
        requests, latency = counted
        requests.inc()
        latency.observe(time.perf_counter() - started)
        return response

    async def handler(self, _request: web.Request) -> web.Response:
        """The exposition."""
        return web.Response(body=generate_latest(self.registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})


def process_cpu_s(exposition: str) -> float | None:
    """The process's CPU seconds in a `/metrics` exposition; None where it reports none (the
    process figures exist on Linux only)."""
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == PROCESS_CPU:
                return sample.value
    return None
