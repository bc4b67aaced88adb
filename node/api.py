"""Routes declared with their pydantic models, served by aiohttp and described by OpenAPI 3.1.

A service declares each operation once (`Api.route`): method, path, the models of its body,
query and answer, whether it is signed. From that one declaration the request is authenticated
(`node.request_signing`), a POST made idempotent (`node.idempotency`), the body and query
validated, the answer serialised, and `/openapi.json` written, so the document cannot drift from
the code. Every error leaves as RFC 9457 problem+json (`node.errors`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from engine.ids import ParticipantId
from node.errors import NodeError, Problem, bad_request, problem_response, unauthenticated
from node.idempotency import HEADER as IDEMPOTENCY_HEADER
from node.idempotency import IdempotencyStore, request_identity
from node.openapi import document
from node.request_signing import NonceCache, authenticate

BODY_BYTES_MAX: Final = 4 * 1024 * 1024  # the largest request body a service reads
_log = logging.getLogger("earmark.node")
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Call:
    """One request as a handler sees it: who called, and the validated body and query."""

    request: web.Request
    caller: ParticipantId | None
    _body: BaseModel | None
    _query: BaseModel | None

    def body(self, model: type[M]) -> M:
        """The validated body (the route declared `model`)."""
        if not isinstance(self._body, model):
            raise _misdeclared(f"this route's body is not a {model.__name__}")
        return self._body

    def query(self, model: type[M]) -> M:
        """The validated query parameters (the route declared `model`)."""
        if not isinstance(self._query, model):
            raise _misdeclared(f"this route's query is not a {model.__name__}")
        return self._query

    def path(self, name: str) -> str:
        """A path parameter."""
        return self.request.match_info[name]

    def signed_by(self) -> ParticipantId:
        """The caller's key (routes that are signed always have one)."""
        if self.caller is None:
            raise unauthenticated("auth_missing", "this operation needs a signed request")
        return self.caller


Answer = BaseModel | web.StreamResponse
Handler = Callable[[Call], Awaitable[Answer]]


@dataclass(frozen=True, slots=True)
class Route:
    """One operation: its HTTP shape, its models and its handler."""

    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    signed: bool = True
    media_type: str = "application/json"
    # A POST whose repetition moves nothing and only issues another offer (a quote): it takes
    # no Idempotency-Key and no answer is stored, which saved a read and a durable write on
    # each of the three quotes a cross-border payment asks for.
    repeatable: bool = False


@dataclass
class Api:
    """The operations of one service and the machinery every one of them shares."""

    title: str
    version: str
    description: str
    routes: list[Route] = field(default_factory=list)

    def route(self, method: str, path: str, *, summary: str, tag: str,
              body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
              response: type[BaseModel] | None = None, status: int = 200, signed: bool = True,
              media_type: str = "application/json",
              repeatable: bool = False) -> Callable[[Handler], Handler]:
        """Declare an operation; the decorated coroutine is its handler. `repeatable`: a POST
        that only issues an offer, see `Route`."""
        def declare(handler: Handler) -> Handler:
            self.routes.append(Route(method.upper(), path, handler, summary, tag, body, query,
                                     response, status, signed, media_type, repeatable))
            return handler
        return declare

    def install(self, app: web.Application, nonces: NonceCache,
                idempotency: IdempotencyStore) -> None:
        """Add every operation and `/openapi.json` to `app`."""
        for route in self.routes:
            app.router.add_route(route.method, route.path, _serve(route, nonces, idempotency))
        document = self.openapi()

        async def openapi(_request: web.Request) -> web.Response:
            return web.json_response(document)

        app.router.add_get("/openapi.json", openapi)

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of these operations."""
        return document(self.title, self.version, self.description, self.routes)


def _serve(route: Route, nonces: NonceCache,
           idempotency: IdempotencyStore) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def serve(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        caller = None
        if route.signed:
            caller = authenticate(request.headers, request.method, request.path_qs, raw, nonces)
        _refuse_nul(request, raw)  # after authentication: a stranger learns nothing more
        call = Call(request, caller, _parse_body(route, raw), _parse_query(route, request))

        async def produce() -> web.Response:
            return _respond(route, await route.handler(call))

        if route.method == "POST" and not route.repeatable:
            return await idempotency.run(
                caller or "", request.headers.get(IDEMPOTENCY_HEADER),
                request_identity(request.method, request.path_qs, raw), produce)
        return await produce()
    serve.__name__ = route.handler.__name__
    return serve


# A JSON string's NUL is the escape \u0000 after an even number of backslashes (a raw NUL byte
# is no JSON at all, and the parser refuses it).
_JSON_NUL: Final = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _refuse_nul(request: web.Request, raw: bytes) -> None:
    """No text with a NUL character reaches a handler: PostgreSQL cannot store one, and no
    name, id or cursor of ours has one."""
    texts = (request.path, *request.query.values(), *request.match_info.values())
    if any("\x00" in text for text in texts) or _JSON_NUL.search(raw):
        raise bad_request("nul_character", "a NUL character (U+0000) is in no valid request")


def _parse_body(route: Route, raw: bytes) -> BaseModel | None:
    if route.body is None:
        return None
    try:
        return route.body.model_validate_json(raw or b"null")
    except ValidationError as error:
        raise _invalid(error, "body") from None


def _parse_query(route: Route, request: web.Request) -> BaseModel | None:
    if route.query is None:
        return None
    try:
        return route.query.model_validate(dict(request.query))
    except ValidationError as error:
        raise _invalid(error, "query") from None


def _invalid(error: ValidationError, where: str) -> NodeError:
    problems = [{"location": [where, *map(str, item["loc"])], "message": item["msg"]}
                for item in error.errors(include_url=False, include_input=False)]
    first = problems[0] if problems else {"location": [where], "message": "invalid"}
    return bad_request("invalid_request", f"{'.'.join(first['location'])}: {first['message']}",
                       errors=problems)


def _respond(route: Route, answer: Answer) -> web.Response:
    if isinstance(answer, web.Response):
        return answer
    if isinstance(answer, BaseModel):
        return web.Response(status=route.status, body=answer.model_dump_json().encode(),
                            content_type="application/json")
    raise _misdeclared(f"{route.handler.__name__} answered a {type(answer).__name__}")


def _misdeclared(detail: str) -> NodeError:
    """A handler and its declaration disagree: a bug, answered as 500 and logged."""
    return NodeError(500, "internal", "Internal error", detail)


@web.middleware
async def problems(request: web.Request,
                   handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                   ) -> web.StreamResponse:
    """Every error leaves as problem+json; an unexpected one is logged and says nothing more."""
    try:
        return await handler(request)
    except NodeError as error:
        if error.problem.status >= 500:
            _log.error("%s %s: %s", request.method, request.path, error)
        return problem_response(error.problem, request.path)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code = re.sub(r"[^a-z]+", "_", error.reason.lower()).strip("_")
        return problem_response(Problem(error.status, code, error.reason), request.path)
    except Exception:
        _log.exception("unexpected error on %s %s", request.method, request.path)
        return problem_response(Problem(500, "internal", "Internal error",
                                        "the error is in the server's log"), request.path)

