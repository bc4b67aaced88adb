"""The typed client of both services: one method per operation of docs/node.md.

Every request is signed with the caller's key (`node.request_signing`), every POST carries a
fresh Idempotency-Key unless the caller passes one (pass the same key to retry safely), and every
answer is parsed into its model of `node.messages`. A problem+json answer is raised as
`ClientError`, with its status, code, detail and extra fields (rule, reason, diagnostics).

A customer's payment is checked before it is signed (`check_prepared`): the bank prepares the
transaction, but the customer signs only what pays the amount asked, in the currency asked, to
one payee (hash-locked exactly as asked, refundable to the customer, or not at all), with the
rest coming back to the customer. A settlement of a hash-locked note is checked so too
(`check_settlement`): it spends that note alone, reveals the preimage given (or none), and
keeps all its money with the customer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self, TypeVar
from urllib.parse import quote, urlencode

import orjson
from pydantic import BaseModel, ValidationError

from engine.encoding import from_wire, signing_bytes, transaction_id
from engine.errors import TransactionRefused
from engine.ids import ParticipantId, TxId
from engine.keys import KeyPair
from engine.model import HashLock, Transaction
from node.errors import PROBLEM_CONTENT_TYPE, NodeError
from node.http_transport import ANSWER_BYTES_MAX, Answer, NoAnswer, Origin, base_path
from node.idempotency import HEADER as IDEMPOTENCY_HEADER
from node.idempotency import REPLAYED_HEADER
from node.messages import (
    BalanceList,
    CashOutRequest,
    ContractList,
    ContractUpload,
    ContractWire,
    CustomerList,
    CustomerWire,
    DirectoryQuery,
    Distribution,
    IssuanceRequest,
    JournalEntryWire,
    NoteList,
    NotesQuery,
    NoteWire,
    OpenCustomer,
    OutcomeList,
    OutcomeWire,
    Page,
    ParticipantList,
    ParticipantWire,
    PayeeWire,
    PaymentList,
    PaymentRequest,
    PaymentSignature,
    PaymentWire,
    PreparedPayment,
    RedemptionRequest,
    RegisterParticipant,
    RegisterWallet,
    ReserveDeposit,
    ReserveWire,
    Reverify,
    SettlementRequest,
    Statistics,
    SupplyWire,
    TokenWire,
    TransactionBatch,
)
from node.request_signing import sign_request
from node.wire import token_from_wire

REQUEST_TIMEOUT_S: Final = 30.0  # one request, connection to last byte
NO_ANSWER: Final = 0  # ClientError.status when no HTTP answer decided (network, local check)
_REPLAYED: Final = REPLAYED_HEADER.lower()  # as the transport keys the answer's headers
M = TypeVar("M", bound=BaseModel)


class ClientError(NodeError):
    """A node answered with a problem, did not answer, or prepared what the caller won't sign.

    `status` is the HTTP status (`NO_ANSWER`, 0, when the client itself decided); `code` the
    stable code of docs/node.md or docs/ledger.md; `extra` the problem's other fields.
    """

    @property
    def status(self) -> int:
        """The HTTP status, or 0 when no answer decided."""
        return self.problem.status

    @property
    def code(self) -> str:
        """The stable code."""
        return self.problem.code

    @property
    def detail(self) -> str:
        """What went wrong, for people."""
        return self.problem.detail or self.problem.title

    @property
    def extra(self) -> dict[str, Any]:
        """The problem's other fields."""
        return self.problem.extra

    @property
    def transient(self) -> bool:
        """Whether asking again may get another answer: no answer, a server error, or too
        busy (a service restarting must not end the work of those that call it)."""
        return self.status in (NO_ANSWER, 429) or self.status >= 500

    @property
    def reason(self) -> str:
        """The deciding rule's reason, when the ledger refused."""
        return str(self.extra.get("reason", ""))

    @property
    def rule(self) -> dict[str, Any] | None:
        """The deciding rule (contract, name, line), when a contract decided."""
        rule = self.extra.get("rule")
        return rule if isinstance(rule, dict) else None

    @property
    def diagnostics(self) -> list[Any]:
        """A refused contract's diagnostics."""
        diagnostics = self.extra.get("diagnostics")
        return diagnostics if isinstance(diagnostics, list) else []


_PROBLEM_FIELDS: Final = frozenset({"type", "title", "status", "code", "detail", "instance"})


def problem_error(status: int, body: bytes) -> ClientError:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        document = None
    if not isinstance(document, dict) or not isinstance(document.get("code"), str):
        return ClientError(status, "unexpected_answer", "Unexpected answer",
                           f"HTTP {status} without a problem document")
    extra = {k: v for k, v in document.items() if k not in _PROBLEM_FIELDS}
    return ClientError(status, document["code"], str(document.get("title", "")),
                       str(document.get("detail", "")), **extra)


def local_refusal(code: str, detail: str) -> ClientError:
    """An error the client decided itself (status `NO_ANSWER`)."""
    return ClientError(NO_ANSWER, code, "Refused by the client", detail)


class HttpSession:
    """Connections to one service at `base_url` (`node.http_transport`): an async context
    manager that owns them, and one exchange that turns every failure into a `ClientError`."""

    service = "Service"  # how errors name the other side
    failing_from = 400  # the first HTTP status that is an error

    def __init__(self, base_url: str, *, timeout_s: float = REQUEST_TIMEOUT_S) -> None:
        self.base_url = base_url.rstrip("/")
        self._prefix = base_path(self.base_url)
        self._timeout_s = timeout_s
        self._origin: Origin | None = None

    async def __aenter__(self) -> Self:
        self._origin = Origin(self.base_url, timeout_s=self._timeout_s,
                              answer_bytes_max=ANSWER_BYTES_MAX)
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connections."""
        if self._origin is not None:
            await self._origin.close()
            self._origin = None

    def _path(self, path_qs: str) -> str:
        """The path and query sent for `path_qs`, one after the base URL's (percent-encoded)."""
        return self._prefix + path_qs

    async def _exchange(self, method: str, path: str, data: bytes,
                        headers: dict[str, str]) -> Answer:
        """The whole answer to a request for `path` (whole, see `_path`); a problem, a failing
        status or no answer raises."""
        if self._origin is None:
            raise local_refusal("client_not_open", f"use {type(self).__name__} as "
                                f"`async with {type(self).__name__}(...) as client`")
        try:
            answer = await self._origin.exchange(method, path, data, headers)
        except NoAnswer as error:
            if error.too_large:
                raise local_refusal("unexpected_answer", error.problem.detail) from None
            raise ClientError(NO_ANSWER, "unreachable", f"{self.service} unreachable",
                              error.problem.detail) from None
        if answer.status >= self.failing_from or answer.media_type == PROBLEM_CONTENT_TYPE:
            raise problem_error(answer.status, answer.body)
        return answer


class NodeClient(HttpSession):
    """A signed, typed connection to one node (central or bank), as `key`.

    Use as an async context manager: it owns its aiohttp session.
    """

    service = "Node"

    def __init__(self, base_url: str, key: KeyPair, *,
                 timeout_s: float = REQUEST_TIMEOUT_S) -> None:
        super().__init__(base_url, timeout_s=timeout_s)
        self.key = key
        self.last_replayed = False  # whether the last answer was an idempotent replay

    # ---- the transport ---------------------------------------------------------------------

    async def _call(self, method: str, path: str, answer: type[M], *,
                    body: BaseModel | None = None, query: BaseModel | None = None,
                    idempotency_key: str | None = None) -> M:
        raw = await self._send(method, path, body=body, query=query,
                               idempotency_key=idempotency_key)
        try:
            return answer.model_validate_json(raw)
        except ValidationError as error:
            raise local_refusal("unexpected_answer", f"{method} {path}: the answer is not a "
                                f"{answer.__name__}: {error.errors()[0]['msg']}") from None

    async def _send(self, method: str, path: str, *, body: BaseModel | None = None,
                    query: BaseModel | None = None, idempotency_key: str | None = None,
                    signed: bool = True) -> bytes:
        sent = self._path(path if query is None else f"{path}?{urlencode(_query_values(query))}")
        data = body.model_dump_json(exclude_none=True).encode() if body is not None else b""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if signed:
            headers |= sign_request(self.key, method, sent, data)
        if method == "POST":
            headers[IDEMPOTENCY_HEADER] = idempotency_key or str(uuid.uuid4())
        answer = await self._exchange(method, sent, data, headers)
        self.last_replayed = answer.headers.get(_REPLAYED) == "true"
        return answer.body

    # ---- unsigned ---------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        """`GET /healthz`: the node's role, name and key."""
        answer = orjson.loads(await self._send("GET", "/healthz", signed=False))
        if not isinstance(answer, dict):
            raise local_refusal("unexpected_answer", "/healthz did not answer an object")
        return answer

    async def metrics(self) -> str:
        """`GET /metrics`: the node's figures in Prometheus' text format."""
        return (await self._send("GET", "/metrics", signed=False)).decode()

    # ---- central bank -----------------------------------------------------------------------

    async def register_participant(self, request: RegisterParticipant, *,
                                   idempotency_key: str | None = None) -> ParticipantWire:
        """`POST /participants` (the central bank)."""
        return await self._call("POST", "/participants", ParticipantWire, body=request,
                                idempotency_key=idempotency_key)

    async def participants(self, page: Page | None = None) -> ParticipantList:
        """`GET /participants`."""
        return await self._call("GET", "/participants", ParticipantList, query=page or Page())

    async def deposit_reserves(self, request: ReserveDeposit, *,
                               idempotency_key: str | None = None) -> ReserveWire:
        """`POST /reserves` (the central bank)."""
        return await self._call("POST", "/reserves", ReserveWire, body=request,
                                idempotency_key=idempotency_key)

    async def reserves(self, bank: str, currency: str) -> ReserveWire:
        """`GET /reserves/{bank}/{currency}`."""
        return await self._call("GET", f"/reserves/{_segment(bank)}/{_segment(currency)}",
                                ReserveWire)

    async def request_issuance(self, request: IssuanceRequest, *,
                               idempotency_key: str | None = None) -> OutcomeWire:
        """`POST /issuance` (a bank, against its reserves)."""
        return await self._call("POST", "/issuance", OutcomeWire, body=request,
                                idempotency_key=idempotency_key)

    async def request_redemption(self, request: RedemptionRequest, *,
                                 idempotency_key: str | None = None) -> OutcomeWire:
        """`POST /redemption` (a bank returns notes for reserves)."""
        return await self._call("POST", "/redemption", OutcomeWire, body=request,
                                idempotency_key=idempotency_key)

    async def upload_contract(self, request: ContractUpload, *,
                              idempotency_key: str | None = None) -> ContractWire:
        """`POST /contracts` (an agency deploys a contract)."""
        return await self._call("POST", "/contracts", ContractWire, body=request,
                                idempotency_key=idempotency_key)

    async def contracts(self, page: Page | None = None) -> ContractList:
        """`GET /contracts`."""
        return await self._call("GET", "/contracts", ContractList, query=page or Page())

    async def contract(self, contract_hash: str) -> ContractWire:
        """`GET /contracts/{hash}`, with its source."""
        return await self._call("GET", f"/contracts/{_segment(contract_hash)}", ContractWire)

    async def submit_transactions(self, batch: TransactionBatch, *,
                                  idempotency_key: str | None = None) -> OutcomeList:
        """`POST /transactions`: one outcome per transaction, in order."""
        return await self._call("POST", "/transactions", OutcomeList, body=batch,
                                idempotency_key=idempotency_key)

    async def transaction(self, tx_id: str) -> OutcomeWire:
        """`GET /transactions/{tx_id}`."""
        return await self._call("GET", f"/transactions/{_segment(tx_id)}", OutcomeWire)

    async def register_wallet(self, request: RegisterWallet, *,
                              idempotency_key: str | None = None) -> PayeeWire:
        """`POST /wallets` (a bank registers its customer's wallet)."""
        return await self._call("POST", "/wallets", PayeeWire, body=request,
                                idempotency_key=idempotency_key)

    async def directory(self, query: DirectoryQuery) -> PayeeWire:
        """`GET /directory`: a payee by account or phone."""
        return await self._call("GET", "/directory", PayeeWire, query=query)

    async def notes(self, query: NotesQuery) -> NoteList:
        """`GET /notes`: a page of an owner's notes."""
        return await self._call("GET", "/notes", NoteList, query=query)

    async def note(self, note_id: str) -> NoteWire:
        """`GET /notes/{note_id}`: one note and the transaction that spent it."""
        return await self._call("GET", f"/notes/{_segment(note_id)}", NoteWire)

    async def balances(self, owner: str) -> BalanceList:
        """`GET /balances/{owner}`."""
        return await self._call("GET", f"/balances/{_segment(owner)}", BalanceList)

    async def journal(self, tx_id: str) -> JournalEntryWire:
        """`GET /journal/{tx_id}`: a committed transaction's body."""
        return await self._call("GET", f"/journal/{_segment(tx_id)}", JournalEntryWire)

    async def supply(self, token: TokenWire) -> SupplyWire:
        """`GET /supply/{contract}/{token}`: a token's outstanding supply."""
        return await self._call("GET", f"/supply/{_segment(token.contract)}/"
                                f"{_segment(token.token)}", SupplyWire)

    async def statistics(self) -> Statistics:
        """`GET /statistics` (the central bank)."""
        return await self._call("GET", "/statistics", Statistics)

    # ---- commercial bank --------------------------------------------------------------------

    async def open_customer(self, request: OpenCustomer, *,
                            idempotency_key: str | None = None) -> CustomerWire:
        """`POST /customers` (the operator)."""
        return await self._call("POST", "/customers", CustomerWire, body=request,
                                idempotency_key=idempotency_key)

    async def customers(self, page: Page | None = None) -> CustomerList:
        """`GET /customers` (the operator)."""
        return await self._call("GET", "/customers", CustomerList, query=page or Page())

    async def customer(self, account: str) -> CustomerWire:
        """`GET /customers/{account}`."""
        return await self._call("GET", f"/customers/{_segment(account)}", CustomerWire)

    async def reverify(self, account: str, request: Reverify, *,
                       idempotency_key: str | None = None) -> CustomerWire:
        """`POST /customers/{account}/kyc` (the operator)."""
        return await self._call("POST", f"/customers/{_segment(account)}/kyc", CustomerWire,
                                body=request, idempotency_key=idempotency_key)

    async def customer_balances(self, account: str) -> BalanceList:
        """`GET /customers/{account}/balances`."""
        return await self._call("GET", f"/customers/{_segment(account)}/balances", BalanceList)

    async def customer_payments(self, account: str, page: Page | None = None) -> PaymentList:
        """`GET /customers/{account}/payments`, newest first."""
        return await self._call("GET", f"/customers/{_segment(account)}/payments", PaymentList,
                                query=page or Page())

    async def distribute(self, request: Distribution, *,
                         idempotency_key: str | None = None) -> PaymentWire:
        """`POST /distributions` (the operator moves the bank's money into a wallet)."""
        return await self._call("POST", "/distributions", PaymentWire, body=request,
                                idempotency_key=idempotency_key)

    async def prepare_payment(self, request: PaymentRequest, *,
                              idempotency_key: str | None = None) -> PreparedPayment:
        """`POST /payments`: the bank prepares; check it (`check_prepared`) before signing."""
        return await self._call("POST", "/payments", PreparedPayment, body=request,
                                idempotency_key=idempotency_key)

    async def prepare_cash_out(self, request: CashOutRequest, *,
                               idempotency_key: str | None = None) -> PreparedPayment:
        """`POST /cash-outs`: the bank prepares the return of money to the deposit."""
        return await self._call("POST", "/cash-outs", PreparedPayment, body=request,
                                idempotency_key=idempotency_key)

    async def prepare_settlement(self, request: SettlementRequest, *,
                                 idempotency_key: str | None = None) -> PreparedPayment:
        """`POST /settlements`: the bank prepares the claim or refund of a hash-locked note;
        check it (`check_settlement`) before signing."""
        return await self._call("POST", "/settlements", PreparedPayment, body=request,
                                idempotency_key=idempotency_key)

    async def sign_payment(self, payment_id: str, request: PaymentSignature, *,
                           idempotency_key: str | None = None) -> PaymentWire:
        """`POST /payments/{payment_id}/signature`."""
        return await self._call("POST", f"/payments/{_segment(payment_id)}/signature",
                                PaymentWire, body=request, idempotency_key=idempotency_key)

    async def payments_report(self) -> str:
        """`GET /reports/payments.csv` (the operator): the CSV text."""
        return (await self._send("GET", "/reports/payments.csv")).decode("utf-8")

    # ---- the customer's flows ---------------------------------------------------------------

    async def sign_prepared(self, prepared: PreparedPayment) -> PaymentWire:
        """Sign a checked prepared payment's id with this client's key and send it."""
        signature = self.key.sign(signing_bytes(TxId(prepared.tx_id)))
        return await self.sign_payment(prepared.payment_id,
                                       PaymentSignature(signature=signature.hex()))

    async def pay(self, request: PaymentRequest) -> PaymentWire:
        """Prepare, check, sign: the whole payment; raises `ClientError` if the check fails."""
        prepared = await self.prepare_payment(request)
        lock = request.lock
        check_prepared(prepared, Expected(
            request.amount_minor, request.currency, request.token, self.key.participant,
            request.operation, lock=HashLock(lock.digest, self.key.participant, lock.deadline_s)
            if lock is not None else None))
        return await self.sign_prepared(prepared)

    async def settle(self, request: SettlementRequest) -> PaymentWire:
        """Prepare, check, sign the claim or refund of a hash-locked note through the bank."""
        prepared = await self.prepare_settlement(request)
        check_settlement(prepared, request, self.key.participant)
        return await self.sign_prepared(prepared)

    async def cash_out(self, request: CashOutRequest) -> PaymentWire:
        """Prepare, check, sign a cash-out to this customer's bank."""
        prepared = await self.prepare_cash_out(request)
        check_prepared(prepared, Expected(request.amount_minor, request.currency, request.token,
                                          self.key.participant, "cash_out"))
        return await self.sign_prepared(prepared)


@dataclass(frozen=True, slots=True)
class Expected:
    """What the customer asked for, against which the bank's preparation is checked."""

    amount_minor: int
    currency: str
    token: TokenWire | None
    payer: str
    operation: str | None = None  # None: the bank chooses transfer or purchase
    lock: HashLock | None = None  # the payee's note's lock, refunded to the payer


def check_prepared(prepared: PreparedPayment, expected: Expected) -> Transaction:
    """The prepared transaction, if it pays exactly what was asked; raises `ClientError`.

    Checks what the customer can check alone: the id is the hash of the transaction shown,
    exactly one output leaves the payer and it carries the amount and currency asked (in the
    token asked, or released to plain money), every other output is change to the payer in the
    same money, and the debit the bank announces is that amount."""
    transaction, tx_id = _decoded(prepared)
    problems = _mismatches(prepared, transaction, tx_id, expected)
    if problems:
        raise local_refusal("prepared_payment_mismatch", "; ".join(problems))
    return transaction


def check_settlement(prepared: PreparedPayment, request: SettlementRequest,
                     payer: str) -> Transaction:
    """The prepared settlement, if it settles exactly what was asked; raises `ClientError`.

    The id is the hash of the transaction shown, it spends the note asked alone, reveals the
    preimage given (none for a refund), and every output is the payer's, unlocked."""
    transaction, tx_id = _decoded(prepared)
    outputs = transaction.outputs
    checks = {
        "the id is not the hash of the transaction": tx_id != prepared.tx_id,
        f"it does not spend note {request.note_id} alone":
            transaction.inputs != (request.note_id,),
        "it does not reveal the preimage given": transaction.preimage != request.preimage,
        "its money does not stay with the payer, unlocked": not outputs or any(
            o.owner != payer or o.lock is not None for o in outputs),
    }
    problems = [problem for problem, failed in checks.items() if failed]
    if problems:
        raise local_refusal("prepared_payment_mismatch", "; ".join(problems))
    return transaction


def _decoded(prepared: PreparedPayment) -> tuple[Transaction, TxId]:
    try:
        transaction = from_wire(prepared.transaction)
        return transaction, transaction_id(transaction)
    except TransactionRefused as refused:
        raise local_refusal("prepared_payment_malformed", refused.refusal.reason) from None


def _mismatches(prepared: PreparedPayment, transaction: Transaction, tx_id: TxId,
                expected: Expected) -> list[str]:
    token = token_from_wire(expected.token)
    payer = ParticipantId(expected.payer)
    paid = [o for o in transaction.outputs if o.owner != payer]
    change = [o for o in transaction.outputs if o.owner == payer]
    checks = {
        "the id is not the hash of the transaction": tx_id != prepared.tx_id,
        f"the operation is {transaction.operation}, not {expected.operation}":
            expected.operation is not None and transaction.operation != expected.operation,
        f"the currency is {prepared.currency}, not {expected.currency}":
            prepared.currency != expected.currency,
        f"the debit is {prepared.debit_minor}, not {expected.amount_minor}":
            prepared.debit_minor != expected.amount_minor,
        "it does not pay exactly one payee": len(paid) != 1,
        "the payee's output is not the amount and currency asked": len(paid) == 1 and (
            paid[0].amount_minor != expected.amount_minor
            or paid[0].currency != expected.currency
            or paid[0].token not in {token, None}),
        "the payee's note is not locked as asked":
            len(paid) == 1 and paid[0].lock != expected.lock,
        "the change is not in the money spent, unlocked": any(
            o.currency != expected.currency or o.token != token or o.lock is not None
            for o in change),
    }
    return [problem for problem, failed in checks.items() if failed]


def _segment(value: str) -> str:
    """A path parameter, percent-encoded (an account's `@` may stay)."""
    return quote(value, safe="@")


def _query_values(query: BaseModel) -> dict[str, str]:
    """Query parameters as the server's models read them back; defaults are left out."""
    values = query.model_dump(exclude_none=True, exclude_defaults=True)
    return {name: _query_text(value) for name, value in values.items()}


def _query_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
