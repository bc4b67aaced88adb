"""The commercial bank service against a real in-process central bank.

Method: `bank_network.network` serves a central bank and the bank `aba`; customers are opened
by the bank's operator, funded by distributions of the bank's issued money, and pay each other
through the two-step prepare/sign flow, signing transaction ids with their own wallet keys.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from bank_network import ABA, CENTRAL, MINISTRY, Answer, Network, key, network, open_customer

from bridges.qr import QrRequest, encode
from dsl.facts import Party
from engine.encoding import signing_bytes
from engine.ids import ContractHash, TxId
from engine.keys import KeyPair
from engine.model import Note, Output, TokenRef, Transaction
from engine.validate import created_notes
from engine.wallet import sign
from node import bank_payments
from node.central_link import CentralClient
from node.errors import NodeError
from node.messages import NoteWire, PayeeWire, RegisterWallet
from node.wire import note_from_wire, signed_to_wire

CONTRACT = Path(__file__).parents[2] / "contracts" / "health_benefit.earmark"


def test_an_expired_preparation_is_refused_and_frees_its_notes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A payment signed after its preparation expired is refused (also when retried), and the
    notes it held can pay another payment."""
    async def scenario(net: Network) -> None:
        alice = await open_customer(net, "alice")
        await open_customer(net, "bob")
        await distribute(net, "alice@aba", 20_000)
        everything = {"to": {"account": "bob@aba"}, "currency": "KHR", "amount_minor": 20_000}
        prepared = await net.bank(alice).post("/payments", everything)
        monkeypatch.setattr(bank_payments, "PREPARED_TTL_S", -1)
        for _ in range(2):
            late = await sign_prepared(net, alice, prepared.body)
            assert (late.status, late.body["code"]) == (422, "payment_expired"), late.body
        monkeypatch.undo()
        _, paid = await pay(net, alice, everything)
        assert paid.body["status"] == "committed", paid.body
    run(tmp_path, scenario)


def run(tmp_path: Path, scenario: Callable[[Network], Awaitable[None]]) -> None:
    """Run `scenario` on a fresh network."""
    async def main() -> None:
        async with network(tmp_path) as net:
            await scenario(net)
    asyncio.run(main())


async def distribute(net: Network, account: str, amount_minor: int,
                     currency: str = "KHR") -> Answer:
    """The operator moves bank money into a wallet."""
    return await net.bank(ABA).post("/distributions", {"account": account, "currency": currency,
                                                       "amount_minor": amount_minor})


async def pay(net: Network, wallet: KeyPair, body: dict[str, Any],
              path: str = "/payments") -> tuple[Answer, Answer]:
    """Prepare a payment and sign it: the two answers."""
    prepared = await net.bank(wallet).post(path, body)
    assert prepared.status == 201, prepared.body
    signed = await sign_prepared(net, wallet, prepared.body)
    return prepared, signed


async def sign_prepared(net: Network, wallet: KeyPair, prepared: dict[str, Any],
                        idempotency_key: str = "") -> Answer:
    """The customer signs the prepared transaction's id."""
    signature = wallet.sign(signing_bytes(TxId(prepared["tx_id"]))).hex()
    return await net.bank(wallet).post(f"/payments/{prepared['payment_id']}/signature",
                                       {"signature": signature}, idempotency_key)


async def held(net: Network, wallet: KeyPair, account: str) -> dict[str | None, int]:
    """A wallet's balances by token (None: plain), read through the bank."""
    answer = await net.bank(wallet).get(f"/customers/{account}/balances")
    assert answer.status == 200, answer.body
    return {(b["token"] or {}).get("token"): b["amount_minor"] for b in answer.body["balances"]}


def test_customers_and_who_may_see_them(tmp_path: Path) -> None:
    """Opening customers, duplicates refused with 409, and every read limited to the operator
    and the customer: others get 403 whether the account exists or not."""
    async def scenario(net: Network) -> None:
        operator = net.bank(ABA)
        alice = await open_customer(net, "alice", phone="+85512000001")
        bob = await open_customer(net, "bob")
        for body, code in (
                ({"name": "alice", "key": key("other").participant}, "account_taken"),
                ({"name": "carol", "key": key("carol").participant, "phone": "+85512000001"},
                 "phone_taken"),
                ({"name": "dave", "key": alice.participant}, "key_taken")):
            taken = await operator.post("/customers", {"display_name": "X", **body})
            assert (taken.status, taken.body["code"]) == (409, code)
        assert (await operator.get("/customers/carol@aba")).status == 404
        listed = await operator.get("/customers", limit=1)
        assert [c["account"] for c in listed.body["items"]] == ["alice@aba"]
        rest = await operator.get("/customers", after=listed.body["next"])
        assert [c["account"] for c in rest.body["items"]] == ["bob@aba"]
        as_alice = net.bank(alice)
        assert (await as_alice.get("/customers/alice@aba")).body["phone"] == "+85512000001"
        for path in ("/customers/bob@aba", "/customers/nobody@aba", "/customers/x@acleda",
                     "/customers/bob@aba/payments", "/customers/bob@aba/balances",
                     "/customers", "/reports/payments.csv"):
            denied = await as_alice.get(path)
            assert (denied.status, denied.body["code"]) == (403, "forbidden"), path
        for path, body in (("/distributions", {"account": "alice@aba", "currency": "KHR",
                                               "amount_minor": 1}),
                           ("/customers/alice@aba/kyc", {"kyc_tier": 3}),
                           ("/customers", {"name": "eve", "display_name": "Eve",
                                           "key": key("eve").participant})):
            assert (await as_alice.post(path, body)).status == 403, path
        assert (await operator.post("/payments", {
            "to": {"account": "bob@aba"}, "currency": "KHR", "amount_minor": 1})).status == 403
        assert (await net.bank(bob).get("/customers/bob@aba")).status == 200
    run(tmp_path, scenario)


def test_a_key_registered_otherwise_opens_no_customer(tmp_path: Path) -> None:
    """The operator opens no customer under a key the central bank registered otherwise (an FX
    provider's, the ministry's, the central bank's, the bank's own, another bank's customer's):
    the central bank's 409 `key_registered` comes back as it is, nothing is recorded, and each
    account opens afterwards with a key of its own."""
    async def scenario(net: Network) -> None:
        as_central, wing, carol = net.central(CENTRAL), key("wing"), key("carol")
        for name, role, holder in (("acleda-fx", "fx_provider", key("acleda-fx")),
                                   ("ministry-of-health", "agency", MINISTRY),
                                   ("wing", "bank", wing)):
            registered = await as_central.post("/participants", {
                "name": name, "role": role, "key": holder.participant})
            assert registered.status == 201, registered.body
        carol_at_wing = await net.central(wing).post("/wallets", {
            "key": carol.participant, "account": "carol@wing", "display_name": "Carol",
            "role": "individual", "kyc": 1})
        assert carol_at_wing.status == 200, carol_at_wing.body
        operator = net.bank(ABA)
        holders = {"fx-desk": key("acleda-fx"), "ministry-desk": MINISTRY,
                   "central-desk": CENTRAL, "aba-desk": ABA, "carol-desk": carol}
        for name, holder in holders.items():
            refused = await operator.post("/customers", {"name": name, "display_name": "X",
                                                         "key": holder.participant})
            assert (refused.status, refused.body["code"]) == (409, "key_registered"), name
            assert (await operator.get(f"/customers/{name}@aba")).status == 404
        assert (await operator.get("/customers")).body["items"] == []
        for name in holders:
            await open_customer(net, name)
    run(tmp_path, scenario)


def test_a_duplicate_customer_changes_nothing_at_the_central_bank(tmp_path: Path) -> None:
    """Opening a customer under a key or a phone of one already open is refused before the
    wallet is registered centrally: the central directory keeps the first customer's."""
    async def scenario(net: Network) -> None:
        alice = await open_customer(net, "alice", phone="+85512000001")
        for body, code in (({"name": "dave", "key": alice.participant}, "key_taken"),
                           ({"name": "erin", "key": key("erin").participant,
                             "phone": "+85512000001"}, "phone_taken")):
            taken = await net.bank(ABA).post("/customers", {"display_name": "X", **body})
            assert (taken.status, taken.body["code"]) == (409, code)
        as_aba = net.central(ABA)
        assert (await as_aba.get("/directory", account="dave@aba")).status == 404
        assert (await as_aba.get("/directory", account="erin@aba")).status == 404
        kept = await as_aba.get("/directory", phone="+85512000001")
        assert (kept.body["account"], kept.body["key"]) == ("alice@aba", alice.participant)
    run(tmp_path, scenario)


def test_a_customer_is_recorded_once_the_central_bank_took_her_wallet(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While the central bank registers a new wallet, the bank has no such customer (her key
    prepares nothing, the operator finds no account); once the central bank answers, she is
    recorded. A KYC tier the central bank does not take is not recorded either."""
    entered, release = asyncio.Event(), asyncio.Event()
    registering = CentralClient.register_wallet

    async def held(self: CentralClient, wallet: RegisterWallet) -> PayeeWire:
        entered.set()
        await release.wait()
        return await registering(self, wallet)

    async def scenario(net: Network) -> None:
        alice, operator = key("alice"), net.bank(ABA)
        monkeypatch.setattr(CentralClient, "register_wallet", held)
        opening = asyncio.ensure_future(operator.post("/customers", {
            "name": "alice", "display_name": "Alice", "key": alice.participant}))
        await entered.wait()
        assert (await operator.get("/customers/alice@aba")).status == 404
        assert (await net.bank(alice).post("/cash-outs", {"currency": "KHR",
                                                          "amount_minor": 1})).status == 403
        release.set()
        assert (await opening).status == 201
        assert (await operator.get("/customers/alice@aba")).body["kyc_tier"] == 1

        async def unreachable(self: CentralClient, wallet: RegisterWallet) -> PayeeWire:
            raise NodeError(502, "central_unavailable", "Central bank unavailable", "down")
        monkeypatch.setattr(CentralClient, "register_wallet", unreachable)
        raised = await operator.post("/customers/alice@aba/kyc", {"kyc_tier": 3})
        assert (raised.status, raised.body["code"]) == (502, "central_unavailable")
        assert (await operator.get("/customers/alice@aba")).body["kyc_tier"] == 1
    run(tmp_path, scenario)


def test_payments_by_account_phone_and_qr(tmp_path: Path) -> None:
    """A customer pays another by account id, by phone and by a KHQR merchant code; a retried
    signature answers the recorded payment; history (with incoming money) and CSV show them."""
    async def scenario(net: Network) -> None:
        alice = await open_customer(net, "alice")
        bob = await open_customer(net, "bob", phone="+85512000002", display_name="Bob Sok")
        await open_customer(net, "shop", role="merchant", mcc=5411, display_name="Corner Shop")
        funded = await distribute(net, "alice@aba", 50_000)
        assert funded.status == 200 and funded.body["status"] == "committed", funded.body
        prepared, paid = await pay(net, alice, {"to": {"account": "bob@aba"}, "currency": "KHR",
                                                "amount_minor": 10_000})
        assert prepared.body["payee"] == "B** S**" and prepared.body["debit_minor"] == 10_000
        assert prepared.body["transaction"]["operation"] == "transfer"
        assert paid.status == 200 and paid.body["status"] == "committed", paid.body
        again = await sign_prepared(net, alice, prepared.body, "retry-1")
        replayed = await sign_prepared(net, alice, prepared.body, "retry-1")
        assert again.status == 200 and again.body == replayed.body == paid.body
        assert replayed.headers.get("Idempotent-Replayed") == "true"
        _, by_phone = await pay(net, alice, {"to": {"phone": "+85512000002"},
                                             "currency": "KHR", "amount_minor": 5_000})
        assert by_phone.body["counterparty"] == "bob@aba"
        qr = encode(QrRequest(scheme="khqr", merchant_name="Corner Shop", account={
            "bakong_account_id": "shop@aba", "merchant_id": "shop-1", "acquiring_bank": "ABA"}))
        by_qr, bought = await pay(net, alice, {"to": {"qr": qr}, "currency": "KHR",
                                               "amount_minor": 2_500})
        assert by_qr.body["transaction"]["operation"] == "purchase"
        dollars = encode(QrRequest(scheme="khqr", merchant_name="Corner Shop", currency="USD",
                                   account={"bakong_account_id": "shop@aba"}))
        mismatch = await net.bank(alice).post("/payments", {"to": {"qr": dollars},
                                                            "currency": "KHR", "amount_minor": 1})
        assert (mismatch.status, mismatch.body["code"]) == (422, "qr_mismatch")
        assert bought.body["counterparty"] == "shop@aba"
        assert await held(net, alice, "alice@aba") == {None: 32_500}
        assert await held(net, bob, "bob@aba") == {None: 15_000}
        await _history_and_report(net, alice, bob)
        metrics = (await net.bank(ABA).get("/metrics")).body
        assert 'earmark_bank_payments_total{stage="committed"} 3.0' in metrics
        assert "earmark_bank_forwarded_batch_size_count 3.0" in metrics
    run(tmp_path, scenario)


async def _history_and_report(net: Network, alice: KeyPair, bob: KeyPair) -> None:
    first = await net.bank(alice).get("/customers/alice@aba/payments", limit=2)
    rest = await net.bank(alice).get("/customers/alice@aba/payments",
                                     after=first.body["next"])
    kinds = [p["kind"] for p in first.body["items"] + rest.body["items"]]
    assert sorted(kinds) == ["distribution", "payment", "payment", "payment"]
    assert rest.body["next"] is None
    incoming = (await net.bank(bob).get("/customers/bob@aba/payments")).body["items"]
    assert sorted((p["kind"], p["counterparty"], p["amount_minor"]) for p in incoming) == [
        ("incoming", "alice@aba", 5_000), ("incoming", "alice@aba", 10_000)]
    report = await net.bank(ABA).get("/reports/payments.csv")
    assert report.status == 200 and report.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(report.body)))
    assert len(rows) == 4 and {r["status"] for r in rows} == {"committed"}


def test_limits_cash_out_and_bad_signatures(tmp_path: Path) -> None:
    """The tier-1 daily limit refuses a payment before it is forwarded; after the operator
    raises the tier the same prepared payment goes through; a cash-out pays the bank; a
    signature by another key and an unknown payee are refused."""
    async def scenario(net: Network) -> None:
        alice = await open_customer(net, "alice")
        await open_customer(net, "bob")
        await distribute(net, "alice@aba", 100_000)
        _, first = await pay(net, alice, {"to": {"account": "bob@aba"}, "currency": "KHR",
                                          "amount_minor": 40_000})
        assert first.body["status"] == "committed"
        prepared, over = await pay(net, alice, {"to": {"account": "bob@aba"},
                                                "currency": "KHR", "amount_minor": 30_000})
        assert (over.status, over.body["code"]) == (422, "kyc_limit_exceeded"), over.body
        assert await held(net, alice, "alice@aba") == {None: 60_000}
        forged = await sign_prepared(net, key("mallory"), prepared.body)
        assert forged.status == 403
        wrong = await net.bank(alice).post(f"/payments/{prepared.body['payment_id']}/signature",
                                           {"signature": "00" * 64})
        assert (wrong.status, wrong.body["code"]) == (422, "bad_signature")
        raised = await net.bank(ABA).post("/customers/alice@aba/kyc", {"kyc_tier": 2})
        assert raised.body["kyc_tier"] == 2
        allowed = await sign_prepared(net, alice, prepared.body)
        assert allowed.status == 200 and allowed.body["status"] == "committed", allowed.body
        cash_out, cashed = await pay(net, alice, {"currency": "KHR", "amount_minor": 5_000},
                                     "/cash-outs")
        assert cash_out.body["transaction"]["operation"] == "cash_out"
        assert cashed.body["kind"] == "cash_out" and cashed.body["status"] == "committed"
        assert await held(net, alice, "alice@aba") == {None: 25_000}
        unknown = await net.bank(alice).post("/payments", {
            "to": {"account": "ghost@aba"}, "currency": "KHR", "amount_minor": 1})
        assert (unknown.status, unknown.body["code"]) == (422, "payee_unknown")
        broke = await net.bank(alice).post("/payments", {
            "to": {"account": "bob@aba"}, "currency": "KHR", "amount_minor": 999_999})
        assert (broke.status, broke.body["code"]) == (422, "insufficient_funds")
    run(tmp_path, scenario)


def test_a_contract_refusal_names_its_rule(tmp_path: Path) -> None:
    """Health-benefit money: a transfer to another person is refused by the contract's `deny
    transfer` rule, named with its reason, and recorded so (a retry answers the same refusal);
    a grocery purchase is refused (no rule allows it); a clinic purchase commits and the clinic
    receives plain money, as `release on purchase` says."""
    async def scenario(net: Network) -> None:
        alice = await open_customer(net, "alice")
        await open_customer(net, "bob")
        await open_customer(net, "grocer", role="merchant", mcc=5411)
        clinic = await open_customer(net, "clinic", role="merchant", mcc=8062)
        health = await _health_money_for(net, "alice@aba", alice)
        gift = {"to": {"account": "bob@aba"}, "currency": "KZT", "amount_minor": 3_000,
                "token": health}
        prepared, refused = await pay(net, alice, gift)
        assert (refused.status, refused.body["code"]) == (422, "purpose_not_allowed")
        assert refused.body["rule"]["contract"] == "health_benefit", refused.body
        assert refused.body["reason"] == "benefit money cannot be sent to another person"
        retried = await sign_prepared(net, alice, prepared.body)
        assert retried.status == 422 and retried.body["rule"] == refused.body["rule"]
        _, grocery = await pay(net, alice, {**gift, "to": {"account": "grocer@aba"}})
        assert (grocery.status, grocery.body["code"]) == (422, "purpose_not_allowed")
        _, visit = await pay(net, alice, {**gift, "to": {"account": "clinic@aba"}})
        assert visit.status == 200 and visit.body["status"] == "committed", visit.body
        assert await held(net, clinic, "clinic@aba") == {None: 3_000}
        assert await held(net, alice, "alice@aba") == {"HEALTH": 97_000}
        history = (await net.bank(alice).get("/customers/alice@aba/payments")).body["items"]
        assert [p["status"] for p in history if p["kind"] == "payment"].count("refused") == 2
    run(tmp_path, scenario)


async def _health_money_for(net: Network, account: str, wallet: KeyPair) -> dict[str, str]:
    """The ministry deploys health_benefit, is paid 100 000 KZT by the bank, labels it HEALTH
    and distributes it to the wallet; returns the token."""
    registered = await net.central(CENTRAL).post("/participants", {
        "name": "ministry-of-health", "role": "agency", "key": MINISTRY.participant})
    assert registered.status == 201, registered.body
    deployed = await net.central(MINISTRY).post("/contracts",
                                                {"source": CONTRACT.read_text()})
    assert deployed.status == 201, deployed.body
    health = TokenRef(ContractHash(deployed.body["hash"]), "HEALTH")
    agency = Party("ministry-of-health", "agency")
    bank_notes = await net.central(ABA).get("/notes", owner=ABA.participant, currency="KZT")
    bank_note = note_from_wire(NoteWire.model_validate(bank_notes.body["items"][0]))
    paid = await _submit(net, ABA, "transfer", [bank_note],
                         to=Output(MINISTRY.participant, 100_000, "KZT"),
                         sender=Party("aba", "bank"), receiver=agency)
    labelled = await _submit(net, MINISTRY, "label", paid,
                             to=Output(MINISTRY.participant, 100_000, "KZT", health),
                             sender=agency, receiver=agency)
    await _submit(net, MINISTRY, "distribute", labelled,
                  to=Output(wallet.participant, 100_000, "KZT", health), sender=agency,
                  receiver=Party(account, "individual", 1, "aba"))
    return {"contract": health.contract, "token": health.token}


async def _submit(net: Network, payer: KeyPair, operation: str, notes: list[Note], *,
                  to: Output, sender: Party, receiver: Party) -> list[Note]:
    """`payer` spends `notes` (change back in the notes' money), signs and posts; the notes
    created for `to.owner`."""
    change = sum(note.amount_minor for note in notes) - to.amount_minor
    outputs = (to, *([Output(payer.participant, change, to.currency, notes[0].token)]
                     if change else []))
    transaction = Transaction(operation, tuple(n.id for n in notes), outputs, sender, receiver,
                              int(time.time()), str(time.time_ns()))
    signed = sign(transaction, (payer,))
    answer = await net.central(payer).post("/transactions", {
        "transactions": [signed_to_wire(signed).model_dump()]})
    assert answer.body["outcomes"][0]["status"] == "committed", answer.body
    return [n for n in created_notes(signed.id, transaction, notes) if n.owner == to.owner]


def test_openapi_has_exactly_the_operations_of_the_docs_table(tmp_path: Path) -> None:
    """The bank's /openapi.json lists every path and method of the "Commercial bank API"
    table in docs/node.md, and no other."""
    docs = (Path(__file__).parents[2] / "docs" / "node.md").read_text(encoding="utf-8")
    section = docs.split("## Commercial bank API")[1].split("\n## ")[0]
    table = {(method.lower(), path) for method, path in
             re.findall(r"^\| `(GET|POST) (\S+)`", section, flags=re.MULTILINE)}
    assert len(table) == 12

    async def scenario(net: Network) -> None:
        document = (await net.bank(ABA).get("/openapi.json")).body
        found = {(method, path) for path, item in document["paths"].items() for method in item}
        assert found == table
    run(tmp_path, scenario)
