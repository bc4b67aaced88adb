"""The node's one exception type and its rendering as RFC 9457 problem details.

Every error a service answers carries a stable `code` (the engine's result code where the ledger
refused, otherwise a node code listed in `docs/node.md`), the HTTP status, and where a contract
decided, the rule (contract, name, line) and its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from engine.errors import Refusal

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://earmark.dev/problems/"


@dataclass(frozen=True, slots=True)
class Problem:
    """An RFC 9457 problem: `code` names it for machines, `title` for people."""

    status: int
    code: str
    title: str
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # Set on an answer that is not final (try again after so many seconds): it is sent as the
    # Retry-After header, and an idempotency key does not keep it.
    retry_after_s: int | None = None

    def document(self, instance: str = "") -> dict[str, Any]:
        """The problem+json body; `type` is a URI per code, `instance` the request path."""
        body: dict[str, Any] = {"type": PROBLEM_TYPE_BASE + self.code, "title": self.title,
                                "status": self.status, "code": self.code}
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class NodeError(Exception):
    """Root of everything the node raises toward a caller; carries the problem to answer."""

    def __init__(self, status: int, code: str, title: str, detail: str = "", *,
                 retry_after_s: int | None = None, **extra: Any) -> None:
        super().__init__(f"{code}: {detail or title}")
        self.problem = Problem(status, code, title, detail, extra, retry_after_s)

    @classmethod
    def refused(cls, refusal: Refusal) -> NodeError:
        """The ledger refused a transaction: 422 with its result code, rule and reason."""
        extra: dict[str, Any] = {"reason": refusal.reason}
        if refusal.rule is not None:
            extra["rule"] = {"contract": refusal.rule.contract, "name": refusal.rule.name,
                             "line": refusal.rule.line}
        return cls(422, refusal.code.value, "The ledger refused the transaction",
                   refusal.reason, **extra)


def bad_request(code: str, detail: str, **extra: Any) -> NodeError:
    """400: the request itself is wrong (missing header, unreadable body)."""
    return NodeError(400, code, "Bad request", detail, **extra)


def unauthenticated(code: str, detail: str) -> NodeError:
    """401: the request's signature is missing, wrong, stale or replayed."""
    return NodeError(401, code, "Not authenticated", detail)


def forbidden(detail: str = "this caller may not see or do this") -> NodeError:
    """403: the same answer whether or not the thing exists, so nothing is learnt from it."""
    return NodeError(403, "forbidden", "Forbidden", detail)


def not_found(what: str) -> NodeError:
    """404 for things every authorised caller may know exist or not (contracts, payments)."""
    return NodeError(404, "not_found", "Not found", f"no such {what}")


def conflict(code: str, detail: str) -> NodeError:
    """409: the request collides with the state (a name taken, a key in use)."""
    return NodeError(409, code, "Conflict", detail)


def unprocessable(code: str, detail: str, **extra: Any) -> NodeError:
    """422: well-formed but refused by a rule of the node (a limit, a missing balance)."""
    return NodeError(422, code, "Refused", detail, **extra)


def problem_response(problem: Problem, instance: str = "") -> web.Response:
    """The problem as an HTTP response of media type application/problem+json."""
    headers = ({"Retry-After": str(problem.retry_after_s)}
               if problem.retry_after_s is not None else None)
    return web.Response(status=problem.status, body=orjson.dumps(problem.document(instance)),
                        content_type=PROBLEM_CONTENT_TYPE, headers=headers)
