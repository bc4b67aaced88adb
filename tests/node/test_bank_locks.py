"""Hash-locked payments and their settlement through a commercial bank (the hub's legs).

Method: `bank_network.network` serves a central bank and the bank `aba` over real HTTP on
127.0.0.1; an FX provider is registered at the central bank and holds money paid to it by the
bank; customers pay locked notes to it through the two-step flow (raw signed calls, and the typed
`NodeClient`, which checks what it signs), the provider claims or pays locked notes with its own
`LedgerWallet`, and customers claim or refund through `POST /settlements`. Deadlines that must
pass are a few seconds ahead of the wall clock, which is the notary's.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from bank_network import (
    ABA,
    CENTRAL,
    Answer,
    Network,
    central_requests,
    key,
    network,
    open_customer,
)
from test_bank import distribute, held, pay, sign_prepared

from dsl.facts import Party
from engine.encoding import note_id
from engine.ids import TxId
from engine.keys import KeyPair
from engine.model import HashLock
from node.client import ClientError, Expected, NodeClient, check_prepared
from node.ledger_wallet import LedgerWallet
from node.messages import LockRequest, PaymentRequest, PayTo, PreparedPayment, SettlementRequest

PREIMAGE = hashlib.sha256(b"the hub's secret").digest()
DIGEST = hashlib.sha256(PREIMAGE).hexdigest()
FX = key("mekong-fx")
FX_NAME = "mekong-fx"
HOUR_S = 3_600


def run(tmp_path: Path, scenario: Callable[[Network], Awaitable[None]]) -> None:
    """Run `scenario` on a fresh network with the FX provider registered and funded."""
    async def main() -> None:
        async with network(tmp_path) as net:
            await _register_the_fx_provider(net)
            await scenario(net)
    asyncio.run(main())


async def _register_the_fx_provider(net: Network) -> None:
    """`mekong-fx` registered as an FX provider, with 200 000 KHR paid to it by the bank."""
    registered = await net.central(CENTRAL).post("/participants", {
        "name": FX_NAME, "role": "fx_provider", "key": FX.participant})
    assert registered.status == 201, registered.body
    async with NodeClient(net.central_url, ABA) as client:
        paid = await LedgerWallet(client, "aba", role="bank").pay(
            FX.participant, Party(id=FX_NAME, role="fx_provider"), 200_000, "KHR")
    assert paid.status == "committed", paid


def locked(to: dict[str, str], amount_minor: int, deadline_s: int,
           digest: str = DIGEST) -> dict[str, Any]:
    """A locked payment's request body."""
    return {"to": to, "currency": "KHR", "amount_minor": amount_minor,
            "lock": {"digest": digest, "deadline_s": deadline_s}}


async def settle(net: Network, wallet: KeyPair, note: str,
                 preimage: bytes | None) -> tuple[Answer, Answer | None]:
    """Prepare a settlement and, if prepared, sign it: the two answers."""
    body = {"note_id": note, "preimage": preimage.hex() if preimage is not None else None}
    prepared = await net.bank(wallet).post("/settlements", body)
    if prepared.status != 201:
        return prepared, None
    return prepared, await sign_prepared(net, wallet, prepared.body)


async def fx_balance(net: Network) -> int:
    """The FX provider's spendable KHR: its unspent notes that are not locked (the central
    bank's `GET /balances` counts locked notes too)."""
    answer = await net.central(FX).get("/notes", owner=FX.participant)
    assert answer.status == 200 and answer.body["next"] is None, answer.body
    return sum(n["amount_minor"] for n in answer.body["items"] if n["lock"] is None)


async def history(net: Network, wallet: KeyPair, account: str) -> list[dict[str, Any]]:
    """The customer's payments, newest first."""
    answer = await net.bank(wallet).get(f"/customers/{account}/payments")
    assert answer.status == 200, answer.body
    return list(answer.body["items"])


def test_a_locked_payment_to_an_fx_provider_is_claimed_with_the_preimage(
        tmp_path: Path) -> None:
    """A customer pays a locked note to the FX provider named by its participant name (with
    the typed client, which checks the lock it signs); the provider claims it with the
    preimage through its own wallet; the customer is debited, the provider credited, and the
    customer's history shows the payment with its lock."""
    async def scenario(net: Network) -> None:
        alice = await open_customer(net, "alice")
        await distribute(net, "alice@aba", 50_000)
        deadline_s = int(time.time()) + HOUR_S
        request = PaymentRequest(to=PayTo(participant=FX_NAME), currency="KHR",
                                 amount_minor=20_000,
                                 lock=LockRequest(digest=DIGEST, deadline_s=deadline_s))
        async with NodeClient(net.bank_url, alice) as client:
            paid = await client.pay(request)
        assert paid.status == "committed" and paid.counterparty == FX_NAME, paid
        assert paid.lock is not None and paid.lock.refund_to == alice.participant
        assert await held(net, alice, "alice@aba") == {None: 30_000}
        assert await fx_balance(net) == 200_000
        async with NodeClient(net.central_url, FX) as client:
            claimed = await LedgerWallet(client, FX_NAME, role="fx_provider").settle(
                await client.note(note_id(TxId(paid.tx_id), 0)), PREIMAGE)
        assert claimed.status == "committed", claimed
        assert await fx_balance(net) == 220_000
        assert await held(net, alice, "alice@aba") == {None: 30_000}
        [payment] = [p for p in await history(net, alice, "alice@aba") if p["kind"] == "payment"]
        assert payment["lock"] == {"digest": DIGEST, "refund_to": alice.participant,
                                   "deadline_s": deadline_s}
        by_key = await net.bank(alice).post("/payments", locked(
            {"participant": FX.participant}, 1_000, deadline_s))
        assert by_key.status == 201 and by_key.body["payee"] == FX_NAME, by_key.body
    run(tmp_path, scenario)


def test_the_client_refuses_a_lock_other_than_asked(tmp_path: Path) -> None:
    """The typed client's check refuses a prepared payment whose payee's note is locked other
    than asked (another refund party) or not at all, and accepts the one asked."""
    async def scenario(net: Network) -> None:
        alice = await open_customer(net, "alice")
        await distribute(net, "alice@aba", 10_000)
        deadline_s = int(time.time()) + HOUR_S
        prepared = await net.bank(alice).post("/payments", locked(
            {"participant": FX_NAME}, 1_000, deadline_s))
        assert prepared.status == 201, prepared.body
        shown = PreparedPayment.model_validate(prepared.body)
        asked = HashLock(DIGEST, alice.participant, deadline_s)
        check_prepared(shown, Expected(1_000, "KHR", None, alice.participant, lock=asked))
        for other in (HashLock(DIGEST, FX.participant, deadline_s), None):
            with pytest.raises(ClientError) as refused:
                check_prepared(shown, Expected(1_000, "KHR", None, alice.participant,
                                               lock=other))
            assert refused.value.code == "prepared_payment_mismatch"
            assert "locked" in refused.value.detail
    run(tmp_path, scenario)


def test_an_unclaimed_locked_payment_is_refunded_after_its_deadline(tmp_path: Path) -> None:
    """Nobody claims a locked payment: before its deadline the payer's refund is refused, and
    another customer and a stranger get 403; after it the payer refunds through the bank (no
    limit applies: the whole tier-1 limit was already spent) and has the money back; a second
    refund is refused by the bank as spent."""
    async def scenario(net: Network) -> None:
        alice = await open_customer(net, "alice")
        bob = await open_customer(net, "bob")
        await distribute(net, "alice@aba", 60_000)
        deadline_s = int(time.time()) + 2
        _, paid = await pay(net, alice, locked({"participant": FX_NAME}, 60_000, deadline_s))
        assert paid.status == 200 and paid.body["status"] == "committed", paid.body
        note = note_id(TxId(paid.body["tx_id"]), 0)
        assert await held(net, alice, "alice@aba") == {}
        early, _ = await settle(net, alice, note, None)
        assert (early.status, early.body["code"]) == (422, "lock_deadline_not_reached")
        for who, preimage in ((bob, None), (key("stranger"), None), (alice, PREIMAGE)):
            denied, _ = await settle(net, who, note, preimage)
            assert (denied.status, denied.body["code"]) == (403, "forbidden"), denied.body
        await asyncio.sleep(max(0.0, deadline_s + 1 - time.time()))
        prepared, refunded = await settle(net, alice, note, None)
        assert prepared.body["debit_minor"] == 0 and refunded is not None
        assert refunded.status == 200 and refunded.body["status"] == "committed", refunded.body
        assert refunded.body["kind"] == "refund"
        assert await held(net, alice, "alice@aba") == {None: 60_000}
        again, _ = await settle(net, alice, note, None)
        assert (again.status, again.body["code"]) == (409, "note_spent"), again.body
        kinds = [p["kind"] for p in await history(net, alice, "alice@aba")]
        assert kinds.count("refund") == 1 and "payment" in kinds
    run(tmp_path, scenario)


def test_a_merchant_claims_a_locked_note_through_its_bank(tmp_path: Path) -> None:
    """The FX provider pays a merchant customer a locked note; the merchant's balances show it
    as locked, not spendable; a wrong preimage is refused with the ledger's code, another
    customer or a stranger gets 403; the right preimage claims it (above the merchant's daily
    limit: a claim is not limited) with the typed client, and a second claim is 409."""
    async def scenario(net: Network) -> None:
        shop = await open_customer(net, "shop", role="merchant", mcc=5411)
        bob = await open_customer(net, "bob")
        note = await _locked_to(net, shop, 70_000)
        balances = await net.bank(shop).get("/customers/shop@aba/balances")
        [khr] = balances.body["balances"]
        assert (khr["amount_minor"], khr["notes"], khr["locked_minor"]) == (0, 0, 70_000)
        _, wrong = await settle(net, shop, note, hashlib.sha256(b"a guess").digest())
        assert wrong is not None and (wrong.status, wrong.body["code"]) == (
            422, "not_authorised"), wrong.body
        for who in (bob, key("stranger")):
            denied, _ = await settle(net, who, note, PREIMAGE)
            assert (denied.status, denied.body["code"]) == (403, "forbidden"), denied.body
        async with NodeClient(net.bank_url, shop) as client:
            claimed = await client.settle(SettlementRequest(note_id=note,
                                                            preimage=PREIMAGE.hex()))
        assert claimed.status == "committed" and claimed.kind == "claim", claimed
        assert await held(net, shop, "shop@aba") == {None: 70_000}
        again, _ = await settle(net, shop, note, PREIMAGE)
        assert (again.status, again.body["code"]) == (409, "note_spent"), again.body
    run(tmp_path, scenario)


async def _locked_to(net: Network, wallet: KeyPair, amount_minor: int) -> str:
    """The FX provider pays `wallet` a note locked under `DIGEST` for an hour; its id."""
    async with NodeClient(net.central_url, FX) as client:
        paid = await LedgerWallet(client, FX_NAME, role="fx_provider").pay(
            wallet.participant, Party(),  # the ledger reads the registration
            amount_minor, "KHR",
            lock=HashLock(DIGEST, FX.participant, int(time.time()) + HOUR_S))
    assert paid.status == "committed", paid
    return note_id(TxId(paid.tx_id), 0)


def test_locked_payments_and_settlements_refused_up_front(tmp_path: Path) -> None:
    """A past deadline, one beyond 24 h, a malformed digest and an unknown participant are
    refused when preparing; a locked payment above the daily limit is refused at signing like
    any payment; settling a note that is not locked is refused."""
    async def scenario(net: Network) -> None:
        alice = await open_customer(net, "alice")
        await distribute(net, "alice@aba", 100_000)
        now_s = int(time.time())
        to_fx = {"participant": FX_NAME}
        for body, status, code in (
                (locked(to_fx, 1_000, now_s - 1), 422, "lock_deadline_passed"),
                (locked(to_fx, 1_000, now_s + 25 * HOUR_S), 422, "lock_deadline_too_far"),
                (locked(to_fx, 1_000, now_s + HOUR_S, digest="AB" * 32), 400,
                 "invalid_request"),
                (locked({"participant": "nobody-fx"}, 1_000, now_s + HOUR_S), 422,
                 "payee_unknown")):
            refused = await net.bank(alice).post("/payments", body)
            assert (refused.status, refused.body["code"]) == (status, code), body
        _, over = await pay(net, alice, locked(to_fx, 70_000, now_s + HOUR_S))
        assert (over.status, over.body["code"]) == (422, "kyc_limit_exceeded"), over.body
        assert await held(net, alice, "alice@aba") == {None: 100_000}
        notes = await net.central(ABA).get("/notes", owner=alice.participant)
        plain = notes.body["items"][0]["id"]
        not_locked, _ = await settle(net, alice, plain, PREIMAGE)
        assert (not_locked.status, not_locked.body["code"]) == (422, "note_not_locked")
    run(tmp_path, scenario)


def test_a_participant_found_once_is_not_looked_up_again(tmp_path: Path) -> None:
    """The central bank's list of participants is read once for a participant the bank pays
    again and again (a registration never changes), while one not found is looked up anew: a
    participant registered after a refusal is then found."""
    async def participant_reads(net: Network) -> float:
        return await central_requests(net, "GET", "/participants")

    async def scenario(net: Network) -> None:
        alice = await open_customer(net, "alice")
        for _ in range(5):  # a note for each payment prepared (a prepared payment holds one)
            await distribute(net, "alice@aba", 10_000)
        deadline_s = int(time.time()) + HOUR_S
        before = await participant_reads(net)
        for _ in range(3):
            prepared = await net.bank(alice).post("/payments", locked(
                {"participant": FX_NAME}, 1_000, deadline_s))
            assert prepared.status == 201, prepared.body
        assert await participant_reads(net) == before + 1
        late = {"participant": "late-fx"}
        refused = await net.bank(alice).post("/payments", locked(late, 1_000, deadline_s))
        assert (refused.status, refused.body["code"]) == (422, "payee_unknown")
        registered = await net.central(CENTRAL).post("/participants", {
            "name": "late-fx", "role": "fx_provider", "key": key("late-fx").participant})
        assert registered.status == 201, registered.body
        found = await net.bank(alice).post("/payments", locked(late, 1_000, deadline_s))
        assert found.status == 201, found.body
    run(tmp_path, scenario)
