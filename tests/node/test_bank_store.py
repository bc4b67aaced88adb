"""The bank's records (`node.bank_store`): customers, payments and the day's spending kept in
memory stay true to the database, and a payment's answer is recorded and returned as recorded.

Method: a `BankStore` on a fresh SQLite database; customers and payments are changed through it
while lookups run, and read back through a new store on the same database. A read that must
span a change runs in a worker thread, as reads do on a database server (`on_a_server`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from held_reads import HeldRead, on_a_server

from node import bank_store
from node.bank_store import BankStore
from node.database import open_database
from node.tables import CustomerRow, PaymentRow

ALICE = CustomerRow(account="alice@aba", key="a" * 64, display_name="Alice", role="person",
                    mcc=0, phone="+85510000001", kyc_tier=1, region="", created_at_s=0)


def store(tmp_path: Path) -> BankStore:
    """A store on the test's database (the same one at every call)."""
    return BankStore(open_database(f"sqlite:///{tmp_path / 'bank.db'}"))


def payment(payment_id: str) -> PaymentRow:
    """A prepared payment of Alice's."""
    return PaymentRow(id=payment_id, account=ALICE.account, kind="payment",
                      counterparty="bob@aba", amount_minor=1_000, currency="KHR", token="",
                      status="prepared", tx_id="f" * 64, day="2026-01-01",
                      transaction=b"body", created_at_s=1)


def test_a_customer_change_is_seen_by_every_lookup_at_once(tmp_path: Path) -> None:
    """After a KYC change, lookups by account, key and phone answer the new state, though each
    was answered (and kept) before."""
    bank = store(tmp_path)

    async def lookups() -> list[CustomerRow | None]:
        return [await bank.customer(ALICE.account), await bank.customer_by_key(ALICE.key),
                await bank.customer_by_phone(ALICE.phone or "")]

    async def scenario() -> None:
        await bank.add_customer(ALICE)
        assert [c.kyc_tier if c else None for c in await lookups()] == [1, 1, 1]
        assert await bank.set_kyc(ALICE.account, 3) is not None
        assert [c.kyc_tier if c else None for c in await lookups()] == [3, 3, 3]

    asyncio.run(scenario())


def test_a_lookup_that_spans_a_change_is_not_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lookup that read the customer before a change and answers after it is not kept: the
    next lookup reads the changed customer."""
    on_a_server(monkeypatch, bank_store)
    bank = store(tmp_path)

    async def scenario() -> None:
        await bank.add_customer(ALICE)
        held = HeldRead(monkeypatch, bank, "_read_customer")
        early = asyncio.create_task(bank.customer_by_key(ALICE.key))
        await held.has_read()
        await bank.set_kyc(ALICE.account, 2)
        held.release()
        assert (await early) == ALICE  # it read before the change
        now = await bank.customer_by_key(ALICE.key)
        assert now is not None and now.kyc_tier == 2

    asyncio.run(scenario())


def test_an_answer_is_recorded_and_returned_as_recorded(tmp_path: Path) -> None:
    """`answer` returns the payment with its changes, as a new store reads it; a payment that
    does not exist is answered None."""
    changes = {"status": "committed", "code": "", "reason": "", "rule": "",
               "day": "2026-01-02"}

    async def scenario() -> tuple[PaymentRow | None, PaymentRow | None]:
        bank = store(tmp_path)
        await bank.add_payment(payment("p-1"))
        answered = await bank.answer(payment("p-1"), changes)
        assert await bank.answer(payment("p-missing"), changes) is None
        return answered, await store(tmp_path).payment("p-1")

    answered, read_back = asyncio.run(scenario())
    assert answered is not None and answered == read_back
    assert (answered.status, answered.day) == ("committed", "2026-01-02")


COMMITTED = {"status": "committed", "code": "", "reason": "", "rule": "", "day": "2026-01-01"}


def test_the_days_spending_counts_each_committed_payment_once(tmp_path: Path) -> None:
    """Spending read once and kept grows by each committed payment and cash-out, not by a
    refusal or a distribution; a new store reading the database agrees; a signed payment is
    read back as its answer recorded it."""
    async def scenario() -> None:
        bank = store(tmp_path)
        assert await bank.spent_on(ALICE.account, "KHR", "2026-01-01") == 0
        for payment_id, kind in (("p-1", "payment"), ("p-2", "cash_out"),
                                 ("p-3", "distribution")):
            await bank.add_payment(payment(payment_id).model_copy(update={"kind": kind}))
            await bank.answer(payment(payment_id).model_copy(update={"kind": kind}), COMMITTED)
        await bank.add_payment(payment("p-4"))
        await bank.answer(payment("p-4"), {**COMMITTED, "status": "refused", "code": "x"})
        kept = await bank.spent_on(ALICE.account, "KHR", "2026-01-01")
        fresh = await store(tmp_path).spent_on(ALICE.account, "KHR", "2026-01-01")
        assert (kept, fresh) == (2_000, 2_000)
        signed = await bank.payment("p-4")
        assert signed is not None and (signed.status, signed.code) == ("refused", "x")

    asyncio.run(scenario())


def test_a_spending_read_that_spans_a_payment_is_not_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A total read while a payment commits answers its caller but is not kept, so the
    payment is neither lost from nor counted twice in the next answer."""
    on_a_server(monkeypatch, bank_store)
    bank = store(tmp_path)

    async def scenario() -> None:
        await bank.add_payment(payment("p-1"))
        held = HeldRead(monkeypatch, bank, "_read_spent_on")
        early = asyncio.create_task(bank.spent_on(ALICE.account, "KHR", "2026-01-01"))
        await held.has_read()
        await bank.answer(payment("p-1"), COMMITTED)
        held.release()
        assert await early == 0  # it read before the payment committed
        assert await bank.spent_on(ALICE.account, "KHR", "2026-01-01") == 1_000
        await bank.add_payment(payment("p-2"))
        await bank.answer(payment("p-2"), COMMITTED)
        assert await bank.spent_on(ALICE.account, "KHR", "2026-01-01") == 2_000

    asyncio.run(scenario())
