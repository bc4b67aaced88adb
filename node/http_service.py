"""The shell every Earmark HTTP service shares: one application around a service's operations,
and serving it until a signal, on uvloop's event loop.

SIGTERM or Ctrl-C stops accepting connections, lets the requests in flight finish (whatever was
acknowledged has committed durably before its answer left), then runs the application's
clean-up, which closes the service's databases.

Why uvloop: a payment crosses several services, and each request spends much of its time in
the event loop and its sockets; libuv's loop did the same work with noticeably less CPU
(`earmark bench http`: 330 to 397 payments/s on this 2-core machine, nothing else changed).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Coroutine
from typing import Any, Final, Protocol, TypeVar

import uvloop
from aiohttp import web
from swagger_ui import api_doc

from node.api import BODY_BYTES_MAX, Api, problems
from node.garbage_collection import collect_rarely, freeze_heap
from node.idempotency import IdempotencyStore
from node.metrics import Metrics
from node.request_signing import NonceCache

SHUTDOWN_GRACE_S: Final = 10.0
_log = logging.getLogger("earmark.node")
T = TypeVar("T")


def run_service(main: Coroutine[Any, Any, None]) -> None:
    """Run a service's main coroutine on uvloop until it ends, logging at INFO."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    run_loop(main)


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` to its end on a fresh uvloop event loop (services, and the benchmarks that
    load them), collecting garbage rarely and never walking what was imported (see
    `node.garbage_collection`)."""
    collect_rarely()
    freeze_heap()
    return uvloop.run(main)


class Service(Protocol):
    """What a service provides: its operations, its database, and its life cycle."""

    api: Api
    idempotency: IdempotencyStore

    async def start(self) -> None:
        """Open connections and start background work."""

    async def close(self) -> None:
        """Finish background work and release everything."""


def service_app(service: Service, metrics: Metrics, health: dict[str, str]) -> web.Application:
    """The application of `service`: its operations (signed, idempotent, problem+json) plus
    /healthz (answering `health`), /metrics, /openapi.json and /docs."""
    app = web.Application(middlewares=[metrics.middleware, problems],
                          client_max_size=BODY_BYTES_MAX)
    service.api.install(app, NonceCache(), service.idempotency)

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", **health})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics.handler)
    api_doc(app, config_rel_url="/openapi.json", url_prefix="/docs", title=service.api.title)

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        await service.start()
        yield
        await service.close()

    app.cleanup_ctx.append(lifecycle)
    return app


async def serve_app(app: web.Application, host: str, port: int, name: str,
                    ready: asyncio.Event | None = None) -> None:
    """Serve `app` on host:port until SIGTERM or SIGINT, then shut down gracefully; `ready` is
    set once it listens."""
    runner = web.AppRunner(app, shutdown_timeout=SHUTDOWN_GRACE_S, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    freeze_heap()  # the service is open: what it holds now lives as long as the process
    _log.info("%s listening on http://%s:%d", name, host, port)
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        _log.info("stopping %s", name)
        await runner.cleanup()
