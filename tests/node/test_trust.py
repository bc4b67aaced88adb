"""The trust review's first finding, through real services: a customer cannot move her money
past her bank by having a participant post what she signed alone.

Method: a central bank and the bank `aba` in-process (`bank_network`); the customer's own
transactions are built from her notes as the central bank lists them to her bank, signed by her
alone (or stating facts of her choosing), and posted to the central bank's `POST /transactions`
by a registered agency. Each must be refused with the ledger's code and leave her balance as it
was; her bank's own route stays the way her money moves.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bank_network import ABA, CENTRAL, MINISTRY, Network, key, network, open_customer

from dsl.facts import Party
from engine.encoding import signing_bytes, to_wire, transaction_id
from engine.ids import NoteId, ParticipantId, TxId
from engine.keys import KeyPair
from engine.model import NO_FACTS, Output, Transaction


def run(tmp_path: Path, scenario: Callable[[Network], Awaitable[None]]) -> None:
    """Run `scenario` on a fresh network with the ministry registered as an agency."""
    async def main() -> None:
        async with network(tmp_path) as net:
            registered = await net.central(CENTRAL).post("/participants", {
                "name": "ministry-of-health", "role": "agency", "key": MINISTRY.participant})
            assert registered.status == 201, registered.body
            await scenario(net)
    asyncio.run(main())


async def _notes_of(net: Network, owner: KeyPair) -> list[dict[str, Any]]:
    listed = await net.central(ABA).get("/notes", owner=owner.participant)
    assert listed.status == 200, listed.body
    return list(listed.body["items"])


def _signed(transaction: Transaction, *keys: KeyPair) -> dict[str, Any]:
    tx_id = transaction_id(transaction)
    return {"id": tx_id, "transaction": to_wire(transaction),
            "signatures": [{"signer": k.participant,
                            "signature": k.sign(signing_bytes(tx_id)).hex()} for k in keys]}


async def _post_as_ministry(net: Network, signed: dict[str, Any]) -> dict[str, Any]:
    answer = await net.central(MINISTRY).post("/transactions", {"transactions": [signed]})
    assert answer.status == 200, answer.body
    [outcome] = answer.body["outcomes"]
    return dict(outcome)


def test_a_customer_cannot_move_plain_money_past_her_banks_refusal(tmp_path: Path) -> None:
    """A tier-0 customer is refused `kyc_limit_exceeded` by her bank; the same transfer signed
    by her alone and posted by an agency is `not_authorised`, whatever she states of herself;
    her balance is unchanged."""
    async def scenario(net: Network) -> None:
        alice = await open_customer(net, "alice", kyc_tier=0)
        bob = await open_customer(net, "bob")
        given = await net.bank(ABA).post("/distributions", {
            "account": "alice@aba", "currency": "KHR", "amount_minor": 9_000_000})
        assert given.status == 200, given.body
        prepared = await net.bank(alice).post("/payments", {
            "to": {"account": "bob@aba"}, "currency": "KHR", "amount_minor": 9_000_000})
        assert prepared.status == 201, prepared.body
        signature = alice.sign(signing_bytes(TxId(prepared.body["tx_id"]))).hex()
        refused = await net.bank(alice).post(
            f"/payments/{prepared.body['payment_id']}/signature", {"signature": signature})
        assert (refused.status, refused.body["code"]) == (422, "kyc_limit_exceeded"), refused.body
        [note] = await _notes_of(net, alice)
        for stated in (NO_FACTS, Party("alice@aba", "agency"), Party("alice@aba", "bank")):
            transfer = Transaction("transfer", (NoteId(note["id"]),), (
                Output(bob.participant, note["amount_minor"], "KHR"),), stated, NO_FACTS,
                int(time.time()), f"past-the-bank-{stated.role}")
            outcome = await _post_as_ministry(net, _signed(transfer, alice))
            assert (outcome["status"], outcome["code"]) == ("refused", "not_authorised"), outcome
        assert [n["amount_minor"] for n in await _notes_of(net, alice)] == [9_000_000]
        assert await _notes_of(net, bob) == []
    run(tmp_path, scenario)


def test_a_transaction_stating_facts_other_than_registered_is_refused(tmp_path: Path) -> None:
    """Even with her bank's signature, a transfer stating another KYC tier for its sender or
    another MCC for its receiver is `facts_not_attested`; stating none commits."""
    async def scenario(net: Network) -> None:
        alice = await open_customer(net, "alice", kyc_tier=3)
        shop = await open_customer(net, "shop", role="merchant", mcc=5411)
        given = await net.bank(ABA).post("/distributions", {
            "account": "alice@aba", "currency": "KHR", "amount_minor": 50_000})
        assert given.status == 200, given.body
        [note] = await _notes_of(net, alice)

        def transfer(sender: Party, receiver: Party, nonce: str) -> Transaction:
            return Transaction("purchase", (NoteId(note["id"]),), (
                Output(shop.participant, 50_000, "KHR"),), sender, receiver,
                int(time.time()), nonce)

        lies = ((Party("alice@aba", "individual", 1, "aba"), NO_FACTS),
                (NO_FACTS, Party("shop@aba", "merchant", 1, "aba", mcc=5912)))
        for index, (sender, receiver) in enumerate(lies):
            outcome = await _post_as_ministry(net, _signed(
                transfer(sender, receiver, f"lie-{index}"), alice, ABA))
            assert (outcome["status"], outcome["code"]) == ("refused", "facts_not_attested"), (
                outcome)
        honest = await _post_as_ministry(net, _signed(transfer(NO_FACTS, NO_FACTS, "honest"),
                                                      alice, ABA))
        assert honest["status"] == "committed", honest
    run(tmp_path, scenario)


def test_money_is_never_sent_to_a_key_registered_nowhere(tmp_path: Path) -> None:
    """The bank's own transfer to a fresh key is `party_unregistered`: no bearer money outside
    the two tiers."""
    async def scenario(net: Network) -> None:
        [note] = [n for n in await _notes_of(net, ABA) if n["currency"] == "KHR"]
        stranger = ParticipantId(key("stranger").participant)
        transfer = Transaction("transfer", (NoteId(note["id"]),), (
            Output(stranger, note["amount_minor"], "KHR"),), NO_FACTS, NO_FACTS,
            int(time.time()), "to-nowhere")
        answer = await net.central(ABA).post("/transactions",
                                             {"transactions": [_signed(transfer, ABA)]})
        [outcome] = answer.body["outcomes"]
        assert (outcome["status"], outcome["code"]) == ("refused", "party_unregistered"), outcome
    run(tmp_path, scenario)


def test_a_tier_raised_by_the_bank_is_what_the_ledger_reads_next(tmp_path: Path) -> None:
    """The notary caches registrations: after the bank raises Alice's tier, a transfer stating
    the new tier commits and one stating the old is `facts_not_attested`."""
    async def scenario(net: Network) -> None:
        alice = await open_customer(net, "alice", kyc_tier=1)
        bob = await open_customer(net, "bob")
        given = await net.bank(ABA).post("/distributions", {
            "account": "alice@aba", "currency": "KHR", "amount_minor": 30_000})
        assert given.status == 200, given.body

        async def transfer(kyc: int, nonce: str) -> dict[str, Any]:
            [note] = await _notes_of(net, alice)
            stated = Party("alice@aba", "individual", kyc, "aba")
            return await _post_as_ministry(net, _signed(Transaction(
                "transfer", (NoteId(note["id"]),), (
                    Output(bob.participant, 1_000, "KHR"),
                    Output(alice.participant, note["amount_minor"] - 1_000, "KHR")),
                stated, NO_FACTS, int(time.time()), nonce), alice, ABA))

        assert (await transfer(1, "at-tier-1"))["status"] == "committed"
        raised = await net.bank(ABA).post("/customers/alice@aba/kyc", {"kyc_tier": 3})
        assert raised.status == 200, raised.body
        stale = await transfer(1, "stale")
        assert (stale["status"], stale["code"]) == ("refused", "facts_not_attested"), stale
        assert (await transfer(3, "at-tier-3"))["status"] == "committed"
    run(tmp_path, scenario)
