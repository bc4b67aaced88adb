"""The typed client of a partner QR switch (`node/partner_switch.py`), as the hub uses it.

Messages go as ISO 20022 XML built from the `bridges.iso20022` dataclasses and come back parsed
into them. Every failure is one exception, `node.client.ClientError`, with a stable code: the
switch's problem+json code for a non-2xx answer (`I0201`, `not_found`, …), `unreachable` when no
answer came (refused connection, timeout), `unexpected_answer` when the answer is not the
expected document.
"""

from __future__ import annotations

from typing import Final, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from bridges.iso20022 import (
    CreditTransfer,
    Iso20022Error,
    PaymentStatusReport,
    VerificationReport,
    VerificationRequest,
    build_credit_transfer,
    build_verification_request,
    parse_status_report,
    parse_verification_report,
)

# The node client's reading of problem+json and its bounded read of an answer, shared so both
# clients raise the same `ClientError` for the same answer.
from node.client import ClientError, HttpSession, local_refusal
from node.partner_switch import XML_MEDIA_TYPE, AccountList, AccountWire

REQUEST_TIMEOUT_S: Final = 10.0  # one request, connection to last byte
M = TypeVar("M", bound=BaseModel)


class PartnerSwitchClient(HttpSession):
    """A connection to one partner switch; an async context manager owning its session."""

    service = "Partner switch"
    failing_from = 300

    def __init__(self, base_url: str, *, timeout_s: float = REQUEST_TIMEOUT_S) -> None:
        super().__init__(base_url, timeout_s=timeout_s)

    async def verify(self, request: VerificationRequest) -> VerificationReport:
        """`POST /iso20022/acmt.023`: confirmation of payee, answered by an acmt.024."""
        raw = await self._send("POST", "/iso20022/acmt.023", build_verification_request(request))
        try:
            return parse_verification_report(raw)
        except Iso20022Error as error:
            raise _unexpected(f"the answer is not an acmt.024: {error}") from None

    async def credit(self, transfer: CreditTransfer) -> PaymentStatusReport:
        """`POST /iso20022/pacs.008`: a credit transfer, answered by a pacs.002.

        Sending the same transfer again is safe: the switch answers the same report and moves
        the money once.
        """
        raw = await self._send("POST", "/iso20022/pacs.008", build_credit_transfer(transfer))
        try:
            return parse_status_report(raw)
        except Iso20022Error as error:
            raise _unexpected(f"the answer is not a pacs.002: {error}") from None

    async def accounts(self) -> AccountList:
        """`GET /accounts`: every balance at the switch and the money it holds."""
        return _model(AccountList, await self._send("GET", "/accounts"))

    async def account(self, account: str) -> AccountWire:
        """`GET /accounts/{account}`."""
        return _model(AccountWire, await self._send("GET", f"/accounts/{quote(account, safe='')}"))

    async def _send(self, method: str, path: str, document: bytes | None = None) -> bytes:
        headers = {} if document is None else {"Content-Type": XML_MEDIA_TYPE}
        return (await self._exchange(method, self._path(path), document or b"", headers)).body


def _model(model: type[M], raw: bytes) -> M:
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        raise _unexpected(f"the answer is not a {model.__name__}: "
                          f"{error.errors()[0]['msg']}") from None


def _unexpected(detail: str) -> ClientError:
    return local_refusal("unexpected_answer", detail)
