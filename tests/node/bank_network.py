"""A central bank and a commercial bank served in-process, and signed callers for the tests.

Method: both nodes are built by `node.server.build_app` from fresh configurations on temporary
SQLite files and served by aiohttp's `TestServer`; every call is signed as a real client signs.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families
from yarl import URL

from engine.keys import KeyPair
from node.config import CentralLink, NodeConfig
from node.request_signing import sign_request
from node.server import build_app

# Small daily limits per KYC tier 0..3, in minor units, so the tests can reach them.
KHR_LIMITS = [0, 60_000, 1_000_000, 10_000_000]


def key(name: str) -> KeyPair:
    """A deterministic key named for its holder."""
    return KeyPair.from_seed(hashlib.sha256(name.encode()).digest())


CENTRAL, ABA, MINISTRY = key("central"), key("aba"), key("ministry")


@dataclass
class Clock:
    """A service's clock: real time (the notary's) plus an offset a test may move."""

    offset_s: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset_s


@dataclass(frozen=True)
class Answer:
    """A response: status, parsed JSON (or text), headers."""

    status: int
    body: Any
    headers: dict[str, str]


@dataclass(frozen=True)
class Caller:
    """One key calling one node."""

    session: aiohttp.ClientSession
    base: str
    key: KeyPair

    async def get(self, path: str, **query: Any) -> Answer:
        """A signed GET."""
        path_qs = f"{path}?{urlencode(query)}" if query else path
        return await self._call("GET", path_qs, b"", {})

    async def post(self, path: str, body: dict[str, Any], idempotency_key: str = "") -> Answer:
        """A signed POST with an Idempotency-Key (a fresh one unless given)."""
        headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4()),
                   "Content-Type": "application/json"}
        return await self._call("POST", path, orjson.dumps(body), headers)

    async def _call(self, method: str, path_qs: str, body: bytes,
                    headers: dict[str, str]) -> Answer:
        headers = {**headers, **sign_request(self.key, method, path_qs, body)}
        url = URL(self.base + path_qs, encoded=True)
        async with self.session.request(method, url, data=body or None,
                                        headers=headers) as response:
            raw = await response.read()
            parsed: Any = raw.decode()
            if "json" in response.content_type:
                parsed = orjson.loads(raw)
            return Answer(response.status, parsed, dict(response.headers))


@dataclass(frozen=True)
class Network:
    """The two nodes and a session to call them."""

    session: aiohttp.ClientSession
    central_url: str
    bank_url: str

    def central(self, who: KeyPair) -> Caller:
        """`who` calling the central bank."""
        return Caller(self.session, self.central_url, who)

    def bank(self, who: KeyPair) -> Caller:
        """`who` calling the commercial bank `aba`."""
        return Caller(self.session, self.bank_url, who)


@asynccontextmanager
async def network(folder: Path) -> AsyncIterator[Network]:
    """A central bank (KHR, KZT) with `aba` registered and funded with 10 000 000 KHR minor
    units, and `aba` serving its customers."""
    central = NodeConfig(role="central", name="national-bank", port=0, currencies=["KHR", "KZT"],
                         database=f"sqlite:///{folder / 'central.db'}",
                         key_seed=hashlib.sha256(b"central").hexdigest())
    async with TestServer(build_app(central)) as central_server:
        central_url = str(central_server.make_url("")).rstrip("/")
        bank = NodeConfig(role="bank", name="aba", port=0, currencies=["KHR", "KZT"],
                          database=f"sqlite:///{folder / 'aba.db'}",
                          key_seed=hashlib.sha256(b"aba").hexdigest(),
                          central=CentralLink(url=central_url, key=CENTRAL.participant),
                          daily_limits={"KHR": KHR_LIMITS})
        async with TestServer(build_app(bank)) as bank_server, aiohttp.ClientSession() as s:
            net = Network(s, central_url, str(bank_server.make_url("")).rstrip("/"))
            await _fund_the_bank(net)
            yield net


async def _fund_the_bank(net: Network) -> None:
    as_central = net.central(CENTRAL)
    registered = await as_central.post("/participants",
                                       {"name": "aba", "role": "bank", "key": ABA.participant})
    assert registered.status == 201, registered.body
    for currency in ("KHR", "KZT"):
        deposit = await as_central.post("/reserves", {"bank": "aba", "currency": currency,
                                                      "amount_minor": 10_000_000})
        assert deposit.status == 200, deposit.body
        issued = await net.central(ABA).post("/issuance", {"currency": currency,
                                                           "amount_minor": 10_000_000})
        assert issued.status == 200 and issued.body["status"] == "committed", issued.body


async def central_requests(net: Network, method: str, route: str) -> float:
    """How many `method route` requests the central bank has served, from its /metrics."""
    exposition = (await net.central(CENTRAL).get("/metrics")).body
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if (sample.name == "earmark_http_requests_total"
                    and sample.labels["route"] == route and sample.labels["method"] == method):
                return sample.value
    return 0.0


async def open_customer(net: Network, name: str, **facts: Any) -> KeyPair:
    """Open `name@aba` (a fresh wallet key) and return its key."""
    wallet = key(name)
    body = {"name": name, "display_name": facts.pop("display_name", name.title() + " Chan"),
            "key": wallet.participant, **facts}
    opened = await net.bank(ABA).post("/customers", body)
    assert opened.status == 201, opened.body
    return wallet
