"""A commercial bank's link to its central bank: the few central operations a bank calls.

Every request is signed with the bank's key (`node.request_signing`); every POST carries an
Idempotency-Key, so a retry after a lost answer changes nothing. A problem+json answer becomes a
`NodeError` with the central bank's code and status (and its `reason` and `rule`), so a bank can
pass a refusal on unchanged; an unreachable central bank is 502 `central_unavailable`.
"""

from __future__ import annotations

import uuid
from typing import Any, Final, TypeVar
from urllib.parse import quote, urlencode

import orjson
from pydantic import BaseModel, ValidationError

from engine.keys import KeyPair
from node.errors import NodeError
from node.http_transport import NoAnswer, Origin, base_path
from node.idempotency import HEADER as IDEMPOTENCY_HEADER
from node.messages import (
    BalanceList,
    ContractWire,
    NoteList,
    NotesQuery,
    OutcomeList,
    PayeeWire,
    RegisterWallet,
    TransactionBatch,
)
from node.request_signing import sign_request

REQUEST_TIMEOUT_S: Final = 10.0  # one call to the central bank, connection included
M = TypeVar("M", bound=BaseModel)


class CentralClient:
    """Signed calls from one bank to its central bank at `url`."""

    def __init__(self, url: str, key: KeyPair) -> None:
        self._prefix = base_path(url)
        self._key = key
        self._origin = Origin(url, timeout_s=REQUEST_TIMEOUT_S)

    async def close(self) -> None:
        """Close the connections."""
        await self._origin.close()

    async def register_wallet(self, wallet: RegisterWallet) -> PayeeWire:
        """Register (or update) a customer's wallet in the central directory."""
        return await self._post("/wallets", wallet, PayeeWire)

    async def directory(self, *, account: str | None = None,
                        phone: str | None = None) -> PayeeWire:
        """The payee with this account id or phone number (404 `not_found` if none)."""
        query = {"account": account} if account is not None else {"phone": phone or ""}
        return await self._get("/directory", query, PayeeWire)

    async def notes(self, query: NotesQuery) -> NoteList:
        """A page of an owner's notes."""
        parameters = query.model_dump(exclude_none=True, exclude_defaults=True)
        parameters["owner"] = query.owner
        return await self._get("/notes", {k: _query_text(v) for k, v in parameters.items()},
                               NoteList)

    async def balances(self, owner: str) -> BalanceList:
        """An owner's balances."""
        return await self._get(f"/balances/{quote(owner, safe='')}", {}, BalanceList)

    async def contract(self, contract_hash: str) -> ContractWire:
        """A deployed contract with its source."""
        return await self._get(f"/contracts/{quote(contract_hash, safe='')}", {}, ContractWire)

    async def submit(self, batch: TransactionBatch, idempotency_key: str) -> OutcomeList:
        """Notarise a batch; the key names the batch, so resending it commits nothing twice."""
        return await self._post("/transactions", batch, OutcomeList, idempotency_key)

    async def _get(self, path: str, query: dict[str, str], answer: type[M]) -> M:
        path_qs = f"{path}?{urlencode(query)}" if query else path
        return await self._call("GET", path_qs, b"", answer, {})

    async def _post(self, path: str, body: BaseModel, answer: type[M],
                    idempotency_key: str | None = None) -> M:
        headers = {IDEMPOTENCY_HEADER: idempotency_key or str(uuid.uuid4()),
                   "Content-Type": "application/json"}
        return await self._call("POST", path, body.model_dump_json().encode(), answer, headers)

    async def _call(self, method: str, path_qs: str, body: bytes, answer: type[M],
                    headers: dict[str, str]) -> M:
        path = self._prefix + path_qs
        headers = {**headers, **sign_request(self._key, method, path, body)}
        try:
            reply = await self._origin.exchange(method, path, body, headers)
        except NoAnswer as error:
            raise NodeError(502, "central_unavailable", "Central bank unavailable",
                            error.problem.detail) from None
        if reply.status >= 400:
            raise _problem(reply.status, reply.body)
        try:
            return answer.model_validate_json(reply.body)
        except ValidationError as error:
            raise NodeError(502, "central_answer_invalid", "Central bank answer invalid",
                            f"{method} {path_qs}: {error.error_count()} problems") from None

def _query_text(value: Any) -> str:
    """Query values as the central bank's pydantic models read them back."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _problem(status: int, raw: bytes) -> NodeError:
    """The central bank's problem as the same error here (code, status, reason, rule)."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        document = None
    if not isinstance(document, dict):
        return NodeError(502, "central_answer_invalid", "Central bank answer invalid",
                         f"status {status} without a problem document")
    known = {"type", "title", "status", "code", "detail", "instance"}
    extra = {k: v for k, v in document.items() if k not in known}
    return NodeError(status, str(document.get("code", "central_error")),
                     str(document.get("title", "Central bank error")),
                     str(document.get("detail", "")), **extra)
