"""The hub's payments kept in memory (`node.hub_store`) stay true to its database: every read
answers the payment as last saved, also when a read from the database spans a save; the
settlement driver's pass finds the payments it has work on; and a sender holds at most
`OPEN_ORDERS_PER_SENDER_MAX` orders not yet locked, each lapsing at its source deadline.

Method: a `HubStore` on a fresh SQLite database, read back through a new store on the same
database. A read that must span a save runs in a worker thread, as reads do on a database
server (`on_a_server`). The cap on open orders runs on SQLite and on PostgreSQL (skipped
without `EARMARK_TEST_POSTGRES_URL`), its orders sent at once.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from held_reads import HeldRead, on_a_server
from hypothesis import given, settings
from hypothesis import strategies as st
from postgres import fresh_postgres

from bridges.iso20022 import TransactionStatus
from node import hub_store
from node.database import Writer, open_database
from node.errors import NodeError
from node.hub_config import fresh_hub
from node.hub_settlement import Links, SettlementDriver
from node.hub_store import OPEN_ORDERS_PER_SENDER_MAX, HubPayment, HubStore, Stage

PAYMENT = HubPayment(id="a" * 32, quote_id="q-1", sender="b" * 64, stage=Stage.ACCEPTING,
                     status=TransactionStatus.PENDING, preimage="c" * 64, hashlock="d" * 64,
                     source_deadline_s=2_000, destination_deadline_s=1_000, created_at_s=1,
                     updated_at_s=1)
QUOTE_EXPIRES_S = 10**10  # far ahead: these orders are all in time


def store(tmp_path: Path) -> HubStore:
    """A store on the test's database (the same one at every call)."""
    engine = open_database(f"sqlite:///{tmp_path / 'hub.db'}")
    return HubStore(engine, Writer(engine))


def test_every_read_answers_the_payment_as_last_saved(tmp_path: Path) -> None:
    """Through the store that saved it and through a new one on the same database, a payment
    reads as its last save; a second order of the same quote finds the first payment, also once
    the quote has expired."""
    hub = store(tmp_path)

    async def scenario() -> None:
        await hub.create(PAYMENT, QUOTE_EXPIRES_S)
        await hub.save(PAYMENT, stage=Stage.AWAITING_SOURCE, pay_to="acleda-fx")
        twin = await hub.create(HubPayment(**{**_fields(PAYMENT), "id": "e" * 32}),
                                expires_at_s=0)  # resent once the quote expired
        assert twin is not None and twin.id == PAYMENT.id and twin.pay_to == "acleda-fx"
        saved = await hub.payment(PAYMENT.id)
        assert saved is not None
        done = await hub.save(saved, stage=Stage.DONE,
                              status=TransactionStatus.ACCEPTED_CREDITOR_SETTLEMENT_COMPLETED)
        assert await hub.payment(PAYMENT.id) == done
        assert await store(tmp_path).payment(PAYMENT.id) == done
        assert await hub.payment("f" * 32) is None

    asyncio.run(scenario())


def test_no_payment_is_made_from_an_expired_quote(tmp_path: Path) -> None:
    """An order at or after its quote's expiry makes no payment."""
    hub = store(tmp_path)
    assert asyncio.run(hub.create(PAYMENT, expires_at_s=PAYMENT.created_at_s)) is None
    assert asyncio.run(store(tmp_path).payment(PAYMENT.id)) is None


@settings(max_examples=40, deadline=None)
@given(expires_at_s=st.integers(1, 100),
       order_times_s=st.lists(st.integers(0, 200), min_size=1, max_size=6))
def test_one_quote_makes_at_most_one_payment_whatever_the_resends(
        expires_at_s: int, order_times_s: list[int]) -> None:
    """Invariant 4 for orders: orders of one quote at any times, each a fresh payment, make one
    payment at most, from the first order before the expiry; every order from then on answers
    it, expired or not, and every order before it is answered none."""
    with tempfile.TemporaryDirectory() as folder:
        hub = store(Path(folder))
        orders = [HubPayment(**{**_fields(PAYMENT), "id": f"{index:032x}",
                                "created_at_s": at_s})
                  for index, at_s in enumerate(order_times_s)]
        answers = [asyncio.run(hub.create(order, expires_at_s)) for order in orders]
        first = next((order for order in orders if order.created_at_s < expires_at_s), None)
        made = None if first is None else orders.index(first)
        assert answers == [None if made is None or index < made else first
                           for index in range(len(orders))]
        again = asyncio.run(store(Path(folder)).payment(first.id)) if first else None
        assert again == first


def test_a_read_that_spans_a_save_does_not_hide_it(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A new store reads a payment from the database while the driver saves its next stage:
    the read answers what it read, and the next read answers the save."""
    on_a_server(monkeypatch, hub_store)
    asyncio.run(store(tmp_path).create(PAYMENT, QUOTE_EXPIRES_S))
    hub = store(tmp_path)

    async def scenario() -> None:
        held = HeldRead(monkeypatch, hub, "_one")
        early = asyncio.create_task(hub.payment(PAYMENT.id))
        await held.has_read()
        saved = await hub.save(PAYMENT, stage=Stage.AWAITING_SOURCE)
        held.release()
        assert await early == PAYMENT  # it read before the save
        assert await hub.payment(PAYMENT.id) == saved

    asyncio.run(scenario())


def _fields(payment: HubPayment) -> dict[str, Any]:
    return {name: getattr(payment, name) for name in hub_store._COLUMNS}


def test_a_pass_ends_a_payment_whose_sender_never_locked_and_leaves_the_others(
        tmp_path: Path) -> None:
    """The driver's pass rejects a payment still awaiting its source after the deadline
    (`source_not_locked`); one whose deadline is ahead is not even visited, and stays."""
    config = fresh_hub("hub", 0, database=f"sqlite:///{tmp_path / 'hub.db'}")
    hub = store(tmp_path)
    driver = SettlementDriver(config, hub, Links.of(config))
    now_s = int(time.time())
    late = HubPayment(**{**_fields(PAYMENT), "stage": Stage.AWAITING_SOURCE,
                         "source_deadline_s": now_s - 1})
    waiting = HubPayment(**{**_fields(late), "id": "e" * 32, "quote_id": "q-2",
                            "source_deadline_s": now_s + 3_600})

    async def scenario() -> None:
        for payment in (late, waiting):
            await hub.create(payment, QUOTE_EXPIRES_S)
        assert await driver.step() == 0
        ended, kept = await hub.payment(late.id), await hub.payment(waiting.id)
        assert ended is not None and kept is not None
        assert (ended.stage, ended.status, ended.code) == (
            Stage.DONE, TransactionStatus.REJECTED, "source_not_locked")
        assert kept == waiting

    asyncio.run(scenario())


@pytest.fixture(params=["sqlite", "postgresql"])
def orders_store(request: pytest.FixtureRequest, tmp_path: Path) -> HubStore:
    """A store on a fresh database of each kind."""
    url = (f"sqlite:///{tmp_path / 'hub.db'}" if request.param == "sqlite"
           else fresh_postgres("hub_open_orders"))
    engine = open_database(url)
    request.addfinalizer(engine.dispose)
    return HubStore(engine, Writer(engine))


def _order(index: int, *, sender: str = PAYMENT.sender, at_s: int = 1,
           deadline_s: int = 2_000) -> HubPayment:
    """The sender's order number `index`, of its own quote, made at `at_s`."""
    return HubPayment(**{**_fields(PAYMENT), "id": f"{index:032x}", "quote_id": f"q-{index}",
                         "sender": sender, "created_at_s": at_s, "source_deadline_s": deadline_s})


async def _outcomes(hub: HubStore, orders: list[HubPayment]) -> list[str]:
    """Each order's outcome, sent at once: "made" or the refusal's code."""
    answers = await asyncio.gather(*(hub.create(o, QUOTE_EXPIRES_S) for o in orders),
                                   return_exceptions=True)
    outcomes = []
    for answer in answers:
        if isinstance(answer, NodeError):
            outcomes.append(answer.problem.code)
        elif isinstance(answer, HubPayment):
            outcomes.append("made")
        else:
            raise AssertionError(f"neither made nor refused: {answer!r}")
    return outcomes


def test_a_sender_holds_at_most_the_open_orders_cap(orders_store: HubStore) -> None:
    """Six orders of one sender at once: exactly `OPEN_ORDERS_PER_SENDER_MAX` are made and the
    rest refused `open_orders_exceeded`; another sender still orders; once one of the first is
    locked (its source reported) it no longer counts and the sender orders again."""
    async def scenario() -> None:
        outcomes = await _outcomes(orders_store, [_order(i) for i in range(6)])
        assert sorted(outcomes) == (["made"] * OPEN_ORDERS_PER_SENDER_MAX
                                    + ["open_orders_exceeded"] * (6 - OPEN_ORDERS_PER_SENDER_MAX))
        assert await _outcomes(orders_store, [_order(10, sender="e" * 64)]) == ["made"]
        assert await _outcomes(orders_store, [_order(11)]) == ["open_orders_exceeded"]
        made = [p for i in range(6) if (p := await orders_store.payment(f"{i:032x}"))]
        await orders_store.save(made[0], stage=Stage.SOURCE_REPORTED, source_tx_id="f" * 64)
        assert await _outcomes(orders_store, [_order(11)]) == ["made"]

    asyncio.run(scenario())


def test_an_order_lapses_at_its_source_deadline(orders_store: HubStore) -> None:
    """Three open orders whose source deadline is 2 000: an order at 1 999 is refused, one at
    2 000 is made (the three have lapsed, as their reservations at the provider have)."""
    async def scenario() -> None:
        opened = await _outcomes(orders_store, [_order(i) for i in range(3)])
        assert opened == ["made"] * 3
        assert await _outcomes(orders_store, [_order(3, at_s=1_999, deadline_s=5_000)]) == [
            "open_orders_exceeded"]
        assert await _outcomes(orders_store, [_order(3, at_s=2_000, deadline_s=5_000)]) == [
            "made"]

    asyncio.run(scenario())
