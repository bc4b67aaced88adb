"""The typed client (`node.client`) and ledger wallets (`node.ledger_wallet`) on a fake node.

The fake node is a small `node.api.Api` declared here with a few routes of each service, served
in-process by aiohttp's TestServer: it records the requests it authenticated and answers models
or problems, so each test checks what the client sent (signed, idempotent, encoded) and what it
made of the answer. The fake bank can prepare honest payments or cheating ones, to check that
the customer refuses to sign what does not pay what was asked.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from dsl.evaluate import RuleRef
from dsl.facts import Party
from engine.encoding import INPUTS_MAX, signing_bytes, to_wire, transaction_id
from engine.errors import Refusal, ResultCode
from engine.ids import ContractHash, NoteId, ParticipantId, TxId
from engine.keys import KeyPair, verify
from engine.model import Note, Output, TokenRef, Transaction
from engine.notary import Outcome
from engine.validate import check_signed
from engine.wallet import Payment, build_payment
from node import client as node_client
from node.api import Api, Call, problems
from node.client import NO_ANSWER, ClientError, Expected, NodeClient, check_prepared
from node.database import open_database
from node.errors import NodeError, conflict
from node.idempotency import HEADER as IDEMPOTENCY_HEADER
from node.idempotency import IdempotencyStore
from node.ledger_wallet import LedgerWallet
from node.messages import (
    ContractUpload,
    ContractWire,
    CustomerWire,
    DirectoryQuery,
    NoteList,
    NotesQuery,
    OutcomeList,
    ParticipantWire,
    PayeeWire,
    PaymentRequest,
    PaymentSignature,
    PaymentWire,
    PayTo,
    PreparedPayment,
    RegisterParticipant,
    TokenWire,
    TransactionBatch,
)
from node.request_signing import KEY_HEADER, NONCE_HEADER, NonceCache
from node.wire import note_to_wire, outcome_to_wire, signed_from_wire

CUSTOMER = KeyPair.from_seed(b"\x01" * 32)
PAYEE = KeyPair.from_seed(b"\x02" * 32)
AGENCY = KeyPair.from_seed(b"\x03" * 32)
STRANGER = KeyPair.from_seed(b"\x04" * 32)
TOKEN = TokenRef(ContractHash("c" * 64), "HEALTH")
PAYEE_WIRE = PayeeWire(key=PAYEE.participant, account="pharmacy@aba", bank="aba",
                       display_name="Ph*** K***", role="merchant", kyc=2, mcc=5912,
                       region="PP")
NOW_S = 1_750_000_000


def note(owner: KeyPair, amount_minor: int, token: TokenRef | None, index: int) -> Note:
    """A note with a made-up id."""
    return Note(NoteId(f"{index:064x}"), owner.participant, amount_minor, "KHR", token, NOW_S,
                TxId("e" * 64))


@dataclass
class FakeNode:
    """What the fake node saw and how it answers."""

    requests: list[dict[str, str]] = field(default_factory=list)
    cheat: Callable[[Transaction], Transaction] | None = None
    prepared: dict[str, Transaction] = field(default_factory=dict)
    signed: list[str] = field(default_factory=list)
    submitted: list[TransactionBatch] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    refuse_with: Refusal | None = None


def fake_api(node: FakeNode) -> Api:
    """A few routes of the central bank's and the commercial bank's APIs."""
    api = Api("Fake", "1", "A fake node.")
    central_routes(api, node)
    bank_routes(api, node)
    return api


def seen(node: FakeNode, call: Call) -> None:
    """Record the request's headers and path as the node saw them."""
    node.requests.append(dict(call.request.headers) | {"path_qs": call.request.path_qs})


def central_routes(api: Api, node: FakeNode) -> None:
    """Some of the central bank's routes."""
    @api.route("POST", "/participants", summary="register", tag="c", body=RegisterParticipant,
               response=None, status=201)
    async def register(call: Call) -> web.Response:
        seen(node, call)
        request = call.body(RegisterParticipant)
        if request.name == "taken":
            raise conflict("name_taken", "aba is registered")
        return web.json_response(request.model_dump(), status=201)

    @api.route("POST", "/contracts", summary="deploy", tag="c", body=ContractUpload,
               response=ContractWire, status=201)
    async def deploy(_call: Call) -> ContractWire:
        raise NodeError(422, "contract_refused", "Refused", "the contract has errors",
                        diagnostics=[{"code": "E101", "line": 3}])

    @api.route("GET", "/directory", summary="resolve", tag="c", query=DirectoryQuery,
               response=PayeeWire)
    async def directory(call: Call) -> PayeeWire:
        seen(node, call)
        query = call.query(DirectoryQuery)
        if query.phone is not None and query.phone != "+85512345678":
            raise NodeError(404, "not_found", "Not found", "no such payee")
        return PAYEE_WIRE

    @api.route("GET", "/notes", summary="notes", tag="c", query=NotesQuery, response=NoteList)
    async def notes(call: Call) -> NoteList:
        query = call.query(NotesQuery)
        mine = [n for n in node.notes if n.owner == query.owner]
        start = int(query.after or 0)
        page = mine[start:start + query.limit]
        after = start + query.limit
        return NoteList(items=[note_to_wire(n) for n in page],
                        next=str(after) if after < len(mine) else None)

    @api.route("POST", "/transactions", summary="submit", tag="c", body=TransactionBatch,
               response=OutcomeList)
    async def transactions(call: Call) -> OutcomeList:
        batch = call.body(TransactionBatch)
        if node.refuse_with is not None:
            raise NodeError.refused(node.refuse_with)
        node.submitted.append(batch)
        return OutcomeList(outcomes=[outcome_to_wire(Outcome(TxId(t.id), None))
                                     for t in batch.transactions])


def bank_routes(api: Api, node: FakeNode) -> None:
    """Some of the commercial bank's routes."""

    @api.route("GET", "/customers/{account}", summary="customer", tag="b",
               response=CustomerWire)
    async def customer(call: Call) -> CustomerWire:
        seen(node, call)
        return CustomerWire(account=call.path("account"), key=call.signed_by(),
                            display_name="A", role="individual", mcc=0, phone=None,
                            kyc_tier=1, region="")

    @api.route("POST", "/payments", summary="prepare", tag="b", body=PaymentRequest,
               response=PreparedPayment, status=201)
    async def prepare(call: Call) -> PreparedPayment:
        return prepared_payment(node, call.signed_by(), call.body(PaymentRequest))

    @api.route("POST", "/payments/{payment_id}/signature", summary="sign", tag="b",
               body=PaymentSignature, response=PaymentWire)
    async def sign(call: Call) -> PaymentWire:
        transaction = node.prepared[call.path("payment_id")]
        tx_id = transaction_id(transaction)
        good = verify(call.signed_by(), signing_bytes(tx_id),
                      bytes.fromhex(call.body(PaymentSignature).signature))
        node.signed.append(tx_id)
        return PaymentWire(payment_id=call.path("payment_id"), account="me@aba",
                           kind="purchase", counterparty="pharmacy@aba", amount_minor=1,
                           currency="KHR", token="", tx_id=tx_id,
                           status="committed" if good else "refused", created_at_s=NOW_S)

    @api.route("GET", "/reports/payments.csv", summary="csv", tag="b", media_type="text/csv")
    async def report(_call: Call) -> web.Response:
        return web.Response(text="payment_id,amount\np1,100\n", content_type="text/csv")


def prepared_payment(node: FakeNode, payer: ParticipantId,
                     request: PaymentRequest) -> PreparedPayment:
    """What an honest bank prepares (two notes of 1,000 KHR), then what `node.cheat` makes of it."""
    token = TokenRef(ContractHash(request.token.contract), request.token.token) if (
        request.token) else None
    notes = [Note(NoteId(f"{i:064x}"), payer, 1_000, "KHR", token, NOW_S, TxId("e" * 64))
             for i in (1, 2)]
    payment = Payment(request.amount_minor, request.currency, token, PAYEE.participant,
                      Party("pharmacy@aba", "merchant", 2, "aba", mcc=5912), "purchase",
                      plain_to_receiver=token is not None)
    transaction = build_payment(payment, notes, Party("me@aba", "individual", 1, "aba"), payer,
                                created_at_s=NOW_S, nonce=f"n{len(node.prepared)}")
    if node.cheat is not None:
        transaction = node.cheat(transaction)
    payment_id = f"p{len(node.prepared)}"
    node.prepared[payment_id] = transaction
    return PreparedPayment(payment_id=payment_id, tx_id=transaction_id(transaction),
                           transaction=to_wire(transaction), payee="Ph*** K***",
                           debit_minor=request.amount_minor, currency=request.currency,
                           expires_at_s=NOW_S + 300)


@asynccontextmanager
async def client_of(node: FakeNode, database: Path,
                    key: KeyPair = CUSTOMER) -> AsyncIterator[NodeClient]:
    """A NodeClient connected to the fake node, served in-process."""
    app = web.Application(middlewares=[problems])
    fake_api(node).install(app, NonceCache(),
                           IdempotencyStore(open_database(f"sqlite:///{database}")))
    async with TestServer(app) as server, NodeClient(str(server.make_url("/")), key) as client:
        yield client


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run one async scenario."""
    asyncio.run(scenario())


# ---- the transport ----------------------------------------------------------------------------


def test_requests_are_signed_and_posts_idempotent(tmp_path: Path) -> None:
    """Every request carries the caller's key and a fresh nonce; each POST a fresh key, and the
    same key passed twice gets the replayed first answer."""
    async def scenario() -> None:
        node = FakeNode()
        request = RegisterParticipant(name="aba", role="bank", key="a" * 64)
        async with client_of(node, tmp_path / "n.db") as client:
            first = await client.register_participant(request)
            await client.register_participant(request)
            assert not client.last_replayed
            await client.register_participant(request, idempotency_key="same")
            again = await client.register_participant(request, idempotency_key="same")
            assert client.last_replayed
        assert first == again == ParticipantWire(**request.model_dump())
        assert len(node.requests) == 3  # the replay never reached the handler
        assert {r[KEY_HEADER] for r in node.requests} == {CUSTOMER.participant}
        assert len({r[NONCE_HEADER] for r in node.requests}) == 3
        keys = [r[IDEMPOTENCY_HEADER] for r in node.requests]
        assert keys[2] == "same"
        assert keys[0] != keys[1]
    run(scenario)


def test_query_and_path_are_encoded_as_signed(tmp_path: Path) -> None:
    """A phone's `+` in a query and an account's `@` in a path reach the node as signed."""
    async def scenario() -> None:
        node = FakeNode()
        async with client_of(node, tmp_path / "n.db") as client:
            payee = await client.directory(DirectoryQuery(phone="+85512345678"))
            customer = await client.customer("alice.k@aba")
        assert payee == PAYEE_WIRE
        assert customer.account == "alice.k@aba"
        assert customer.key == CUSTOMER.participant
        assert node.requests[0]["path_qs"] == "/directory?phone=%2B85512345678"
    run(scenario)


def test_problem_becomes_client_error(tmp_path: Path) -> None:
    """A problem answer is raised as ClientError with status, code, detail and extra fields."""
    async def scenario() -> None:
        node = FakeNode(refuse_with=Refusal(ResultCode.PURPOSE_NOT_ALLOWED, "only pharmacies",
                                            RuleRef("health", "pharmacies", 12, 3)))
        async with client_of(node, tmp_path / "n.db") as client:
            with pytest.raises(ClientError) as taken:
                await client.register_participant(
                    RegisterParticipant(name="taken", role="bank", key="a" * 64))
            with pytest.raises(ClientError) as refused:
                await client.submit_transactions(TransactionBatch.model_construct(
                    transactions=[], endorsements=[]))
            with pytest.raises(ClientError) as diagnosed:
                await client.upload_contract(ContractUpload(source="contract x"))
            with pytest.raises(ClientError) as missing:
                await client.directory(DirectoryQuery(phone="+85599999999"))
        assert (taken.value.status, taken.value.code) == (409, "name_taken")
        assert taken.value.detail == "aba is registered"
        assert refused.value.status == 400  # an empty batch breaks its model on the server
        assert refused.value.code == "invalid_request"
        assert refused.value.extra["errors"][0]["location"] == ["body", "transactions"]
        assert diagnosed.value.diagnostics == [{"code": "E101", "line": 3}]
        assert (missing.value.status, missing.value.code) == (404, "not_found")
    run(scenario)


def test_ledger_refusal_carries_rule_and_reason(tmp_path: Path) -> None:
    """A refused transaction's problem gives the engine's code, the deciding rule and reason."""
    async def scenario() -> None:
        node = FakeNode(refuse_with=Refusal(ResultCode.PURPOSE_NOT_ALLOWED, "only pharmacies",
                                            RuleRef("health", "pharmacies", 12, 3)))
        node.notes = [note(AGENCY, 500, TOKEN, 1)]
        async with client_of(node, tmp_path / "n.db", AGENCY) as client:
            with pytest.raises(ClientError) as refused:
                await LedgerWallet(client, "ministry").distribute(
                    DirectoryQuery(account="pharmacy@aba"), TOKEN, 100, "KHR")
        error = refused.value
        assert (error.status, error.code) == (422, "purpose_not_allowed")
        assert error.reason == "only pharmacies"
        assert error.rule == {"contract": "health", "name": "pharmacies", "line": 12}
    run(scenario)


def test_unreachable_node(tmp_path: Path) -> None:
    """No node at the address: ClientError `unreachable` with no HTTP status."""
    async def scenario() -> None:
        async with NodeClient("http://127.0.0.1:1", CUSTOMER, timeout_s=5) as client:
            with pytest.raises(ClientError) as raised:
                await client.statistics()
        assert (raised.value.status, raised.value.code) == (NO_ANSWER, "unreachable")
    run(scenario)


def test_an_answer_over_the_limit_is_refused_however_it_is_framed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An answer of declared length is refused from its header when it declares more than the
    limit; a chunked one once its chunks pass the limit; either is read whole at the limit."""
    limit = 1_000
    monkeypatch.setattr(node_client, "ANSWER_BYTES_MAX", limit)
    wanted = {"framing": "length", "size": 0}

    async def answer(request: web.Request) -> web.StreamResponse:
        body = b"x" * int(wanted["size"])
        if wanted["framing"] == "length":
            return web.Response(body=body)
        chunked = web.StreamResponse()
        chunked.enable_chunked_encoding()
        await chunked.prepare(request)
        for at in range(0, len(body), 100):
            await chunked.write(body[at:at + 100])
        await chunked.write_eof()
        return chunked

    async def scenario() -> None:
        app = web.Application()
        app.router.add_get("/metrics", answer)
        async with TestServer(app) as server, \
                NodeClient(str(server.make_url("/")), CUSTOMER) as client:
            for framing in ("length", "chunked"):
                wanted.update(framing=framing, size=limit)
                assert len(await client.metrics()) == limit, framing
                wanted.update(size=limit + 100)
                with pytest.raises(ClientError) as raised:
                    await client.metrics()
                assert raised.value.code == "unexpected_answer", framing
    run(scenario)


def test_csv_report(tmp_path: Path) -> None:
    """The CSV report comes back as text."""
    async def scenario() -> None:
        async with client_of(FakeNode(), tmp_path / "n.db") as client:
            assert (await client.payments_report()).splitlines()[0] == "payment_id,amount"
    run(scenario)


# ---- the customer's payment -------------------------------------------------------------------


def pay_request(amount_minor: int = 1_500, token: TokenWire | None = None) -> PaymentRequest:
    """A purchase at the pharmacy."""
    return PaymentRequest(to=PayTo(account="pharmacy@aba"), currency="KHR",
                          amount_minor=amount_minor, token=token)


def test_honest_payment_is_signed(tmp_path: Path) -> None:
    """The bank prepares what was asked: the customer signs its id and the bank accepts it."""
    async def scenario() -> None:
        node = FakeNode()
        token = TokenWire(contract=TOKEN.contract, token=TOKEN.token)
        async with client_of(node, tmp_path / "n.db") as client:
            plain = await client.pay(pay_request())
            earmarked = await client.pay(pay_request(token=token))
        assert plain.status == earmarked.status == "committed"
        assert len(node.signed) == 2
    run(scenario)


def _more(transaction: Transaction) -> Transaction:
    outputs = list(transaction.outputs)
    outputs[0] = replace(outputs[0], amount_minor=outputs[0].amount_minor + 1)
    outputs[1] = replace(outputs[1], amount_minor=outputs[1].amount_minor - 1)
    return replace(transaction, outputs=tuple(outputs))


def _skim(transaction: Transaction) -> Transaction:
    change = replace(transaction.outputs[1], owner=STRANGER.participant)
    return replace(transaction, outputs=(transaction.outputs[0], change))


def _split(transaction: Transaction) -> Transaction:
    change = transaction.outputs[1]
    outputs = (transaction.outputs[0], replace(change, amount_minor=change.amount_minor - 1),
               Output(STRANGER.participant, 1, "KHR"))
    return replace(transaction, outputs=outputs)


def _dollars(transaction: Transaction) -> Transaction:
    outputs = tuple(replace(o, currency="USD") for o in transaction.outputs)
    return replace(transaction, outputs=outputs)


def _nonce(transaction: Transaction) -> Transaction:
    return replace(transaction, nonce="other")


@pytest.mark.parametrize("cheat", [_more, _skim, _split, _dollars])
def test_cheating_preparation_is_not_signed(tmp_path: Path,
                                            cheat: Callable[[Transaction], Transaction]) -> None:
    """A preparation paying more, sending change elsewhere, paying a second party or another
    currency: refused by the client with prepared_payment_mismatch, nothing signed."""
    async def scenario() -> None:
        node = FakeNode(cheat=cheat)
        async with client_of(node, tmp_path / "n.db") as client:
            with pytest.raises(ClientError) as refused:
                await client.pay(pay_request())
        assert refused.value.code == "prepared_payment_mismatch"
        assert refused.value.status == NO_ANSWER
        assert node.signed == []
    run(scenario)


def test_id_must_be_the_hash_of_what_is_shown() -> None:
    """A prepared payment whose id is another transaction's is refused before signing."""
    node = FakeNode()
    prepared = prepared_payment(node, CUSTOMER.participant, pay_request())
    other = _nonce(node.prepared[prepared.payment_id])
    shown = prepared.model_copy(update={"transaction": to_wire(other)})
    expected = Expected(1_500, "KHR", None, CUSTOMER.participant)
    assert check_prepared(prepared, expected).outputs[0].owner == PAYEE.participant
    with pytest.raises(ClientError) as refused:
        check_prepared(shown, expected)
    assert "the id is not the hash" in refused.value.detail
    with pytest.raises(ClientError) as malformed:
        check_prepared(prepared.model_copy(update={"transaction": {"operation": "x"}}), expected)
    assert malformed.value.code == "prepared_payment_malformed"


def test_debit_and_operation_must_match() -> None:
    """An announced debit other than the amount, or another operation than asked: refused."""
    prepared = prepared_payment(FakeNode(), CUSTOMER.participant, pay_request())
    with pytest.raises(ClientError):
        check_prepared(prepared.model_copy(update={"debit_minor": 1_501}),
                       Expected(1_500, "KHR", None, CUSTOMER.participant))
    with pytest.raises(ClientError) as refused:
        check_prepared(prepared, Expected(1_500, "KHR", None, CUSTOMER.participant, "transfer"))
    assert "operation is purchase" in refused.value.detail


# ---- the agency -------------------------------------------------------------------------------


def submitted_transaction(node: FakeNode) -> Transaction:
    """The one transaction submitted, after checking its id and signatures as the notary does."""
    (batch,) = node.submitted
    (wire,) = batch.transactions
    signed = signed_from_wire(wire)
    assert check_signed(signed, signed.transaction.created_at_s) is None
    assert signed.signers == {AGENCY.participant}
    return signed.transaction


def test_agency_labels_plain_money(tmp_path: Path) -> None:
    """`label` spends plain notes only, outputs the amount in the token and plain change."""
    async def scenario() -> None:
        node = FakeNode(notes=[note(AGENCY, 600, TOKEN, 1), note(AGENCY, 600, None, 2),
                               note(AGENCY, 600, None, 3), note(STRANGER, 9_000, None, 4)])
        async with client_of(node, tmp_path / "n.db", AGENCY) as client:
            outcome = await LedgerWallet(client, "ministry").label(TOKEN, 1_000, "KHR")
        assert outcome.status == "committed"
        transaction = submitted_transaction(node)
        assert transaction.operation == "label"
        assert transaction.inputs == (f"{2:064x}", f"{3:064x}")
        assert transaction.outputs == (Output(AGENCY.participant, 1_000, "KHR", TOKEN),
                                       Output(AGENCY.participant, 200, "KHR", None))
        assert transaction.sender == Party("ministry", "agency")
    run(scenario)


def test_agency_distributes_to_a_resolved_wallet(tmp_path: Path) -> None:
    """`distribute` pays the directory's key with the directory's facts; change stays earmarked;
    notes are read across pages."""
    async def scenario() -> None:
        notes = [note(AGENCY, 10, None, i) for i in range(1, 601)]
        node = FakeNode(notes=[*notes, note(AGENCY, 700, TOKEN, 900)])
        async with client_of(node, tmp_path / "n.db", AGENCY) as client:
            outcome = await LedgerWallet(client, "ministry").distribute(
                DirectoryQuery(account="pharmacy@aba"), TOKEN, 500, "KHR")
        assert outcome.status == "committed"
        transaction = submitted_transaction(node)
        assert transaction.operation == "distribute"
        assert transaction.inputs == (f"{900:064x}",)
        assert transaction.outputs == (Output(PAYEE.participant, 500, "KHR", TOKEN),
                                       Output(AGENCY.participant, 200, "KHR", TOKEN))
        assert transaction.receiver == Party("pharmacy@aba", "merchant", 2, "aba", "PP", 5912)
    run(scenario)


def test_agency_short_of_money_or_of_inputs(tmp_path: Path) -> None:
    """Not enough of the money: insufficient_funds; enough only in too many notes:
    too_many_notes; nothing is submitted."""
    async def scenario() -> None:
        node = FakeNode(notes=[note(AGENCY, 1, None, i) for i in range(1, INPUTS_MAX + 10)])
        async with client_of(node, tmp_path / "n.db", AGENCY) as client:
            agency = LedgerWallet(client, "ministry")
            with pytest.raises(ClientError) as short:
                await agency.label(TOKEN, 10_000, "KHR")
            with pytest.raises(ClientError) as many:
                await agency.label(TOKEN, INPUTS_MAX + 1, "KHR")
            # The notes of the refused attempt are free again.
            assert (await agency.label(TOKEN, 3, "KHR")).status == "committed"
        assert short.value.code == "insufficient_funds"
        assert many.value.code == "too_many_notes"
        assert len(node.submitted) == 1
    run(scenario)
