"""The bank's forwarder: co-signed transactions waiting together leave as one endorsed batch.

Method: a fake central bank records each batch it is sent and answers every transaction
committed; transactions handed over at once must leave in one batch whose one endorsement
verifies over all their ids, and each caller gets its own outcome.
"""

from __future__ import annotations

import asyncio

import pytest

from dsl.facts import Party
from engine.encoding import endorsing_bytes
from engine.ids import TxId
from engine.keys import KeyPair, verify
from engine.model import Output, SignedTransaction, Transaction
from engine.wallet import sign
from node import forwarder as forwarder_module
from node.errors import NodeError
from node.forwarder import Forwarder
from node.messages import OutcomeList, OutcomeWire, TransactionBatch

BANK = KeyPair.from_seed(bytes(range(32)))


class FakeCentral:
    """Answers every transaction committed, or fails when told to; keeps the batches."""

    def __init__(self, failing: bool = False) -> None:
        self.batches: list[tuple[TransactionBatch, str]] = []
        self.failing = failing

    async def submit(self, batch: TransactionBatch, idempotency_key: str) -> OutcomeList:
        """Record the batch and answer it."""
        self.batches.append((batch, idempotency_key))
        if self.failing:
            raise NodeError(502, "central_unavailable", "Central bank unavailable")
        return OutcomeList(outcomes=[OutcomeWire(tx_id=t.id, status="committed", code="committed")
                                     for t in reversed(batch.transactions)])


def payments(count: int) -> list[SignedTransaction]:
    """`count` distinct signed transactions."""
    return [sign(Transaction("transfer", (), (Output(BANK.participant, 1, "KHR"),), Party(),
                             Party(), 0, str(n)), (BANK,)) for n in range(count)]


async def forwarded(central: FakeCentral, count: int) -> list[OutcomeWire | BaseException]:
    """Hand `count` transactions to a forwarder at once; their outcomes (or errors)."""
    sizes: list[int] = []
    forwarder = Forwarder(central, BANK, sizes.append)  # type: ignore[arg-type]
    await forwarder.start()
    try:
        return await asyncio.gather(*(forwarder.forward(s) for s in payments(count)),
                                    return_exceptions=True)
    finally:
        await forwarder.close()
        assert sizes == [len(b.transactions) for b, _ in central.batches]


def test_waiting_transactions_leave_in_one_endorsed_batch() -> None:
    """Five transactions handed over at once: one batch, one endorsement over the five ids,
    and each caller answered with its own transaction's outcome."""
    central = FakeCentral()
    outcomes = asyncio.run(forwarded(central, 5))
    assert len(central.batches) == 1
    batch, idempotency_key = central.batches[0]
    ids = [t.id for t in batch.transactions]
    assert [o.tx_id for o in outcomes if isinstance(o, OutcomeWire)] == ids
    (endorsement,) = batch.endorsements
    assert endorsement.tx_ids == ids and endorsement.signer == BANK.participant
    assert verify(BANK.participant, endorsing_bytes([TxId(i) for i in ids]),
                  bytes.fromhex(endorsement.signature))
    assert idempotency_key.startswith("batch-")


def test_an_unreachable_central_bank_answers_every_caller() -> None:
    """When the central bank cannot be reached, every waiting caller gets that error."""
    outcomes = asyncio.run(forwarded(FakeCentral(failing=True), 3))
    assert all(isinstance(o, NodeError) and o.problem.code == "central_unavailable"
               for o in outcomes)


class HeldCentral(FakeCentral):
    """A fake central bank that holds every batch until released."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def submit(self, batch: TransactionBatch, idempotency_key: str) -> OutcomeList:
        """Answer once released."""
        await self.release.wait()
        return await super().submit(batch, idempotency_key)


def test_transactions_queued_while_every_slot_is_busy_leave_together(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With the one slot busy, transactions arriving one by one, each after the window, wait
    together and leave as one batch once the slot is free."""
    monkeypatch.setattr(forwarder_module, "BATCHES_IN_FLIGHT_MAX", 1)
    central, later = HeldCentral(), 6
    first, *rest = payments(1 + later)

    async def scenario() -> list[OutcomeWire]:
        forwarder = Forwarder(central, BANK, lambda _size: None)  # type: ignore[arg-type]
        await forwarder.start()
        try:
            answers = [asyncio.create_task(forwarder.forward(first))]
            for signed in rest:
                await asyncio.sleep(forwarder_module.WINDOW_S * 3)
                answers.append(asyncio.create_task(forwarder.forward(signed)))
            await asyncio.sleep(forwarder_module.WINDOW_S * 3)
            central.release.set()
            return await asyncio.gather(*answers)
        finally:
            await forwarder.close()

    outcomes = asyncio.run(scenario())
    assert [len(b.transactions) for b, _ in central.batches] == [1, later]
    assert [o.tx_id for o in outcomes] == [s.id for s in (first, *rest)]
