"""Run a node: build the aiohttp application of its role, serve it, stop it cleanly.

SIGTERM or Ctrl-C stops accepting connections, lets the requests in flight finish (a payment
that was acknowledged has committed durably before its answer left), then closes the ledger and
the databases.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from node.bank import BankService
from node.central import CentralService
from node.config import NodeConfig
from node.http_service import Service, run_service, serve_app, service_app
from node.metrics import Metrics


def service_for(config: NodeConfig, metrics: Metrics) -> Service:
    """The service of the configured role."""
    if config.role == "central":
        return CentralService(config, metrics)
    return BankService(config, metrics)


def build_app(config: NodeConfig) -> web.Application:
    """The application: the role's operations plus /healthz, /metrics, /openapi.json, /docs."""
    metrics = Metrics(config.role)
    return service_app(service_for(config, metrics), metrics, {
        "role": config.role, "name": config.name, "key": config.key.participant})


async def serve(config: NodeConfig, ready: asyncio.Event | None = None) -> None:
    """Serve until SIGTERM or SIGINT, then shut down gracefully."""
    await serve_app(build_app(config), config.host, config.port,
                    f"{config.role} node {config.name}", ready)


def run(config: NodeConfig) -> None:
    """Serve in a fresh event loop (the `earmark node start` command)."""
    run_service(serve(config))
