"""The OpenAPI 3.1 document of a service, written from its declared routes and models.

Pydantic writes JSON Schema 2020-12, which OpenAPI 3.1 uses as is; every model lands once under
`components.schemas`, and every operation documents its problem answers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from node.idempotency import HEADER as IDEMPOTENCY_HEADER
from node.request_signing import KEY_HEADER, NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER

if TYPE_CHECKING:
    from node.api import Route

_REF = "#/components/schemas/{model}"
_PROBLEM_MEDIA = "application/problem+json"
_PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details; `code` is stable (docs/node.md lists them).",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string", "format": "uri"}, "title": {"type": "string"},
        "status": {"type": "integer"}, "code": {"type": "string"},
        "detail": {"type": "string"}, "instance": {"type": "string"},
        "reason": {"type": "string"},
        "rule": {"type": "object", "properties": {
            "contract": {"type": "string"}, "name": {"type": "string"},
            "line": {"type": "integer"}}},
    },
}
_ERRORS = {"400": "The request is malformed", "401": "The signature is missing or wrong",
           "403": "Not this caller's to see or do", "404": "No such thing",
           "409": "It collides with the state", "422": "Refused by a rule"}


def document(title: str, version: str, description: str,
             routes: Sequence[Route]) -> dict[str, Any]:
    """The whole document."""
    schemas = _schemas(routes)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {
            "earmarkSignature": {"type": "apiKey", "in": "header", "name": SIGNATURE_HEADER,
                                 "description": f"Ed25519 signature with {KEY_HEADER}, "
                                                f"{TIMESTAMP_HEADER} and {NONCE_HEADER}; "
                                                "see docs/node.md"}}},
    }


def _schemas(routes: Sequence[Route]) -> dict[str, Any]:
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = []
    for route in routes:
        models += [(m, "validation") for m in (route.body,) if m is not None]
        models += [(m, "serialization") for m in (route.response,) if m is not None]
    _, top = models_json_schema(list(dict.fromkeys(models)), ref_template=_REF)
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    schemas["Problem"] = _PROBLEM
    return schemas


def _operation(route: Route) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.handler.__name__, "summary": route.summary, "tags": [route.tag],
        "parameters": _path_parameters(route.path) + _query_parameters(route.query),
        "responses": _responses(route),
    }
    if route.method == "POST" and not route.repeatable:
        operation["parameters"].append({
            "name": IDEMPOTENCY_HEADER, "in": "header", "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": 128}})
    if route.body is not None:
        operation["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": {"$ref": _REF.format(model=route.body.__name__)}}}}
    operation["security"] = [{"earmarkSignature": []}] if route.signed else []
    return operation


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", path)]


def _query_parameters(query: type[BaseModel] | None) -> list[dict[str, Any]]:
    if query is None:
        return []
    schema = query.model_json_schema(ref_template=_REF)
    required = set(schema.get("required", []))
    return [{"name": name, "in": "query", "required": name in required, "schema": prop}
            for name, prop in schema.get("properties", {}).items()]


def _responses(route: Route) -> dict[str, Any]:
    content: dict[str, Any]
    if route.response is not None:
        content = {route.media_type: {"schema": {"$ref": _REF.format(
            model=route.response.__name__)}}}
    else:
        content = {route.media_type: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(route.status): {"description": route.summary,
                                                      "content": content}}
    for status, text in _ERRORS.items():
        responses[status] = {"description": text, "content": {
            _PROBLEM_MEDIA: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    return responses


