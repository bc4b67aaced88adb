"""The route machinery (`node.api`): validation, problems, idempotency and the OpenAPI document.

Each test declares a tiny `Api` of its own, serves it in-process with aiohttp's TestServer on a
fresh SQLite database, sends signed requests and checks the status, the problem document and the
headers; the OpenAPI tests read the document the same routes produce.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import BaseModel, Field

from engine.keys import KeyPair
from node import messages
from node.api import Api, Call, problems
from node.database import open_database
from node.errors import PROBLEM_CONTENT_TYPE, unprocessable
from node.idempotency import HEADER, REPLAYED_HEADER, IdempotencyStore
from node.metrics import Metrics
from node.request_signing import NonceCache, sign_request

KEY = KeyPair.from_seed(b"\x07" * 32)
OTHER = KeyPair.from_seed(b"\x08" * 32)


class Order(BaseModel):
    """A test body."""

    item: str = Field(min_length=1)
    amount_minor: int = Field(gt=0)


class Receipt(BaseModel):
    """A test answer."""

    item: str
    amount_minor: int
    caller: str
    serial: int


class Item(BaseModel):
    """A test answer of a GET."""

    name: str
    limit: int


class Gate:
    """Holds orders inside the handler: `entered` is set when one arrives, `release` lets go."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()


def shop(gate: Gate | None = None) -> tuple[Api, list[Order]]:
    """An Api of four routes; `gate`, when given, holds every order until released."""
    api = Api("Shop", "1.0", "A test service.")
    orders: list[Order] = []

    @api.route("POST", "/orders", summary="Place an order", tag="shop", body=Order,
               response=Receipt, status=201)
    async def place(call: Call) -> Receipt:
        order = call.body(Order)
        if gate is not None:
            gate.entered.set()
            await gate.release.wait()
        if order.item == "forbidden":
            raise unprocessable("not_sold", "we do not sell that", rule={"name": "r"})
        orders.append(order)
        return Receipt(item=order.item, amount_minor=order.amount_minor,
                       caller=call.signed_by(), serial=len(orders))

    @api.route("GET", "/items/{name}", summary="Read an item", tag="shop",
               query=messages.Page, response=Item)
    async def item(call: Call) -> Item:
        return Item(name=call.path("name"), limit=call.query(messages.Page).limit)

    @api.route("GET", "/boom", summary="Fail", tag="shop")
    async def boom(_call: Call) -> Item:
        raise RuntimeError("secret internals")

    @api.route("GET", "/open", summary="Unsigned", tag="shop", signed=False, response=Item)
    async def unsigned(_call: Call) -> Item:
        return Item(name="open", limit=0)

    return api, orders


@asynccontextmanager
async def serving(api: Api, database: Path) -> AsyncIterator[TestClient[Any, Any]]:
    """The api served in-process, with the problems middleware and a fresh idempotency store."""
    metrics = Metrics("test")
    app = web.Application(middlewares=[metrics.middleware, problems])
    api.install(app, NonceCache(), IdempotencyStore(open_database(f"sqlite:///{database}")))
    app.router.add_get("/metrics", metrics.handler)
    async with TestClient(TestServer(app)) as client:
        yield client


async def send(client: TestClient[Any, Any], method: str, path: str, body: object = None, *,
               key: KeyPair = KEY, idempotency_key: str | None = "k-1",
               raw: bytes | None = None) -> tuple[int, dict[str, Any], dict[str, str]]:
    """A signed request; the status, the JSON answer and the headers."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    headers = sign_request(key, method, path, data)
    if method == "POST" and idempotency_key is not None:
        headers[HEADER] = idempotency_key
    async with client.request(method, path, data=data, headers=headers) as response:
        answer = await response.json(content_type=None)
        return response.status, answer, dict(response.headers)


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run one async scenario."""
    asyncio.run(scenario())


def test_valid_order_answers_its_model(tmp_path: Path) -> None:
    """A valid signed POST reaches the handler and answers the declared model and status."""
    async def scenario() -> None:
        api, orders = shop()
        async with serving(api, tmp_path / "n.db") as client:
            status, answer, headers = await send(client, "POST", "/orders",
                                                 {"item": "tea", "amount_minor": 250})
        assert status == 201
        assert answer == {"item": "tea", "amount_minor": 250, "caller": KEY.participant,
                          "serial": 1}
        assert headers["Content-Type"].startswith("application/json")
        assert REPLAYED_HEADER not in headers
        assert len(orders) == 1
    run(scenario)


def test_invalid_body_is_a_problem_with_errors(tmp_path: Path) -> None:
    """A body that breaks its model: 400 invalid_request listing each field, handler not run."""
    async def scenario() -> None:
        api, orders = shop()
        async with serving(api, tmp_path / "n.db") as client:
            status, answer, headers = await send(client, "POST", "/orders",
                                                 {"item": "", "amount_minor": 0})
            bad_json = await send(client, "POST", "/orders", raw=b"{not json",
                                  idempotency_key="k-2")
        assert status == 400
        assert headers["Content-Type"].startswith(PROBLEM_CONTENT_TYPE)
        assert answer["code"] == "invalid_request"
        assert answer["type"].endswith("/invalid_request")
        assert answer["instance"] == "/orders"
        locations = {tuple(error["location"]) for error in answer["errors"]}
        assert locations == {("body", "item"), ("body", "amount_minor")}
        assert bad_json[0] == 400
        assert bad_json[1]["code"] == "invalid_request"
        assert orders == []
    run(scenario)


def test_query_and_path_reach_the_handler(tmp_path: Path) -> None:
    """Query parameters are validated by their model; a bad one is 400 invalid_request."""
    async def scenario() -> None:
        api, _ = shop()
        async with serving(api, tmp_path / "n.db") as client:
            good = await send(client, "GET", "/items/tea?limit=7")
            bad = await send(client, "GET", "/items/tea?limit=0")
            unknown = await send(client, "GET", "/items/tea?limt=7")
        assert good[:2] == (200, {"name": "tea", "limit": 7})
        assert bad[0] == 400
        assert bad[1]["errors"][0]["location"] == ["query", "limit"]
        assert unknown[0] == 400
        assert unknown[1]["code"] == "invalid_request"
    run(scenario)


def test_a_nul_character_anywhere_is_a_named_refusal(tmp_path: Path) -> None:
    """A NUL in a query value, a path parameter or a JSON string is 400 nul_character before
    any handler runs (PostgreSQL cannot store one: it was a 500); a literal backslash-u text
    is not a NUL and passes."""
    async def scenario() -> None:
        api, orders = shop()
        async with serving(api, tmp_path / "n.db") as client:
            query = await send(client, "GET", "/items/tea?after=%00")
            path = await send(client, "GET", "/items/t%00a")
            body = await send(client, "POST", "/orders", raw=b'{"item":"t\\\\\\u0000",'
                                                              b'"amount_minor":1}')
            literal = await send(client, "POST", "/orders", {"item": "t\\u0000",
                                                             "amount_minor": 1},
                                 idempotency_key="k-2")
        for status, answer, _ in (query, path, body):
            assert (status, answer["code"]) == (400, "nul_character"), answer
        assert literal[0] == 201, literal
        assert [order.item for order in orders] == ["t\\u0000"]
    run(scenario)


def test_unknown_route_and_method_are_problems(tmp_path: Path) -> None:
    """No such route: 404 not_found; a known path with another method: 405; both problem+json."""
    async def scenario() -> None:
        api, _ = shop()
        async with serving(api, tmp_path / "n.db") as client:
            missing = await send(client, "GET", "/nowhere")
            wrong = await send(client, "DELETE", "/orders")
        assert missing[0] == 404
        assert missing[1]["code"] == "not_found"
        assert missing[2]["Content-Type"].startswith(PROBLEM_CONTENT_TYPE)
        assert wrong[0] == 405
        assert wrong[1]["code"] == "method_not_allowed"
    run(scenario)


def test_unexpected_exception_is_internal_without_details(tmp_path: Path) -> None:
    """A handler's bug answers 500 `internal` and tells nothing of the exception."""
    async def scenario() -> None:
        api, _ = shop()
        async with serving(api, tmp_path / "n.db") as client:
            status, answer, _ = await send(client, "GET", "/boom")
        assert status == 500
        assert answer["code"] == "internal"
        assert "secret" not in json.dumps(answer)
        assert "RuntimeError" not in json.dumps(answer)
    run(scenario)


def test_signature_is_required_unless_declared_open(tmp_path: Path) -> None:
    """An unsigned request to a signed route: 401 auth_missing; an open route answers it."""
    async def scenario() -> None:
        api, _ = shop()
        async with serving(api, tmp_path / "n.db") as client:
            async with client.get("/items/tea") as response:
                refused = response.status, (await response.json(content_type=None))["code"]
            async with client.get("/open") as response:
                opened = response.status
        assert refused == (401, "auth_missing")
        assert opened == 200
    run(scenario)


def test_idempotency_key_missing_or_invalid(tmp_path: Path) -> None:
    """A POST without an Idempotency-Key, or with a key too long: 400 with the key's code."""
    async def scenario() -> None:
        api, orders = shop()
        order = {"item": "tea", "amount_minor": 1}
        async with serving(api, tmp_path / "n.db") as client:
            missing = await send(client, "POST", "/orders", order, idempotency_key=None)
            long = await send(client, "POST", "/orders", order, idempotency_key="k" * 129)
        assert (missing[0], missing[1]["code"]) == (400, "idempotency_key_missing")
        assert (long[0], long[1]["code"]) == (400, "idempotency_key_invalid")
        assert orders == []
    run(scenario)


def test_a_repeatable_post_needs_no_key_and_runs_each_time(tmp_path: Path) -> None:
    """A POST declared repeatable (it only issues an offer) runs without an Idempotency-Key,
    and again under the same key: nothing is stored or replayed, and OpenAPI asks for no key."""
    api = Api("Quotes", "1.0", "A test service.")
    offers: list[Order] = []

    @api.route("POST", "/offers", summary="An offer", tag="offers", body=Order,
               response=Receipt, status=201, repeatable=True)
    async def offer(call: Call) -> Receipt:
        offers.append(call.body(Order))
        return Receipt(item="offer", amount_minor=1, caller=call.signed_by(),
                       serial=len(offers))

    async def scenario() -> None:
        order = {"item": "tea", "amount_minor": 1}
        async with serving(api, tmp_path / "n.db") as client:
            keyless = await send(client, "POST", "/offers", order, idempotency_key=None)
            first = await send(client, "POST", "/offers", order)
            again = await send(client, "POST", "/offers", order)
        assert [answer[:1] for answer in (keyless, first, again)] == [(201,)] * 3
        assert [answer[1]["serial"] for answer in (keyless, first, again)] == [1, 2, 3]
        assert REPLAYED_HEADER not in again[2]
    run(scenario)
    parameters = api.openapi()["paths"]["/offers"]["post"]["parameters"]
    assert HEADER not in [parameter["name"] for parameter in parameters]
    shop_parameters = shop()[0].openapi()["paths"]["/orders"]["post"]["parameters"]
    assert HEADER in [parameter["name"] for parameter in shop_parameters]


def test_replay_answers_the_first_response(tmp_path: Path) -> None:
    """The same key and body again: the stored answer, marked replayed, the handler not run."""
    async def scenario() -> None:
        api, orders = shop()
        order = {"item": "tea", "amount_minor": 1}
        async with serving(api, tmp_path / "n.db") as client:
            first = await send(client, "POST", "/orders", order)
            again = await send(client, "POST", "/orders", order)
            other_caller = await send(client, "POST", "/orders", order, key=OTHER)
        assert again[:2] == first[:2]
        assert again[2][REPLAYED_HEADER] == "true"
        assert other_caller[1]["caller"] == OTHER.participant
        assert REPLAYED_HEADER not in other_caller[2]
        assert len(orders) == 2
    run(scenario)


def test_refusal_is_stored_and_replayed(tmp_path: Path) -> None:
    """A refusal (4xx) is an answer too: replayed with its problem document and extra fields."""
    async def scenario() -> None:
        api, _ = shop()
        order = {"item": "forbidden", "amount_minor": 1}
        async with serving(api, tmp_path / "n.db") as client:
            first = await send(client, "POST", "/orders", order)
            again = await send(client, "POST", "/orders", order)
        assert first[0] == again[0] == 422
        assert first[1]["code"] == again[1]["code"] == "not_sold"
        assert again[1]["rule"] == {"name": "r"}
        assert again[2]["Content-Type"].startswith(PROBLEM_CONTENT_TYPE)
        assert again[2][REPLAYED_HEADER] == "true"
    run(scenario)


def test_same_key_other_body_is_refused(tmp_path: Path) -> None:
    """The key again with another body: 422 idempotency_key_reused, the handler not run."""
    async def scenario() -> None:
        api, orders = shop()
        async with serving(api, tmp_path / "n.db") as client:
            await send(client, "POST", "/orders", {"item": "tea", "amount_minor": 1})
            reused = await send(client, "POST", "/orders", {"item": "tea", "amount_minor": 2})
        assert (reused[0], reused[1]["code"]) == (422, "idempotency_key_reused")
        assert len(orders) == 1
    run(scenario)


def test_same_key_and_body_on_another_path_is_refused(tmp_path: Path) -> None:
    """A key is bound to the method and path too: the same body under the same key to another
    resource is 422 idempotency_key_reused, not the first resource's answer (issue 22: a KYC
    change for bob replayed alice's)."""
    async def scenario() -> None:
        api, orders = shop()
        async with serving(api, tmp_path / "n.db") as client:
            body = {"item": "tea", "amount_minor": 1}
            first = await send(client, "POST", "/orders", body)
            other = await send(client, "POST", "/orders?for=bob", body)
        assert first[0] == 201
        assert (other[0], other[1]["code"]) == (422, "idempotency_key_reused")
        assert len(orders) == 1
    run(scenario)


def test_concurrent_same_key_is_in_use(tmp_path: Path) -> None:
    """While the first request with a key runs, a second one gets 409; the first then ends."""
    async def scenario() -> None:
        gate = Gate()
        api, orders = shop(gate)
        order = {"item": "tea", "amount_minor": 1}
        async with serving(api, tmp_path / "n.db") as client:
            first = asyncio.create_task(send(client, "POST", "/orders", order))
            await asyncio.wait_for(gate.entered.wait(), timeout=10)
            second = await send(client, "POST", "/orders", order)
            gate.release.set()
            done = await first
        assert (second[0], second[1]["code"]) == (409, "idempotency_key_in_use")
        assert done[0] == 201
        assert len(orders) == 1
    run(scenario)


def test_metrics_count_routes_by_template(tmp_path: Path) -> None:
    """/metrics counts requests under the route's template and its status, and unmatched ones."""
    async def scenario() -> None:
        api, _ = shop()
        async with serving(api, tmp_path / "n.db") as client:
            await send(client, "GET", "/items/tea")
            await send(client, "GET", "/items/coffee")
            await send(client, "GET", "/nowhere")
            async with client.get("/metrics") as response:
                text = await response.text()
        assert ('earmark_http_requests_total{method="GET",role="test",route="/items/{name}",'
                'status="200"} 2.0') in text
        assert 'route="unmatched",status="404"' in text
    run(scenario)


# ---- the OpenAPI document ---------------------------------------------------------------------


def test_openapi_document_of_the_routes() -> None:
    """The document is OpenAPI 3.1.0, has every model, path parameters, and the header on POSTs."""
    api, _ = shop()
    document = api.openapi()
    assert document["openapi"] == "3.1.0"
    schemas = document["components"]["schemas"]
    assert {"Order", "Receipt", "Item", "Problem"} <= set(schemas)
    post = document["paths"]["/orders"]["post"]
    header = [p for p in post["parameters"] if p["in"] == "header"]
    assert header == [{"name": HEADER, "in": "header", "required": True,
                       "schema": {"type": "string", "minLength": 1, "maxLength": 128}}]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"] == (
        "#/components/schemas/Order")
    assert set(post["responses"]) >= {"201", "400", "401", "422"}
    get = document["paths"]["/items/{name}"]["get"]
    assert {(p["name"], p["in"]) for p in get["parameters"]} == {
        ("name", "path"), ("limit", "query"), ("after", "query")}
    assert document["paths"]["/open"]["get"]["security"] == []
    assert get["security"] == [{"earmarkSignature": []}]


def _refs(value: object) -> set[str]:
    if isinstance(value, dict):
        found = {value["$ref"]} if isinstance(value.get("$ref"), str) else set()
        return found.union(*(_refs(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(_refs(item) for item in value))
    return set()


def test_openapi_refs_of_every_message_resolve() -> None:
    """With every request and answer model of node.messages declared, every $ref resolves."""
    api = Api("All", "1", "Every model.")

    async def handler(_call: Call) -> BaseModel:
        raise NotImplementedError

    models = [m for m in vars(messages).values()
              if isinstance(m, type) and issubclass(m, BaseModel) and m.__module__ ==
              messages.__name__ and m not in {messages.Strict, BaseModel}]
    for index, model in enumerate(models):
        strict = issubclass(model, messages.Strict)
        api.route("POST" if strict else "GET", f"/m{index}", summary=model.__name__, tag="t",
                  body=model if strict else None, response=None if strict else model)(handler)
    document = api.openapi()
    names = set(document["components"]["schemas"])
    missing = {ref for ref in _refs(document) if ref.rsplit("/", 1)[-1] not in names}
    assert missing == set()
    assert {m.__name__ for m in models} <= names
