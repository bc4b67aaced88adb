"""The keep-alive transport of node-to-node calls (`node.http_transport`).

Against aiohttp's server (what every service runs), and against raw TCP servers for what a
well-behaved server never does: answer something that is not HTTP, or close mid-answer.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web
from aiohttp.test_utils import TestServer

from node import http_transport
from node.errors import NodeError
from node.http_transport import NoAnswer, Origin

TIMEOUT_S = 5.0
LIMIT = 1_000_000


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


class Peers:
    """What the server saw: each request's client port, path, body and headers."""

    def __init__(self) -> None:
        self.ports: list[int] = []
        self.requests: list[tuple[str, str, bytes, dict[str, str]]] = []
        self.now = 0  # requests being answered at once
        self.most = 0

    async def record(self, request: web.Request) -> bytes:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.ports.append(peer[1] if peer else -1)
        body = await request.read()
        self.requests.append((request.method, request.path_qs, body, dict(request.headers)))
        return body


@asynccontextmanager
async def served(routes: Callable[[web.Application, Peers], None],
                 **server: Any) -> AsyncIterator[tuple[str, Peers]]:
    peers = Peers()
    app = web.Application()
    routes(app, peers)
    test_server = TestServer(app)
    await test_server.start_server(**server)  # `ssl`, and the runner's `keepalive_timeout`
    try:
        yield str(test_server.make_url("")).rstrip("/"), peers
    finally:
        await test_server.close()


def echo(app: web.Application, peers: Peers) -> None:
    async def answer(request: web.Request) -> web.Response:
        body = await peers.record(request)
        return web.Response(body=body or b"empty", content_type="application/json",
                            headers={"X-Answer": "yes"})

    async def closing(request: web.Request) -> web.Response:
        await peers.record(request)
        response = web.Response(body=b"bye")
        response.force_close()
        return response

    async def slow(request: web.Request) -> web.Response:
        await peers.record(request)
        peers.now += 1
        peers.most = max(peers.most, peers.now)
        await asyncio.sleep(float(request.query.get("s", "0.5")))
        peers.now -= 1
        return web.Response(body=b"slow")

    app.router.add_route("*", "/echo", answer)
    app.router.add_get("/closing", closing)
    app.router.add_get("/slow", slow)


def origin(url: str, timeout_s: float = TIMEOUT_S) -> Origin:
    return Origin(url, timeout_s=timeout_s, answer_bytes_max=LIMIT)


@asynccontextmanager
async def echo_origin(timeout_s: float = TIMEOUT_S,
                      **server: Any) -> AsyncIterator[tuple[Origin, Peers]]:
    """An Origin on the echo service, closed after."""
    async with served(echo, **server) as (url, peers):
        service = origin(url, timeout_s)
        try:
            yield service, peers
        finally:
            await service.close()


def test_requests_share_one_kept_connection() -> None:
    """One after another, requests go on one connection, sent as given and answered whole."""
    async def scenario() -> None:
        async with echo_origin() as (service, peers):
            for n in range(5):
                answer = await service.exchange("POST", f"/echo?n={n}", b'{"n": %d}' % n,
                                                {"Content-Type": "application/json"})
                assert (answer.status, answer.body) == (200, b'{"n": %d}' % n)
                assert answer.media_type == "application/json"
                assert answer.headers["x-answer"] == "yes"
            got = await service.exchange("GET", "/echo", b"", {"Earmark-Key": "k"})
        assert len(set(peers.ports)) == 1
        assert got.body == b"empty"
        method, path, body, headers = peers.requests[2]
        assert (method, path, body) == ("POST", "/echo?n=2", b'{"n": 2}')
        assert headers["Content-Type"] == "application/json"
        assert peers.requests[5][3]["Earmark-Key"] == "k"
    run(scenario)


def test_a_connection_the_answer_closes_is_not_reused() -> None:
    async def scenario() -> None:
        async with echo_origin() as (service, peers):
            assert (await service.exchange("GET", "/closing", b"", {})).body == b"bye"
            assert (await service.exchange("GET", "/echo", b"", {})).body == b"empty"
        assert len(set(peers.ports)) == 2
    run(scenario)


def test_a_connection_idle_too_long_is_not_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_transport, "IDLE_S", 0.0)

    async def scenario() -> None:
        async with echo_origin() as (service, peers):
            for _ in range(3):
                await service.exchange("GET", "/echo", b"", {})
        assert len(set(peers.ports)) == 3
    run(scenario)


def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    """aiohttp's server closes connections idle past its keep-alive time; the next request
    goes on a new one instead of failing."""
    async def scenario() -> None:
        async with echo_origin(keepalive_timeout=0.1) as (service, peers):
            await service.exchange("GET", "/echo", b"", {})
            await asyncio.sleep(0.5)
            assert (await service.exchange("GET", "/echo", b"", {})).status == 200
        assert len(set(peers.ports)) == 2
    run(scenario)


def test_a_late_answer_is_never_taken_for_another() -> None:
    """A request past its time limit, or cancelled, is no answer; its connection is closed, so
    its answer, when it comes, cannot be read as the next request's."""
    async def scenario() -> None:
        async with echo_origin(timeout_s=0.2) as (service, _):
            with pytest.raises(NoAnswer) as late:
                await service.exchange("GET", "/slow?s=0.5", b"", {})
            assert "no answer within 0.2 s" in str(late.value.problem.detail)
            assert (await service.exchange("POST", "/echo", b"1", {})).body == b"1"
            cancelled = asyncio.ensure_future(service.exchange("GET", "/slow?s=0.1", b"", {}))
            await asyncio.sleep(0.05)
            cancelled.cancel()
            await asyncio.sleep(0.6)  # both slow answers are due by now
            assert (await service.exchange("POST", "/echo", b"2", {})).body == b"2"
    run(scenario)


def test_at_most_connections_max_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_transport, "CONNECTIONS_MAX", 2)

    async def scenario() -> None:
        async with echo_origin() as (service, peers):
            answers = await asyncio.gather(*(service.exchange("GET", "/slow?s=0.1", b"", {})
                                             for _ in range(6)))
        assert [a.body for a in answers] == [b"slow"] * 6
        assert peers.most == 2
        assert len(set(peers.ports)) == 2
    run(scenario)


def test_the_time_limit_counts_the_wait_for_a_connection(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With one connection allowed, a request behind a slow one runs out of time while it
    waits, though its own answer alone would come within the limit."""
    monkeypatch.setattr(http_transport, "CONNECTIONS_MAX", 1)

    async def scenario() -> None:
        async with echo_origin(timeout_s=0.3) as (service, _):
            first, second = await asyncio.gather(
                *(service.exchange("GET", "/slow?s=0.2", b"", {}) for _ in range(2)),
                return_exceptions=True)
        assert isinstance(first, http_transport.Answer)
        assert isinstance(second, NoAnswer)
    run(scenario)


def test_line_breaks_in_a_request_are_refused_before_sending() -> None:
    async def scenario() -> None:
        async with echo_origin() as (service, peers):
            for path, headers in (("/echo", {"X-A": "1\r\nX-Injected: 1"}),
                                  ("/echo", {"X-A\nB": "1"}),
                                  ("/echo HTTP/1.1\r\n\r\nGET /echo", {})):
                with pytest.raises(NodeError) as refused:
                    await service.exchange("GET", path, b"", headers)
                assert refused.value.problem.code == "header_invalid"
        assert peers.requests == []
    run(scenario)


def test_a_service_that_is_not_there_is_no_answer() -> None:
    async def scenario() -> None:
        with pytest.raises(NoAnswer) as refused:
            await origin("http://127.0.0.1:1").exchange("GET", "/x", b"", {})
        assert refused.value.problem.code == "unreachable"
        assert refused.value.problem.detail.startswith("GET /x: ")
    run(scenario)


def test_a_url_that_is_not_a_service_is_refused() -> None:
    for url in ("ftp://127.0.0.1/", "127.0.0.1:8080", "http:///path"):
        with pytest.raises(NodeError) as refused:
            origin(url)
        assert refused.value.problem.code == "url_invalid"


@asynccontextmanager
async def raw_server(answer: bytes) -> AsyncIterator[str]:
    """A TCP server that reads one request's head, writes `answer` and closes."""
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"


@pytest.mark.parametrize(("answer", "said"), [
    (b"this is not HTTP\r\n\r\n", "not HTTP/1.1"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b", "closed before"),
    (b"", "closed before"),
])
def test_what_is_not_a_whole_answer_is_no_answer(answer: bytes, said: str) -> None:
    async def scenario() -> None:
        async with raw_server(answer) as url:
            with pytest.raises(NoAnswer) as refused:
                await origin(url).exchange("GET", "/x", b"", {})
        assert said in str(refused.value.problem.detail)
        assert not refused.value.too_large
    run(scenario)


def test_an_answer_over_the_limit_is_no_answer_and_says_so() -> None:
    big = b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n" + b"x" * 2000

    async def scenario() -> None:
        async with raw_server(big) as url:
            service = Origin(url, timeout_s=TIMEOUT_S, answer_bytes_max=1_000)
            with pytest.raises(NoAnswer) as refused:
                await service.exchange("GET", "/x", b"", {})
        assert refused.value.too_large
        assert "exceeds 1000 bytes" in str(refused.value.problem.detail)
    run(scenario)


def test_https_with_the_ca_of_ssl_cert_file(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """An https:// service is verified against the system's CAs, or those SSL_CERT_FILE
    names (a network's own CA)."""
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)

    async def scenario(expect: Callable[[Origin], Awaitable[None]]) -> None:
        async with served(echo, ssl=server_context) as (url, _):
            assert url.startswith("https://")
            service = origin(url)
            await expect(service)
            await service.close()

    async def refused(service: Origin) -> None:
        with pytest.raises(NoAnswer) as raised:
            await service.exchange("GET", "/echo", b"", {})
        assert "CERTIFICATE_VERIFY_FAILED" in str(raised.value.problem.detail)

    async def answered(service: Origin) -> None:
        assert (await service.exchange("POST", "/echo", b"tls", {})).body == b"tls"

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    asyncio.run(scenario(refused))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    asyncio.run(scenario(answered))
