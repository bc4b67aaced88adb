"""The floor under `earmark bench http`: what this machine does before a payment does any work.

A payment through a bank costs its customer two signed round trips (prepare, sign), and then
the bank's and the central bank's own work. The floor measures the round trips alone: the same
clients, each with its own `NodeClient` (one aiohttp session, every request Ed25519-signed), post
the same payment request to a server in another process that only reads the body, authenticates
the request exactly as a node does (signature, timestamp, nonce) and echoes the body back. Its
payments per second, at two round trips each, bound what `bench http` can reach on this machine
with this stack. It also counts the CPU time both processes spent, so the bench can set the
round trips' share of a payment's CPU against what a target leaves per payment.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from aiohttp import web

from engine.keys import KeyPair
from node.api import problems
from node.client import NodeClient
from node.cpu_clock import CpuClock
from node.http_service import run_loop, run_service, serve_app
from node.messages import PaymentRequest
from node.metrics import Metrics
from node.processes import ServiceProcess, free_port
from node.request_signing import NonceCache, authenticate

FLOOR_PATH: Final = "/floor"
SERVER_NAME: Final = "bench-floor"


@dataclass(frozen=True, slots=True)
class Floor:
    """What the floor measured."""

    round_trips: int
    seconds: float
    cpu_s: float | None  # CPU time the clients and the server spent; None where not reported

    @property
    def round_trips_per_s(self) -> float:
        """Signed round trips per second."""
        return self.round_trips / self.seconds

    def payments_per_s(self, round_trips_per_payment: int) -> float:
        """The floor's payments per second at `round_trips_per_payment` each."""
        return self.round_trips_per_s / round_trips_per_payment

    def cpu_ms_per_payment(self, round_trips_per_payment: int) -> float | None:
        """The CPU milliseconds of `round_trips_per_payment` round trips (clients and server)."""
        if self.cpu_s is None:
            return None
        return self.cpu_s / self.round_trips * round_trips_per_payment * 1000


def floor_app() -> web.Application:
    """The floor's server: POST /floor authenticates and echoes; GET /healthz answers."""
    nonces = NonceCache()

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        authenticate(request.headers, request.method, request.path_qs, body, nonces)
        return web.Response(body=body, content_type="application/json")

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "role": SERVER_NAME})

    app = web.Application(middlewares=[problems])  # a refused request is problem+json, as a node's
    app.router.add_post(FLOOR_PATH, echo)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", Metrics(SERVER_NAME).handler)  # its CPU, for the bench
    return app


def serve(port: int) -> None:
    """Serve the floor on 127.0.0.1:`port` until SIGTERM or Ctrl-C."""
    run_service(serve_app(floor_app(), "127.0.0.1", port, SERVER_NAME))


class FloorClient(NodeClient):
    """A node client whose only call is the floor's round trip."""

    async def round_trip(self, request: PaymentRequest) -> bytes:
        """Post `request` signed; the server's answer (the same bytes)."""
        return await self._send("POST", FLOOR_PATH, body=request)



def measure(round_trips: int, clients: int, request: PaymentRequest, folder: Path,
            progress: Callable[[str], None]) -> Floor:
    """Start the floor's server, make `round_trips` round trips by `clients`, stop it."""
    port = free_port()
    server = ServiceProcess(SERVER_NAME, ["bench", "http-floor-server", "--port", str(port)],
                            f"http://127.0.0.1:{port}", folder / f"{SERVER_NAME}.log")
    progress(f"the floor: {round_trips:,} signed round trips by {clients} clients against a "
             "server that only authenticates them…")
    server.start()
    try:
        return run_loop(_round_trips(server.url, round_trips, clients, request))
    finally:
        server.stop()


async def _round_trips(url: str, round_trips: int, clients: int,
                       request: PaymentRequest) -> Floor:
    left = round_trips

    async def client_loop(client: FloorClient) -> None:
        nonlocal left
        while left > 0:
            left -= 1  # one event loop: no other task runs between the test and this
            await client.round_trip(request)

    async with AsyncExitStack() as stack:
        floor_clients = [await stack.enter_async_context(FloorClient(url, KeyPair.generate()))
                         for _ in range(clients)]
        cpu = CpuClock({SERVER_NAME: floor_clients[0]})
        await cpu.start()
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for client in floor_clients))
        seconds = time.perf_counter() - started
        spent = await cpu.spent()
        return Floor(round_trips, seconds,
                     None if spent is None else sum(spent.values()))
