"""Run a node: build the aiohttp application of its role, serve it, stop it cleanly.

SIGTERM or Ctrl-C stops accepting connections, lets the requests in flight finish (a payment
that was acknowledged has committed durably before its answer left), then closes the ledger and
the databases.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from typing import Final, Protocol

from aiohttp import web
from swagger_ui import api_doc

from node.api import BODY_BYTES_MAX, Api, problems
from node.bank import BankService
from node.central import CentralService
from node.config import NodeConfig
from node.idempotency import IdempotencyStore
from node.metrics import Metrics
from node.request_signing import NonceCache

SHUTDOWN_GRACE_S: Final = 10.0
_log = logging.getLogger("earmark.node")


class Service(Protocol):
    """What a role provides: its operations, its database, and its life cycle."""

    api: Api
    idempotency: IdempotencyStore

    async def start(self) -> None:
        """Open connections and start background work."""

    async def close(self) -> None:
        """Finish background work and release everything."""


def service_for(config: NodeConfig, metrics: Metrics) -> Service:
    """The service of the configured role."""
    if config.role == "central":
        return CentralService(config, metrics)
    return BankService(config, metrics)


def build_app(config: NodeConfig) -> web.Application:
    """The application: the role's operations plus /healthz, /metrics, /openapi.json, /docs."""
    metrics = Metrics(config.role)
    service = service_for(config, metrics)
    app = web.Application(middlewares=[metrics.middleware, problems],
                          client_max_size=BODY_BYTES_MAX)
    service.api.install(app, NonceCache(), service.idempotency)

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "role": config.role, "name": config.name,
                                  "key": config.key.participant})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics.handler)
    api_doc(app, config_rel_url="/openapi.json", url_prefix="/docs", title=service.api.title)

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        await service.start()
        yield
        await service.close()

    app.cleanup_ctx.append(lifecycle)
    return app


async def serve(config: NodeConfig, ready: asyncio.Event | None = None) -> None:
    """Serve until SIGTERM or SIGINT, then shut down gracefully."""
    runner = web.AppRunner(build_app(config), shutdown_timeout=SHUTDOWN_GRACE_S,
                           access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    _log.info("%s node %s listening on http://%s:%d", config.role, config.name, config.host,
              config.port)
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        _log.info("stopping %s", config.name)
        await runner.cleanup()


def run(config: NodeConfig) -> None:
    """Serve in a fresh event loop (the `earmark node start` command)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(serve(config))
