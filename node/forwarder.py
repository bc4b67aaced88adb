"""The bank forwards its customers' co-signed transactions to the central bank in batches.

Requests arriving within a short window (`WINDOW_S`, or until `BATCH_SIZE_MAX` wait) leave
together, and so do all that queue while `BATCHES_IN_FLIGHT_MAX` batches are out: the bank
signs one `Endorsement` over their ids (its co-signature on each, verified once by the notary)
and posts one `TransactionBatch`. Each waiting request gets its own outcome. A batch's
Idempotency-Key is its endorsement digest, so a resent batch commits nothing twice; if the
central bank cannot be reached, every request of the batch gets that error.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from engine.encoding import endorsement_digest, endorsing_bytes
from engine.keys import KeyPair
from engine.model import Endorsement, SignedTransaction
from node.central_link import CentralClient
from node.errors import NodeError
from node.messages import OutcomeWire, TransactionBatch
from node.wire import endorsement_to_wire, signed_to_wire

WINDOW_S: Final = 0.002  # how long the first waiting transaction waits for company
BATCH_SIZE_MAX: Final = 256  # transactions per forwarded batch (central takes up to 1024)
QUEUE_LENGTH_MAX: Final = 8_192  # transactions waiting at once; beyond it the bank is busy
BATCHES_IN_FLIGHT_MAX: Final = 4  # batches posted to the central bank at the same time


@dataclass(frozen=True, slots=True)
class _Waiting:
    signed: SignedTransaction
    answer: asyncio.Future[OutcomeWire]


class Forwarder:
    """Collects co-signed transactions, endorses and forwards them, answers each caller."""

    def __init__(self, central: CentralClient, key: KeyPair,
                 observe_batch: Callable[[int], None]) -> None:
        self._central = central
        self._key = key
        self._observe_batch = observe_batch
        self._queue: asyncio.Queue[_Waiting] = asyncio.Queue(QUEUE_LENGTH_MAX)
        self._slots = asyncio.Semaphore(BATCHES_IN_FLIGHT_MAX)
        self._collector: asyncio.Task[None] | None = None
        self._posting: set[asyncio.Task[None]] = set()
        self._gathering: list[_Waiting] = []  # taken from the queue, not posted yet

    async def start(self) -> None:
        """Start collecting."""
        self._collector = asyncio.create_task(self._collect(), name="bank-forwarder")

    async def close(self) -> None:
        """Stop collecting; batches already posted finish first, and a caller still waiting
        to be batched is told the bank is stopping (its payment stays prepared)."""
        if self._collector is not None:
            self._collector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._collector
        if self._posting:
            await asyncio.gather(*self._posting, return_exceptions=True)
        while not self._queue.empty():
            self._gathering.append(self._queue.get_nowait())
        for waiting in self._gathering:
            if not waiting.answer.done():
                waiting.answer.set_exception(NodeError(503, "stopping", "The bank is stopping",
                                                       "sign the payment again shortly"))

    async def forward(self, signed: SignedTransaction) -> OutcomeWire:
        """The central bank's outcome for this transaction, endorsed with its batch."""
        waiting = _Waiting(signed, asyncio.get_running_loop().create_future())
        try:
            self._queue.put_nowait(waiting)
        except asyncio.QueueFull:
            raise NodeError(503, "busy", "Too many payments waiting", "try again shortly"
                            ) from None
        return await waiting.answer

    async def _collect(self) -> None:
        while True:
            # A free slot first, then the batch: while every slot is busy, transactions keep
            # queuing and leave together in the next batch, rather than each waiting in a
            # small batch formed before a slot was free.
            await self._slots.acquire()
            try:
                batch = await self._gather()
            except BaseException:
                self._slots.release()
                raise
            self._gathering = []
            task = asyncio.create_task(self._post(batch))
            self._posting.add(task)
            task.add_done_callback(self._posting.discard)

    async def _gather(self) -> list[_Waiting]:
        """The first waiting transaction, then those queued or arriving within `WINDOW_S`."""
        batch = self._gathering = [await self._queue.get()]
        deadline = asyncio.get_running_loop().time() + WINDOW_S
        while len(batch) < BATCH_SIZE_MAX:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                continue
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _post(self, batch: list[_Waiting]) -> None:
        try:
            outcomes = await self._send([waiting.signed for waiting in batch])
        except Exception as error:  # every waiting caller is answered, whatever went wrong
            for waiting in batch:
                if not waiting.answer.done():
                    waiting.answer.set_exception(error)
            return
        finally:
            self._slots.release()
        by_id = {outcome.tx_id: outcome for outcome in outcomes}
        for waiting in batch:
            if waiting.answer.done():
                continue  # the caller went away
            outcome = by_id.get(waiting.signed.id)
            if outcome is None:
                waiting.answer.set_exception(NodeError(
                    502, "central_answer_invalid", "Central bank answer invalid",
                    f"no outcome for {waiting.signed.id}"))
            else:
                waiting.answer.set_result(outcome)

    async def _send(self, transactions: list[SignedTransaction]) -> list[OutcomeWire]:
        tx_ids = tuple(signed.id for signed in transactions)
        endorsement = Endorsement(self._key.participant, tx_ids,
                                  self._key.sign(endorsing_bytes(tx_ids)))
        self._observe_batch(len(transactions))
        answer = await self._central.submit(
            TransactionBatch(transactions=[signed_to_wire(s) for s in transactions],
                             endorsements=[endorsement_to_wire(endorsement)]),
            idempotency_key=f"batch-{endorsement_digest(tx_ids)}")
        return answer.outcomes
