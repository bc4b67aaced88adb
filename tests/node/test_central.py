"""The central bank service over HTTP, in process: registry, reserves, issuance, contracts,
transactions, the directory, visibility, statistics, idempotency, authentication and OpenAPI.

Method: each test starts a `CentralService` on a fresh SQLite file behind aiohttp's TestServer,
registers a small world (two banks, an agency) and calls it with requests signed by
deterministic keys, building transactions as a bank's wallet would.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from postgres import fresh_postgres
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from yarl import URL

from dsl.facts import Party
from engine.encoding import note_id, signing_bytes, to_wire, transaction_id
from engine.ids import NoteId, TxId
from engine.keys import KeyPair
from engine.model import Output, SignedTransaction, Transaction
from engine.notary import Notary, Outcome
from engine.participants import Participant
from node.api import problems
from node.central import CentralService
from node.central_records import CentralRecords
from node.config import NodeConfig
from node.database import open_database
from node.errors import NodeError
from node.idempotency import HEADER as IDEMPOTENCY_HEADER
from node.idempotency import REPLAYED_HEADER
from node.ledger_intake import LedgerIntake, LedgerMetrics
from node.messages import RegisterWallet
from node.metrics import Metrics
from node.request_signing import NonceCache, sign_request

CONTRACT = Path(__file__).parents[2] / "contracts" / "health_benefit.earmark"
SOURCE = CONTRACT.read_text(encoding="utf-8")


def _key(name: str) -> KeyPair:
    return KeyPair.from_seed(hashlib.sha256(f"central-test/{name}".encode()).digest())


CENTRAL, ABA, WING = _key("central"), _key("aba"), _key("wing")
MINISTRY, SOKHA, STRANGER = _key("ministry"), _key("sokha"), _key("stranger")
CENTRAL_NAME = "national-bank"
TABLE_PATHS = {  # docs/node.md, "Central bank API"
    ("post", "/participants"), ("get", "/participants"), ("post", "/reserves"),
    ("get", "/reserves/{bank}/{currency}"), ("post", "/issuance"), ("post", "/redemption"),
    ("post", "/contracts"), ("get", "/contracts"), ("get", "/contracts/{hash}"),
    ("post", "/transactions"), ("get", "/transactions/{tx_id}"), ("post", "/wallets"),
    ("get", "/directory"), ("get", "/notes"), ("get", "/notes/{note_id}"),
    ("get", "/balances/{owner}"),
    ("get", "/statistics"), ("get", "/journal/{tx_id}"), ("get", "/supply/{contract}/{token}"),
}


@dataclass
class Answer:
    """A response read whole."""

    status: int
    body: Any
    headers: dict[str, str]
    content_type: str


@dataclass
class Caller:
    """Signed calls with one key."""

    client: TestClient[web.Request, web.Application]
    key: KeyPair

    async def post(self, path: str, body: dict[str, Any], idempotency: str | None = None,
                   now_s: float | None = None) -> Answer:
        """A signed POST with an Idempotency-Key (a fresh one unless given)."""
        raw = json.dumps(body).encode()
        headers = sign_request(self.key, "POST", path, raw, now_s) | {
            IDEMPOTENCY_HEADER: idempotency or f"k-{time.time_ns()}",
            "Content-Type": "application/json"}
        return await self._send("POST", path, raw, headers)

    async def get(self, path: str, **query: str) -> Answer:
        """A signed GET; the query is signed exactly as sent."""
        path_qs = f"{path}?{urlencode(query)}" if query else path
        return await self._send("GET", path_qs, b"", sign_request(self.key, "GET", path_qs, b""))

    async def _send(self, method: str, path_qs: str, raw: bytes,
                    headers: dict[str, str]) -> Answer:
        url = URL(str(self.client.make_url("")).rstrip("/") + path_qs, encoded=True)
        async with self.client.session.request(method, url, data=raw or None,
                                               headers=headers) as response:
            text = await response.text()
            return Answer(response.status, json.loads(text) if text else None,
                          dict(response.headers), response.content_type)


@dataclass
class World:
    """The running service and a caller for each key."""

    service: CentralService
    client: TestClient[web.Request, web.Application]
    central: Caller
    aba: Caller
    wing: Caller
    ministry: Caller
    stranger: Caller


def _config(directory: Path) -> NodeConfig:
    return NodeConfig(role="central", name=CENTRAL_NAME, port=0, currencies=["KHR", "KZT"],
                      database=f"sqlite:///{directory / 'central.db'}",
                      key_seed=CENTRAL.signing_key.encode().hex())


@asynccontextmanager
async def central(directory: Path, *, register: bool = True) -> AsyncIterator[World]:
    """The service on a TestServer, with the world registered unless told otherwise."""
    metrics = Metrics("central")
    service = CentralService(_config(directory), metrics)
    app = web.Application(middlewares=[metrics.middleware, problems])
    service.api.install(app, NonceCache(), service.idempotency)
    app.router.add_get("/metrics", metrics.handler)

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        await service.start()
        yield
        await service.close()

    app.cleanup_ctx.append(lifecycle)
    async with TestClient(TestServer(app)) as client:
        world = World(service, client, *(Caller(client, k) for k in
                                         (CENTRAL, ABA, WING, MINISTRY, STRANGER)))
        if register:
            for name, role, key in (("aba", "bank", ABA), ("wing", "bank", WING),
                                    ("ministry-of-health", "agency", MINISTRY)):
                answer = await world.central.post("/participants", {
                    "name": name, "role": role, "key": key.participant})
                assert answer.status == 201, answer.body
        yield world


def run(directory: Path, scenario: Callable[[World], Awaitable[None]], **kw: bool) -> None:
    """Run `scenario` against a fresh service."""
    async def main() -> None:
        async with central(directory, **kw) as world:
            await scenario(world)
    asyncio.run(main())


def signed_wire(transaction: Transaction, *keys: KeyPair) -> dict[str, Any]:
    """The SignedTransactionWire of `transaction` signed by `keys`."""
    tx_id = transaction_id(transaction)
    return {"id": tx_id, "transaction": to_wire(transaction), "signatures": [
        {"signer": k.participant, "signature": k.sign(signing_bytes(tx_id)).hex()}
        for k in keys]}


def aba_spends(note: NoteId, outputs: list[Output], operation: str = "transfer",
               receiver: Party | None = None) -> Transaction:
    """A transaction by the bank aba spending one of its notes (stating the receiver's facts
    only when given: the ledger reads them from the registrations)."""
    return Transaction(operation, (note,), tuple(outputs), Party("aba", "bank"),
                       receiver or Party(), int(time.time()), str(time.time_ns()))


async def fund(world: World, amount_minor: int, currency: str = "KHR") -> NoteId:
    """Deposit reserves for aba, issue `amount_minor` to it; the new note's id."""
    deposit = await world.central.post("/reserves", {"bank": "aba", "currency": currency,
                                                     "amount_minor": amount_minor})
    assert deposit.status == 200, deposit.body
    issued = await world.aba.post("/issuance", {"currency": currency,
                                                "amount_minor": amount_minor})
    assert issued.status == 200 and issued.body["status"] == "committed", issued.body
    return note_id(TxId(issued.body["tx_id"]), 0)


async def register_sokha(world: World) -> Answer:
    """aba registers its customer Sokha's wallet."""
    return await world.aba.post("/wallets", {
        "key": SOKHA.participant, "account": "sokha@aba", "phone": "+85512345678",
        "display_name": "Sokha Chan", "role": "individual", "kyc": 2})


# ---- participants ------------------------------------------------------------------------------


def test_registration_is_the_central_banks_alone(tmp_path: Path) -> None:
    """The central bank registers participants; a bank cannot, a stranger cannot even list
    them, and a name taken by another key is a conflict."""
    async def scenario(world: World) -> None:
        refused = await world.aba.post("/participants", {"name": "rogue", "role": "bank",
                                                         "key": STRANGER.participant})
        assert (refused.status, refused.body["code"]) == (403, "forbidden")
        listed = await world.wing.get("/participants", limit="2")
        assert [p["name"] for p in listed.body["items"]] == ["aba", "ministry-of-health"]
        rest = await world.wing.get("/participants", after=listed.body["next"])
        assert [p["name"] for p in rest.body["items"]] == ["wing"] and rest.body["next"] is None
        assert (await world.stranger.get("/participants")).status == 403
        taken = await world.central.post("/participants", {"name": "aba", "role": "bank",
                                                           "key": STRANGER.participant})
        assert (taken.status, taken.body["code"]) == (409, "participant_exists")
    run(tmp_path, scenario)


# ---- reserves, issuance, redemption -------------------------------------------------------------


def test_issuance_draws_on_reserves_and_redemption_returns_them(tmp_path: Path) -> None:
    """Deposits allow issuance up to their amount, more is refused `reserves_insufficient`, a
    redemption co-signed by the central bank gives reserves back, and after a restart the
    reserves are summed again from the journal."""
    async def scenario(world: World) -> None:
        note = await fund(world, 600_000)
        short = await world.aba.post("/issuance", {"currency": "KHR", "amount_minor": 1})
        assert (short.status, short.body["code"]) == (422, "reserves_insufficient")
        redeem = aba_spends(note, [Output(ABA.participant, 100_000, "KHR")], "redeem",
                            Party(CENTRAL_NAME, "central_bank"))
        redeemed = await world.aba.post("/redemption", {"transaction": signed_wire(redeem,
                                                                                   ABA)})
        assert redeemed.body["status"] == "committed", redeemed.body
        reserve = await world.aba.get("/reserves/aba/KHR")
        assert reserve.body["amount_minor"] == 500_000
        assert (await world.wing.get("/reserves/aba/KHR")).status == 403
        wing_redeem = aba_spends(note, [], "redeem")
        wrong = await world.wing.post("/redemption", {"transaction": signed_wire(wing_redeem,
                                                                                 WING)})
        assert (wrong.status, wrong.body["code"]) == (422, "redemption_invalid")
    run(tmp_path, scenario)

    async def after_restart(world: World) -> None:
        reserve = await world.central.get("/reserves/aba/KHR")
        assert reserve.body["amount_minor"] == 500_000
    run(tmp_path, after_restart, register=False)


def test_concurrent_issuances_never_overdraw(tmp_path: Path) -> None:
    """Five issuances of 300 against 1 000 of reserves, sent at once: exactly three commit,
    two are refused, and 100 remain."""
    async def scenario(world: World) -> None:
        await world.central.post("/reserves", {"bank": "aba", "currency": "KZT",
                                               "amount_minor": 1_000})
        answers = await asyncio.gather(*(world.aba.post("/issuance", {
            "currency": "KZT", "amount_minor": 300}) for _ in range(5)))
        assert sorted(a.status for a in answers) == [200, 200, 200, 422, 422]
        assert (await world.aba.get("/reserves/aba/KZT")).body["amount_minor"] == 100
        balances = await world.aba.get(f"/balances/{ABA.participant}")
        assert balances.body["balances"] == [{"currency": "KZT", "token": None,
                                              "amount_minor": 900, "notes": 3,
                                              "locked_minor": 0}]
    run(tmp_path, scenario)


# ---- contracts ---------------------------------------------------------------------------------


def test_contract_deployed_by_its_issuer_and_refused_with_diagnostics(tmp_path: Path) -> None:
    """The ministry deploys its contract (201, listed and readable); a failing example and a
    syntax error come back as `contract_refused` with diagnostics; a bank may not deploy."""
    async def scenario(world: World) -> None:
        deployed = await world.ministry.post("/contracts", {"source": SOURCE})
        assert deployed.status == 201, deployed.body
        assert deployed.body | {"hash": ""} == {
            "hash": "", "name": "health_benefit", "version": 1, "tokens": ["HEALTH"],
            "issuer": "ministry-of-health", "source": None}
        listed = await world.aba.get("/contracts")
        assert [c["hash"] for c in listed.body["items"]] == [deployed.body["hash"]]
        one = await world.aba.get(f"/contracts/{deployed.body['hash']}")
        assert one.body["source"] == SOURCE
        failing = SOURCE.replace("mcc: 5411)\n  expect denied", "mcc: 5411)\n  expect allowed")
        refused = await world.ministry.post("/contracts", {"source": failing})
        assert (refused.status, refused.body["code"]) == (422, "contract_refused")
        assert refused.body["examples_failed"] == ["groceries are refused"]
        assert [d["code"] for d in refused.body["diagnostics"]] == ["E0501"]
        broken = await world.ministry.post("/contracts", {"source": "contract x version 1\n"
                                                                    "token {"})
        first = broken.body["diagnostics"][0]
        assert (first["severity"], first["line"]) == ("error", 2) and first["column"] > 0
        assert (await world.aba.post("/contracts", {"source": SOURCE})).status == 403
    run(tmp_path, scenario)


def test_a_contract_of_another_issuer_is_refused(tmp_path: Path) -> None:
    """An agency cannot deploy a token another agency issues: 422 `issuer_mismatch`."""
    async def scenario(world: World) -> None:
        await world.central.post("/participants", {"name": "other-agency", "role": "agency",
                                                   "key": STRANGER.participant})
        refused = await world.stranger.post("/contracts", {"source": SOURCE})
        assert (refused.status, refused.body["code"]) == (422, "issuer_mismatch")
    run(tmp_path, scenario)


# ---- transactions, directory, visibility, statistics ------------------------------------------


def test_a_batch_answers_each_transaction_and_a_bad_one_alone(tmp_path: Path) -> None:
    """A batch of a good transfer, an undecodable one and a double spend: committed,
    malformed, note_already_spent, in order; the signer, the payee and the central bank see
    the committed one, a stranger does not."""
    async def scenario(world: World) -> None:
        note = await fund(world, 1_000)
        good = signed_wire(aba_spends(note, [Output(WING.participant, 1_000, "KHR")]), ABA)
        again = signed_wire(aba_spends(note, [Output(ABA.participant, 1_000, "KHR")]), ABA)
        bad = good | {"id": "ab" * 32, "transaction": {"operation": "transfer"}}
        answer = await world.aba.post("/transactions", {"transactions": [good, bad, again]})
        assert [o["code"] for o in answer.body["outcomes"]] == [
            "committed", "malformed", "note_already_spent"]
        assert answer.body["outcomes"][1]["tx_id"] == "ab" * 32
        seen = await world.aba.get(f"/transactions/{good['id']}")
        assert seen.body["status"] == "committed"
        assert (await world.central.get(f"/transactions/{good['id']}")).status == 200
        assert (await world.wing.get(f"/transactions/{good['id']}")).status == 200
        assert (await world.stranger.get(f"/transactions/{good['id']}")).status == 403
        assert (await world.stranger.post("/transactions", {"transactions": [good]})
                ).status == 403
    run(tmp_path, scenario)


def test_directory_masks_names_and_wallets_keep_their_bank(tmp_path: Path) -> None:
    """A payee resolves by account or phone with a masked name; both or neither is 400, an
    unknown one 404; another bank cannot take over the wallet (`key_registered`)."""
    async def scenario(world: World) -> None:
        registered = await register_sokha(world)
        assert registered.status == 200, registered.body
        by_account = await world.wing.get("/directory", account="sokha@aba")
        assert (by_account.body["display_name"], by_account.body["bank"]) == (
            "S**** C***", "aba")
        by_phone = await world.wing.get("/directory", phone="+85512345678")
        assert by_phone.body["key"] == SOKHA.participant
        both = await world.wing.get("/directory", account="sokha@aba", phone="+85512345678")
        assert both.status == 400
        assert (await world.wing.get("/directory", account="nobody@aba")).status == 404
        taken = await world.wing.post("/wallets", {
            "key": SOKHA.participant, "account": "sokha@wing", "display_name": "S",
            "role": "individual", "kyc": 1})
        assert (taken.status, taken.body["code"]) == (409, "key_registered")
    run(tmp_path, scenario)


def wallet(key: KeyPair, account: str) -> dict[str, Any]:
    """A RegisterWallet body for `key` under `account`."""
    return {"key": key.participant, "account": account, "display_name": "Xi Ng",
            "role": "individual", "kyc": 1}


def test_a_key_is_registered_once(tmp_path: Path) -> None:
    """A bank cannot register as its customer's wallet a key the central bank, a participant
    (an agency, another bank, itself) or another bank's customer holds: 409 `key_registered`,
    the same words whoever holds it, and the bank reads none of their notes or balances after;
    the central bank cannot register a wallet's key as a participant either."""
    async def scenario(world: World) -> None:
        await register_sokha(world)
        for name, holder in (("central", CENTRAL), ("ministry", MINISTRY), ("aba", ABA),
                             ("wing", WING), ("sokha", SOKHA)):
            taken = await world.wing.post("/wallets", wallet(holder, f"{name}@wing"))
            assert (taken.status, taken.body.get("code"), taken.body.get("detail")) == (
                409, "key_registered", "this key is registered already"), name
            assert (await world.wing.get("/directory", account=f"{name}@wing")).status == 404
            if holder != WING:
                assert (await world.wing.get(f"/balances/{holder.participant}")).status == 403
                assert (await world.wing.get("/notes", owner=holder.participant)).status == 403
        as_participant = await world.central.post("/participants", {
            "name": "sokha-trading", "role": "agency", "key": SOKHA.participant})
        assert (as_participant.status, as_participant.body["code"]) == (409, "key_registered")
        again = await world.central.post("/participants", {
            "name": "wing", "role": "bank", "key": WING.participant})
        assert again.status == 201, again.body  # the same registration again changes nothing
    run(tmp_path, scenario)


def test_a_wallet_under_the_central_banks_key_shows_its_bank_nothing(tmp_path: Path) -> None:
    """A wallet row under the central bank's key, as a bank could register one before a key
    was registered once (no migration can know that key), lets that bank read nothing of the
    central bank's."""
    async def scenario(world: World) -> None:
        with world.service.engine.begin() as db:
            db.execute(text("INSERT INTO wallets (key, account, bank, display_name, role, kyc, "
                            "mcc, region) VALUES (:key, 'c@wing', 'wing', 'C', 'individual', 1, "
                            "0, '')"), {"key": CENTRAL.participant})
        assert (await world.wing.get(f"/balances/{CENTRAL.participant}")).status == 403
        assert (await world.central.get(f"/balances/{CENTRAL.participant}")).status == 200
    run(tmp_path, scenario)


def test_registrations_of_one_key_at_once_register_it_once(tmp_path: Path) -> None:
    """Two banks registering one key as their customer's and the central bank registering it
    as a participant, all at once: one of the three succeeds and the other two are 409
    `key_registered`, key after key."""
    async def scenario(world: World) -> None:
        for n in range(8):
            contested = _key(f"contested-{n}")
            answers = await asyncio.gather(
                world.aba.post("/wallets", wallet(contested, f"c{n}@aba")),
                world.wing.post("/wallets", wallet(contested, f"c{n}@wing")),
                world.central.post("/participants", {"name": f"contested-{n}", "role": "agency",
                                                     "key": contested.participant}))
            won = [a.status for a in answers if a.status < 300]
            lost = [(a.status, a.body["code"]) for a in answers if a.status >= 300]
            assert len(won) == 1 and lost == [(409, "key_registered")] * 2, answers
    run(tmp_path, scenario)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_database_keeps_a_key_registered_once(tmp_path: Path, backend: str) -> None:
    """The records alone, on both databases: a key registered as aba's wallet is refused to
    wing and as a participant, and three threads released together register one key as aba's
    wallet, as wing's and as a participant: one registration commits, the other two are
    `key_registered`, key after key."""
    url = (f"sqlite:///{tmp_path / 'central.db'}" if backend == "sqlite"
           else fresh_postgres("key_registered_once"))
    engine = open_database(url)
    records = CentralRecords(engine)

    def attempt(job: Callable[[], object], start: threading.Barrier) -> str:
        start.wait()
        try:
            job()
        except NodeError as refused:
            return refused.problem.code
        return "registered"

    def contenders(n: int) -> list[Callable[[], object]]:
        key = _key(f"contested-{n}").participant
        jobs: list[Callable[[], object]] = [
            partial(records.register_wallet, RegisterWallet(
                key=key, account=f"c{n}@{bank}", display_name="C", role="individual", kyc=1),
                bank) for bank in ("aba", "wing")]
        return [*jobs, partial(records.register, Participant(key, f"p{n}", "agency"))]

    try:
        alone = threading.Barrier(1)
        assert [attempt(job, alone) for job in contenders(99)] == [
            "registered", "key_registered", "key_registered"]
        for n in range(12):
            with ThreadPoolExecutor(3) as pool:
                outcomes = sorted(pool.map(attempt, contenders(n), [threading.Barrier(3)] * 3))
            assert outcomes == ["key_registered", "key_registered", "registered"], n
    finally:
        engine.dispose()


def test_notes_are_seen_by_owner_bank_and_central_only(tmp_path: Path) -> None:
    """Sokha's notes are visible to Sokha, to aba that registered the wallet and to the central
    bank; wing gets 403, and the same 403 for an owner that does not exist."""
    async def scenario(world: World) -> None:
        await register_sokha(world)
        note = await fund(world, 5_000)
        paid = signed_wire(aba_spends(note, [Output(SOKHA.participant, 2_000, "KHR"),
                                             Output(ABA.participant, 3_000, "KHR")]), ABA)
        posted = await world.aba.post("/transactions", {"transactions": [paid]})
        assert posted.body["outcomes"][0]["status"] == "committed", posted.body
        for caller in (world.aba, world.central, Caller(world.client, SOKHA)):
            notes = await caller.get("/notes", owner=SOKHA.participant)
            assert [n["amount_minor"] for n in notes.body["items"]] == [2_000]
        assert (await world.wing.get("/notes", owner=SOKHA.participant)).status == 403
        assert (await world.wing.get("/notes", owner=STRANGER.participant)).status == 403
        assert (await world.wing.get(f"/balances/{SOKHA.participant}")).status == 403
        history = await world.aba.get("/notes", owner=ABA.participant, include_spent="true",
                                      limit="1")
        rest = await world.aba.get("/notes", owner=ABA.participant, include_spent="true",
                                   after=history.body["next"])
        spent_by = {n["id"]: n["spent_by"] for n in history.body["items"] + rest.body["items"]}
        assert spent_by[note] == paid["id"] and len(spent_by) == 2
    run(tmp_path, scenario)


def test_a_payment_is_seen_by_its_parties_and_their_banks_alone(tmp_path: Path) -> None:
    """wing pays aba's customer Sokha: wing, Sokha (no participant: she proves her key) and
    aba, her bank, read the transaction and its body, Sokha and aba her note (not wing: what
    becomes of it is hers); the ministry gets the same 403 for them as for a transaction and a
    note that do not exist."""
    async def scenario(world: World) -> None:
        await register_sokha(world)
        await world.central.post("/reserves", {"bank": "wing", "currency": "KHR",
                                               "amount_minor": 1_000})
        issued = await world.wing.post("/issuance", {"currency": "KHR", "amount_minor": 1_000})
        paid = Transaction("transfer", (note_id(TxId(issued.body["tx_id"]), 0),),
                           (Output(SOKHA.participant, 1_000, "KHR"),), Party(), Party(),
                           int(time.time()), "wing pays sokha")
        posted = await world.wing.post("/transactions", {"transactions": [
            signed_wire(paid, WING)]})
        assert posted.body["outcomes"][0]["status"] == "committed", posted.body
        tx_id = transaction_id(paid)
        reads = (f"/transactions/{tx_id}", f"/journal/{tx_id}", f"/notes/{note_id(tx_id, 0)}")
        for caller, seen in ((world.wing, reads[:2]), (world.aba, reads),
                             (Caller(world.client, SOKHA), reads)):
            for path in seen:
                assert (await caller.get(path)).status == 200, path
        assert (await world.wing.get(reads[2])).status == 403
        missing = ("/transactions/" + "0" * 64, "/journal/" + "0" * 64, "/notes/" + "0" * 64)
        for path, absent in zip(reads, missing, strict=True):
            refused, unknown = await world.ministry.get(path), await world.ministry.get(absent)
            assert refused.status == unknown.status == 403
            assert refused.body | {"instance": ""} == unknown.body | {"instance": ""}
    run(tmp_path, scenario)


def test_statistics_count_each_banks_holdings(tmp_path: Path) -> None:
    """After an issue to aba and payments to its customer and to wing, the statistics show the
    supply, aba's holdings with its customer's, wing's, and only the central bank sees them."""
    async def scenario(world: World) -> None:
        await register_sokha(world)
        note = await fund(world, 1_000_000)
        paid = aba_spends(note, [Output(SOKHA.participant, 300_000, "KHR"),
                                 Output(ABA.participant, 700_000, "KHR")])
        then = aba_spends(note_id(transaction_id(paid), 1),
                          [Output(WING.participant, 200_000, "KHR"),
                           Output(ABA.participant, 500_000, "KHR")])
        for transaction in (paid, then):
            posted = await world.aba.post("/transactions",
                                          {"transactions": [signed_wire(transaction, ABA)]})
            assert posted.body["outcomes"][0]["status"] == "committed", posted.body
        stats = await world.central.get("/statistics")
        assert stats.body == {
            "items": [{"currency": "KHR", "token": None, "supply_minor": 1_000_000,
                       "held_by_bank": {"aba": 800_000, "wing": 200_000},
                       "held_elsewhere_minor": 0}],
            "plain_minor": {"KHR": 1_000_000}, "earmarked_minor": {}}
        assert (await world.aba.get("/statistics")).status == 403
        metrics = await world.client.get("/metrics")
        # The issue and the two payments.
        assert 'earmark_ledger_transactions_total{code="committed",status="committed"} 3.0' in (
            await metrics.text())
    run(tmp_path, scenario)


# ---- the machinery every operation shares ------------------------------------------------------


def test_a_post_is_replayed_under_its_idempotency_key(tmp_path: Path) -> None:
    """The same deposit twice under one key credits once and replays the first answer, under
    another key it credits again; the key with another body is `idempotency_key_reused`."""
    async def scenario(world: World) -> None:
        body = {"bank": "aba", "currency": "KHR", "amount_minor": 700}
        first = await world.central.post("/reserves", body, idempotency="deposit-1")
        second = await world.central.post("/reserves", body, idempotency="deposit-1")
        assert second.body == first.body and second.headers[REPLAYED_HEADER] == "true"
        assert (await world.central.get("/reserves/aba/KHR")).body["amount_minor"] == 700
        another = await world.central.post("/reserves", body, idempotency="deposit-2")
        assert another.body["amount_minor"] == 1_400
        other = await world.central.post("/reserves", body | {"amount_minor": 1},
                                         idempotency="deposit-1")
        assert (other.status, other.body["code"]) == (422, "idempotency_key_reused")
    run(tmp_path, scenario)


def test_unsigned_and_stale_requests_are_refused(tmp_path: Path) -> None:
    """No signature: 401 `auth_missing` as problem+json; a timestamp an hour old: `auth_stale`."""
    async def scenario(world: World) -> None:
        unsigned = await world.client.get("/participants")
        assert unsigned.status == 401
        assert unsigned.content_type == "application/problem+json"
        assert (await unsigned.json(content_type=None))["code"] == "auth_missing"
        stale = await world.central.post("/reserves", {"bank": "aba", "currency": "KHR",
                                                       "amount_minor": 1},
                                         now_s=time.time() - 3600)
        assert (stale.status, stale.body["code"]) == (401, "auth_stale")
    run(tmp_path, scenario, register=False)


def test_openapi_describes_every_operation_of_the_table(tmp_path: Path) -> None:
    """GET /openapi.json, unsigned, is OpenAPI 3.1.0 and has every path and method of the
    central bank's table in docs/node.md."""
    async def scenario(world: World) -> None:
        document = await (await world.client.get("/openapi.json")).json()
        assert document["openapi"] == "3.1.0"
        found = {(method, path) for path, item in document["paths"].items() for method in item}
        assert found == TABLE_PATHS
    run(tmp_path, scenario, register=False)


# ---- the intake in front of the notary ----------------------------------------------------------


class HeldNotary:
    """A stand-in notary that commits everything, holding its first batch until released."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.entered, self.release = threading.Event(), threading.Event()

    def submit_stream(self, batches: Iterable[tuple[Sequence[SignedTransaction], Any]]
                      ) -> Iterator[list[Outcome]]:
        """Each batch committed whole, once released."""
        for transactions, _ in batches:
            self.entered.set()
            self.release.wait()
            self.sizes.append(len(transactions))
            yield [Outcome(s.id, None) for s in transactions]


def _dummy(count: int) -> list[SignedTransaction]:
    made = [aba_spends(NoteId(f"{i:064x}"), [Output(WING.participant, 1, "KHR")])
            for i in range(count)]
    return [SignedTransaction(transaction_id(t), t, ()) for t in made]


def test_requests_waiting_behind_a_batch_commit_together_and_close_drains() -> None:
    """While the notary holds a first request, three more queue; released, they commit as one
    batch, each caller gets its own outcomes, the hook sees all; a request queued before close
    is still answered, one after it is refused 503."""
    async def scenario() -> None:
        notary, committed = HeldNotary(), list[SignedTransaction]()
        intake = LedgerIntake(cast(Notary, notary), committed.extend, lambda: None,
                              LedgerMetrics(CollectorRegistry()))
        intake.start()
        requests = [_dummy(1), _dummy(2), _dummy(1), _dummy(3)]
        first = asyncio.ensure_future(intake.submit(requests[0]))
        await asyncio.to_thread(notary.entered.wait)
        rest = [asyncio.ensure_future(intake.submit(r)) for r in requests[1:]]
        await asyncio.sleep(0.05)
        closing = asyncio.ensure_future(intake.close())
        await asyncio.sleep(0.05)
        notary.release.set()
        answers = await asyncio.gather(first, *rest)
        await closing
        assert notary.sizes == [1, 6]
        assert [[o.tx_id for o in a] for a in answers] == [[s.id for s in r] for r in requests]
        assert len(committed) == 7
        with pytest.raises(NodeError) as refused:
            await intake.submit(_dummy(1))
        assert refused.value.problem.status == 503
    asyncio.run(scenario())
