"""Keep-alive HTTP/1.1 connections from one service to another, for the calls nodes make.

Why not aiohttp's client (the services still serve with aiohttp): a node-to-node call needs
one thing, a request on a kept connection and its whole answer, and aiohttp's client spent about
100 µs of CPU per request on this machine building and tracking what these calls never use
(cookies, redirects, proxies, tracing, streamed bodies); this transport spends about 25 µs.
A cross-border payment makes about fourteen such calls, so that was the largest cost left
that no payment needed. The HTTP itself is parsed by httptools (llhttp, Node.js's parser, as
uvicorn uses it); this module frames requests, keeps connections and enforces the limits.

What it does, and no more: `http://` or `https://` to one origin; the request's body sent with
its length; the answer read whole, by `Content-Length` or chunked, and refused beyond a size;
one time limit per request, the wait for a connection and connecting included; at most
`CONNECTIONS_MAX` connections at once per origin, the idle ones reused (last in, first out)
unless idle for `IDLE_S` or closed by the server, which keeps its own connections longer
(aiohttp's server: 75 s). A failure before the whole answer is in is `NoAnswer`, and that
connection is closed rather than reused, since an answer may still be on its way.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import Final, cast
from urllib.parse import urlsplit

import httptools

from node.errors import NodeError

CONNECTIONS_MAX: Final = 100  # open at once per origin, as aiohttp's client allowed
ANSWER_BYTES_MAX: Final = 16 * 1024 * 1024  # the largest answer a service reads from another
IDLE_S: Final = 15.0  # an idle connection older than this is closed, not reused
_METHODS: Final = frozenset({"GET", "POST", "PUT", "DELETE"})
_PORTS: Final = {"http": 80, "https": 443}


def base_path(base_url: str) -> str:
    """The path a service is served under, from its base URL ("" at the root): what every path
    sent to it, and signed, starts with."""
    return urlsplit(base_url).path.rstrip("/")


class NoAnswer(NodeError):
    """No whole HTTP answer came: the service was unreachable, closed the connection, answered
    something that is not HTTP or more than the limit, or took longer than the time limit."""

    def __init__(self, detail: str, *, too_large: bool = False) -> None:
        super().__init__(502, "unreachable", "Service unreachable", detail)
        self.too_large = too_large


@dataclass(frozen=True, slots=True)
class Answer:
    """A whole HTTP answer: status, headers by lower-case name (the last of a repeated one)
    and body."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def media_type(self) -> str:
        """The Content-Type without its parameters, lower-case."""
        return self.headers.get("content-type", "").partition(";")[0].strip().lower()


class Origin:
    """The connections to the service at `base_url` (its scheme, host and port); `exchange`
    sends one request on them.

    A path is given whole and already percent-encoded, and sent as it is, so a signature over
    it holds."""

    def __init__(self, base_url: str, *, timeout_s: float,
                 answer_bytes_max: int = ANSWER_BYTES_MAX) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in _PORTS or not parts.hostname:
            raise NodeError(400, "url_invalid", "Invalid URL",
                            f"{base_url!r}: a service's URL is http:// or https:// and a host")
        self._host = parts.hostname
        self._port = parts.port or _PORTS[parts.scheme]
        self._tls = ssl.create_default_context() if parts.scheme == "https" else None
        default_port = self._port == _PORTS[parts.scheme]
        self._authority = self._host if default_port else f"{self._host}:{self._port}"
        if ":" in self._host:  # an IPv6 literal is bracketed in Host
            self._authority = (f"[{self._host}]" if default_port
                               else f"[{self._host}]:{self._port}")
        self._timeout_s = timeout_s
        self._answer_bytes_max = answer_bytes_max
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()
        self._slots = asyncio.Semaphore(CONNECTIONS_MAX)

    async def exchange(self, method: str, path_qs: str, body: bytes,
                       headers: dict[str, str]) -> Answer:
        """Send one request and read its whole answer; `NoAnswer` if that fails."""
        head = self._head(method, path_qs, len(body), headers)
        connection: _Connection | None = None
        try:
            # The time limit counts the wait for a free connection too.
            async with asyncio.timeout(self._timeout_s), self._slots:
                connection = await self._connection()
                answer = await connection.send(head, body)
                if connection.reusable:
                    self._idle.append(connection)
                return answer
        except TimeoutError:
            raise NoAnswer(f"{method} {path_qs}: no answer within "
                           f"{self._timeout_s:g} s") from None
        except OSError as error:
            raise NoAnswer(f"{method} {path_qs}: {error}") from None
        except NoAnswer as error:
            raise NoAnswer(f"{method} {path_qs}: {error.problem.detail}",
                           too_large=error.too_large) from None
        finally:
            if connection is not None and not connection.reusable:
                self._discard(connection)

    async def close(self) -> None:
        """Close every connection; a request in flight fails with `NoAnswer`."""
        for connection in list(self._open):
            self._discard(connection)
        self._idle.clear()

    def _head(self, method: str, path_qs: str, length: int, headers: dict[str, str]) -> bytes:
        if method not in _METHODS:
            raise NodeError(400, "method_invalid", "Invalid method", f"{method!r}")
        lines = [f"{method} {path_qs} HTTP/1.1", f"Host: {self._authority}",
                 f"Content-Length: {length}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        text = "\r\n".join(lines)
        # A CR or LF inside a name, value or path would start a header (or a request) of its
        # own: refused rather than sent.
        if text.count("\n") != len(lines) - 1 or text.count("\r") != len(lines) - 1:
            raise NodeError(400, "header_invalid", "Invalid request",
                            "a path, header name or value holds a line break")
        return (text + "\r\n\r\n").encode("latin-1")

    async def _connection(self) -> _Connection:
        now = asyncio.get_running_loop().time()
        while self._idle:
            connection = self._idle.pop()
            if connection.reusable and now - connection.idle_since < IDLE_S:
                return connection
            self._discard(connection)
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(
            lambda: _Connection(self._answer_bytes_max), self._host, self._port,
            ssl=self._tls, server_hostname=self._host if self._tls else None)
        self._open.add(connection)
        return connection

    def _discard(self, connection: _Connection) -> None:
        connection.close()
        self._open.discard(connection)


class _Connection(asyncio.Protocol):
    """One kept connection: sends a request, parses its answer with httptools."""

    def __init__(self, answer_bytes_max: int) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[Answer] | None = None
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._size = 0
        self._answer_bytes_max = answer_bytes_max
        self.reusable = False  # true between a whole answer that keeps the connection and use
        self.idle_since = 0.0

    async def send(self, head: bytes, body: bytes) -> Answer:
        """The answer to `head` and `body`, sent on this connection."""
        if self._transport is None or self._transport.is_closing():
            raise NoAnswer("the connection closed")
        self.reusable = False
        self._waiter = asyncio.get_running_loop().create_future()
        # One write, so the request leaves in one segment: the server reads it in one wake-up.
        self._transport.write(head + body)
        return await self._waiter

    def close(self) -> None:
        """Close the connection; a request waiting fails."""
        self.reusable = False
        if self._transport is not None:
            self._transport.close()
        self._fail("the connection closed")

    # ---- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # a stream's, as connected

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # bytes nobody asked for: the connection cannot be trusted
            self.close()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(f"the answer is not HTTP/1.1: {error}")
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        self._transport = None
        self._fail("the connection closed before the whole answer" if exc is None
                   else f"the connection failed: {exc}")

    # ---- httptools callbacks -------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._headers, self._body, self._size = {}, [], 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > self._answer_bytes_max:
            self._fail(f"the answer exceeds {self._answer_bytes_max} bytes", too_large=True)
            self.close()
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is None or waiter.done():
            return
        self.reusable = self._parser.should_keep_alive()
        self.idle_since = waiter.get_loop().time()
        waiter.set_result(Answer(self._parser.get_status_code(), self._headers,
                                 b"".join(self._body)))

    def _fail(self, detail: str, *, too_large: bool = False) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(NoAnswer(detail, too_large=too_large))
