"""Property-based fuzzing of both nodes' APIs with schemathesis: no input makes a node answer 5xx.

Method: the central bank and the commercial bank of `bank_network.network` are served on a
background thread's event loop (schemathesis calls synchronously over real sockets). For every
operation in each node's `/openapi.json`, schemathesis generates cases that fit the schema and
cases that do not; each is prepared exactly as `requests` will send it, then signed over those
bytes by a key the node knows and given a fresh Idempotency-Key, so the fuzz reaches the handlers
instead of stopping at 401. Other runs send no signature or garbage signature headers. Every
answer must be below 500, and every 4xx a problem+json document with a `code`.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest
import requests
import schemathesis
from bank_network import ABA, CENTRAL, MINISTRY, Network, key, network, open_customer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.core.result import Err
from schemathesis.schemas import APIOperation, BaseSchema

from engine.keys import KeyPair
from node.errors import PROBLEM_CONTENT_TYPE
from node.idempotency import HEADER as IDEMPOTENCY_HEADER
from node.request_signing import (
    KEY_HEADER,
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign_request,
)

EXAMPLES_PER_OPERATION: Final = 20  # signed cases per operation and node
GARBAGE_EXAMPLES_PER_OPERATION: Final = 8  # unsigned or badly signed cases per operation
REQUEST_TIMEOUT_S: Final = 30.0
SERVE_TIMEOUT_S: Final = 60.0
CUSTOMER: Final = key("fuzzer")
Operation = APIOperation[Any, Any, Any, Any]
FUZZ_SETTINGS: Final = settings(deadline=None, database=None, derandomize=True,
                                suppress_health_check=list(HealthCheck))


@dataclass(frozen=True)
class Known:
    """Real values for path parameters, so some cases name things that exist."""

    values: dict[str, list[str]]

    def strategy(self, operation: Operation,
                 mode: GenerationMode) -> st.SearchStrategy[Case[Any]]:
        """Cases with generated path parameters, or with known ones where the node has some."""
        generated = operation.as_strategy(generation_mode=mode)
        names = [p.name for p in operation.path_parameters]
        known = {name: self.values[name] for name in names if name in self.values}
        if not known:
            return generated
        fixed = st.fixed_dictionaries({name: st.sampled_from(v) for name, v in known.items()})
        return st.one_of(generated, fixed.flatmap(
            lambda chosen: operation.as_strategy(generation_mode=mode, path_parameters=chosen)))


@dataclass(frozen=True)
class Served:
    """The two nodes' URLs and the values the setup created."""

    central_url: str
    bank_url: str
    known: Known


class BackgroundNetwork:
    """`bank_network.network` held open on its own event loop in a daemon thread."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._stop = asyncio.Event()
        self._held: Future[None] | None = None

    def __enter__(self) -> Served:
        self._thread.start()
        ready: Future[Served] = Future()
        self._held = asyncio.run_coroutine_threadsafe(self._hold(ready), self._loop)
        either: list[Future[Any]] = [ready, self._held]
        wait(either, timeout=SERVE_TIMEOUT_S, return_when=FIRST_COMPLETED)
        if not ready.done():
            self.__exit__()  # raises the setup's error, after stopping the thread
            raise TimeoutError("the nodes did not start")
        return ready.result()

    def __exit__(self, *_exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        try:
            if self._held is not None:
                self._held.result(timeout=SERVE_TIMEOUT_S)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=SERVE_TIMEOUT_S)
            self._loop.close()

    async def _hold(self, ready: Future[Served]) -> None:
        async with network(self._folder) as net:
            ready.set_result(await _populate(net))
            await self._stop.wait()


async def _populate(net: Network) -> Served:
    """An agency, a funded customer and a prepared cash-out, so generated cases can meet them."""
    agency = await net.central(CENTRAL).post(
        "/participants", {"name": "ministry", "role": "agency", "key": MINISTRY.participant})
    assert agency.status == 201, agency.body
    await open_customer(net, "fuzzer", phone="+85512345678", kyc_tier=2)
    paid = await net.bank(ABA).post("/distributions", {"account": "fuzzer@aba", "currency": "KHR",
                                                      "amount_minor": 500_000})
    assert paid.status == 200, paid.body
    prepared = await net.bank(CUSTOMER).post("/cash-outs", {"currency": "KHR",
                                                            "amount_minor": 100})
    assert prepared.status == 201, prepared.body
    known = Known({"bank": ["aba"], "currency": ["KHR", "KZT"], "account": ["fuzzer@aba"],
                   "owner": [CUSTOMER.participant, ABA.participant],
                   "tx_id": [paid.body["tx_id"], prepared.body["tx_id"]],
                   "payment_id": [prepared.body["payment_id"]]})
    return Served(net.central_url, net.bank_url, known)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Both nodes, served for the whole module."""
    with BackgroundNetwork(tmp_path_factory.mktemp("fuzz")) as nodes:
        yield nodes


def _schema(base_url: str) -> BaseSchema:
    document = requests.get(f"{base_url}/openapi.json", timeout=REQUEST_TIMEOUT_S)
    assert document.status_code == 200
    return schemathesis.openapi.from_dict(document.json())


def _operations(base_url: str) -> list[Operation]:
    """Every operation of the node's document; one schemathesis cannot read is a failure."""
    operations = []
    for result in _schema(base_url).get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operations.append(result.ok())
    return operations


def _prepare(session: requests.Session, base_url: str,
             case: Case[Any]) -> requests.PreparedRequest:
    """The request exactly as it will leave, so a signature can cover its bytes."""
    data = case.as_transport_kwargs(base_url=base_url)
    fields = ("method", "url", "headers", "params", "json", "data", "cookies")
    return session.prepare_request(requests.Request(**{f: data[f] for f in fields if f in data}))


def _body_bytes(prepared: requests.PreparedRequest) -> bytes:
    body = prepared.body
    if isinstance(body, str):
        return body.encode()
    assert body is None or isinstance(body, bytes), type(body)
    return body or b""


def _sign(prepared: requests.PreparedRequest, signer: KeyPair) -> None:
    """Sign the prepared bytes as `signer`; a POST gets a fresh Idempotency-Key first."""
    if prepared.method == "POST":
        prepared.headers[IDEMPOTENCY_HEADER] = str(uuid.uuid4())
    prepared.headers.update(sign_request(signer, str(prepared.method), prepared.path_url,
                                         _body_bytes(prepared)))


def _check(response: requests.Response, prepared: requests.PreparedRequest,
           expected: int | None) -> None:
    """No server error (the `expected` status if one is), and a client error is a problem
    document with a stable code."""
    where = f"{prepared.method} {prepared.path_url} {_body_bytes(prepared)[:300]!r}"
    assert response.status_code < 500, f"{where} -> {response.status_code} {response.text}"
    assert expected in (None, response.status_code), f"{where} -> {response.text}"
    if response.status_code >= 400:
        assert response.headers.get("Content-Type", "").startswith(PROBLEM_CONTENT_TYPE), where
        assert response.json().get("code"), f"{where} -> {response.text}"


Prepare = Callable[[requests.PreparedRequest, Any], None]
Extras = Callable[[Operation], st.SearchStrategy[Any]]


@dataclass(frozen=True)
class Fuzz:
    """One fuzzing pass over a node: how many cases, and what each case gets before it leaves."""

    base_url: str
    examples: int
    extras: Extras  # per operation, what `prepare` receives (a signer, garbage headers)
    prepare: Prepare
    known: Known
    expected: int | None = None  # the one status every answer must have, if there is one

    def run(self) -> None:
        """Run every operation's property; report each failing operation, not just the first."""
        failures: list[str] = []
        with requests.Session() as session:
            for operation in _operations(self.base_url):
                try:
                    self._property(session, operation)()
                except Exception as error:
                    failures.append(f"{operation.label}: {error}")
        assert not failures, "\n\n".join(failures)

    def _property(self, session: requests.Session, operation: Operation) -> Callable[[], None]:
        cases = st.sampled_from(list(GenerationMode)).flatmap(
            lambda mode: self.known.strategy(operation, mode))

        @settings(FUZZ_SETTINGS, max_examples=self.examples)
        @given(case=cases, extra=self.extras(operation))
        def answers_without_server_error(case: Case[Any], extra: Any) -> None:
            prepared = _prepare(session, self.base_url, case)
            self.prepare(prepared, extra)
            _check(session.send(prepared, timeout=REQUEST_TIMEOUT_S, allow_redirects=False),
                   prepared, self.expected)

        return answers_without_server_error


# Who may call each operation that the node's own key may not; anyone else is tried too.
CALLERS: Final = {"POST /issuance": ABA, "POST /redemption": ABA, "POST /wallets": ABA,
                  "POST /contracts": MINISTRY, "POST /payments": CUSTOMER,
                  "POST /cash-outs": CUSTOMER, "POST /payments/{payment_id}/signature": CUSTOMER}


def _signers(own: KeyPair, others: list[KeyPair]) -> Extras:
    """Mostly the operation's rightful caller (the node's own key unless `CALLERS` names
    another), sometimes anyone."""
    def for_operation(operation: Operation) -> st.SearchStrategy[KeyPair]:
        return st.one_of(st.just(CALLERS.get(operation.label, own)),
                         st.sampled_from([own, *others]))
    return for_operation


def test_central_survives_signed_fuzz(served: Served) -> None:
    """No schemathesis case for any central operation, signed mostly by its rightful caller and
    sometimes by another known key, gets a 5xx or a problem without a code."""
    Fuzz(served.central_url, EXAMPLES_PER_OPERATION, _signers(CENTRAL, [ABA, MINISTRY, CUSTOMER]),
         _sign, served.known).run()


def test_bank_survives_signed_fuzz(served: Served) -> None:
    """No schemathesis case for any bank operation, signed mostly by its rightful caller (the
    operator or the customer) and sometimes by another known key, gets a 5xx or a bare 4xx."""
    Fuzz(served.bank_url, EXAMPLES_PER_OPERATION, _signers(ABA, [CUSTOMER, MINISTRY]), _sign,
         served.known).run()


_HEADER_TEXT = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=140)
_GARBAGE = st.fixed_dictionaries({}, optional={
    KEY_HEADER: st.one_of(_HEADER_TEXT, st.just(CENTRAL.participant), st.just(ABA.participant)),
    TIMESTAMP_HEADER: st.one_of(_HEADER_TEXT, st.integers(0, 2**70).map(str),
                                st.builds(lambda: str(int(time.time())))),
    NONCE_HEADER: _HEADER_TEXT,
    SIGNATURE_HEADER: st.one_of(_HEADER_TEXT, st.binary(min_size=64, max_size=64).map(
        bytes.hex)),
})


def _garble(prepared: requests.PreparedRequest, headers: dict[str, str]) -> None:
    prepared.headers.update(headers)


@pytest.mark.parametrize("node", ["central", "bank"])
def test_unsigned_and_garbled_requests_are_refused_cleanly(served: Served, node: str) -> None:
    """Without a signature or with garbage in its signature headers, every case is refused with
    401 and a problem document, never accepted and never a 5xx."""
    base_url = served.central_url if node == "central" else served.bank_url
    Fuzz(base_url, GARBAGE_EXAMPLES_PER_OPERATION, lambda _operation: _GARBAGE, _garble,
         served.known, expected=401).run()
