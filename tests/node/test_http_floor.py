"""The floor under `earmark bench http` and how benchmarks count the CPU their processes spend.

Method: the floor's application is served in-process by aiohttp's TestServer and called with the
same signed client the bench uses; the CPU clock reads real `/metrics` expositions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from prometheus_client.exposition import generate_latest

from engine.keys import KeyPair
from node.client import ClientError
from node.cpu_clock import HERE, CpuClock
from node.http_bench import payment_request
from node.http_floor import FLOOR_PATH, Floor, FloorClient, floor_app
from node.metrics import Metrics, process_cpu_s

pytestmark = pytest.mark.skipif(process_cpu_s(generate_latest(Metrics("probe").registry).decode())
                                is None, reason="process figures exist on Linux only")


def on_the_floor(scenario: Callable[[FloorClient, str], Awaitable[None]]) -> None:
    """Run `scenario` with a signed client of a served floor, and the floor's URL."""
    async def serve() -> None:
        async with TestServer(floor_app()) as server:
            url = str(server.make_url("")).rstrip("/")
            async with FloorClient(url, KeyPair.generate()) as client:
                await scenario(client, url)
    asyncio.run(serve())


def test_a_signed_round_trip_is_answered_with_its_own_body() -> None:
    """The server does a round trip's work and no more: the body comes back as it was sent."""
    request = payment_request()

    async def scenario(client: FloorClient, _url: str) -> None:
        assert await client.round_trip(request) == request.model_dump_json(
            exclude_none=True).encode()

    on_the_floor(scenario)


def test_the_floor_authenticates_as_a_node_does() -> None:
    """A floor that skipped the signature check would measure less than a node must do: an
    unsigned request is refused as a node refuses it."""
    async def scenario(_client: FloorClient, url: str) -> None:
        async with (aiohttp.ClientSession() as session,
                    session.post(url + FLOOR_PATH, data=b"{}") as answer):
            assert answer.status == 401
            assert (await answer.json())["code"] == "auth_missing"

    on_the_floor(scenario)


def test_the_cpu_clock_counts_this_process_and_each_node() -> None:
    """Both shares are counted from the clock's start; work done in this process shows in its
    own share."""
    async def scenario(client: FloorClient, _url: str) -> None:
        clock = CpuClock({"floor": client})
        await clock.start()
        sum(i * i for i in range(2_000_000))  # this process's CPU, well over a clock tick
        spent = await clock.spent()
        assert spent is not None and set(spent) == {HERE, "floor"}
        assert spent[HERE] > 0 and spent["floor"] >= 0

    on_the_floor(scenario)


def test_process_cpu_is_read_from_an_exposition_and_absent_where_not_reported() -> None:
    """The parser takes `process_cpu_seconds_total` and nothing else for it."""
    assert process_cpu_s("# TYPE process_cpu_seconds_total counter\n"
                         "process_cpu_seconds_total 12.5\n") == 12.5
    assert process_cpu_s("# TYPE other_total counter\nother_total 3.0\n") is None


def test_a_clock_whose_node_reports_no_cpu_gives_no_figures() -> None:
    """Without a node's figure there is no honest total: `spent` is None, not a partial sum."""
    class Silent:
        async def metrics(self) -> str:
            return ""

    async def scenario() -> None:
        clock = CpuClock({"silent": Silent()})
        await clock.start()
        assert await clock.spent() is None

    asyncio.run(scenario())


def test_the_floor_figures_follow_from_what_was_measured() -> None:
    """Per payment means per `round_trips_per_payment` round trips; no CPU, no CPU figure."""
    floor = Floor(round_trips=1_000, seconds=0.5, cpu_s=0.8)
    assert floor.round_trips_per_s == 2_000
    assert floor.payments_per_s(2) == 1_000
    assert floor.cpu_ms_per_payment(2) == pytest.approx(1.6)
    assert Floor(1_000, 0.5, None).cpu_ms_per_payment(2) is None


def test_a_failing_floor_is_a_client_error() -> None:
    """The floor's client speaks the node client's errors (a refusal is not a round trip)."""
    async def scenario(_client: FloorClient, url: str) -> None:
        async with FloorClient(url + "/nowhere", KeyPair.generate()) as lost:
            with pytest.raises(ClientError):
                await lost.round_trip(payment_request())

    on_the_floor(scenario)
