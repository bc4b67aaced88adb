"""The central bank's way into the notary: requests queue, one thread commits them in batches.

The notary is synchronous and must not run two batches at once: each batch reads the usage
totals and holdings that its limits count before the previous one has committed them, so two
concurrent batches could each pass a limit that together they exceed (the spent set alone would
still stop double spends). So every request of the service puts its transactions on one queue and
one worker thread drains it: what is waiting is merged into batches of up to the notary's limits
(group commit: many requests, one database commit) and fed to `Notary.submit_stream`, which
verifies the next batch while the previous one commits. Each request's future is resolved with its
own outcomes once its batch is durable; the service's commit hook has run by then, so what the
hook keeps (reserve totals) already counts the request when its caller hears back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from engine.model import Endorsement, SignedTransaction
from engine.notary import BATCH_SIZE_MAX, ENDORSEMENTS_MAX, Notary, Outcome
from node.errors import NodeError

INTAKE_QUEUE_MAX: Final = 10_000  # requests waiting for the notary; beyond it callers get 503
_BATCH_BUCKETS: Final = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
_COMMIT_BUCKETS_S: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_log = logging.getLogger("earmark.node")

CommitHook = Callable[[Sequence[SignedTransaction]], None]


@dataclass(frozen=True, slots=True)
class _Request:
    """One caller's transactions and endorsements, and where its answer goes."""

    transactions: Sequence[SignedTransaction]
    endorsements: Sequence[Endorsement]
    future: asyncio.Future[list[Outcome]]
    loop: asyncio.AbstractEventLoop


@dataclass(frozen=True, slots=True)
class _Batch:
    """Requests merged into one notary batch, and when it was formed."""

    requests: list[_Request]
    started_s: float

    @property
    def transactions(self) -> list[SignedTransaction]:
        """Every request's transactions, in order."""
        return [s for r in self.requests for s in r.transactions]

    @property
    def endorsements(self) -> list[Endorsement]:
        """Every request's endorsements."""
        return [e for r in self.requests for e in r.endorsements]


class _Stop:
    """The mark `close` puts on the queue: every request before it is still committed."""


_STOP: Final = _Stop()


class LedgerMetrics:
    """The ledger's counters on the service's Prometheus registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.transactions = Counter("earmark_ledger_transactions", "Transactions answered by "
                                    "the notary", ["status", "code"], registry=registry)
        self.batch_size = Histogram("earmark_ledger_batch_transactions", "Transactions per "
                                    "notary batch", buckets=_BATCH_BUCKETS, registry=registry)
        self.batch_seconds = Histogram("earmark_ledger_batch_duration_seconds", "Time from a "
                                       "batch's start to its durable commit",
                                       buckets=_COMMIT_BUCKETS_S, registry=registry)
        self.queued = Gauge("earmark_ledger_intake_queued", "Requests waiting for the notary",
                            registry=registry)

    def count(self, outcomes: Sequence[Outcome]) -> None:
        """Count each outcome under its status and result code."""
        for outcome in outcomes:
            refusal = outcome.refusal
            if refusal is None:
                self.transactions.labels("committed", "committed").inc()
            else:
                self.transactions.labels("refused", refusal.code.value).inc()


class LedgerIntake:
    """The queue in front of the notary and the one thread that drains it.

    `on_commit` receives the newly committed transactions of each batch; `resync` is called
    after the notary failed a batch (a batch may then have committed without `on_commit`
    hearing of it), to rebuild what `on_commit` keeps from the journal."""

    def __init__(self, notary: Notary, on_commit: CommitHook, resync: Callable[[], None],
                 metrics: LedgerMetrics) -> None:
        self._notary = notary
        self._on_commit = on_commit
        self._resync = resync
        self._metrics = metrics
        self._queue: queue.Queue[_Request | _Stop] = queue.Queue(INTAKE_QUEUE_MAX)
        self._closing = False
        self._gate = threading.Lock()  # no request slips in behind the stop mark
        self._thread = threading.Thread(target=self._work, name="ledger-intake", daemon=True)

    def start(self) -> None:
        """Start the worker thread."""
        self._thread.start()

    async def submit(self, transactions: Sequence[SignedTransaction],
                     endorsements: Sequence[Endorsement] = ()) -> list[Outcome]:
        """The notary's outcomes for `transactions`, in order, once durable."""
        if len(transactions) > BATCH_SIZE_MAX or len(endorsements) > ENDORSEMENTS_MAX:
            raise NodeError(400, "invalid_request", "Bad request", f"at most {BATCH_SIZE_MAX} "
                            f"transactions and {ENDORSEMENTS_MAX} endorsements per request")
        loop = asyncio.get_running_loop()
        request = _Request(transactions, endorsements, loop.create_future(), loop)
        with self._gate:
            if self._closing:
                raise NodeError(503, "shutting_down", "Shutting down", "the node is stopping")
            try:
                self._queue.put_nowait(request)
            except queue.Full:
                raise NodeError(503, "busy", "Too many requests", "try again shortly") from None
        self._metrics.queued.inc()
        return await request.future

    async def close(self) -> None:
        """Take no new requests, commit every queued one, stop the thread."""
        with self._gate:
            if self._closing:
                return
            self._closing = True
            self._queue.put(_STOP)
        if self._thread.is_alive():
            await asyncio.to_thread(self._thread.join)

    # ---- the worker thread -------------------------------------------------------------------

    def _work(self) -> None:
        first = self._take(block=True)
        while isinstance(first, _Request):
            stream = _Stream(first, self._take, self._metrics)
            try:
                for outcomes in self._notary.submit_stream(stream):
                    self._settle(stream.in_flight.popleft(), outcomes)
            except Exception as error:
                _log.exception("the notary failed a batch")
                self._fail(stream, error)
            first = _STOP if stream.stopping else self._take(block=True)

    def _take(self, *, block: bool) -> _Request | _Stop | None:
        """The next request or the stop mark; None when nothing waits (not blocking)."""
        try:
            request = self._queue.get(block=block)
        except queue.Empty:
            return None
        if isinstance(request, _Request):
            self._metrics.queued.dec()
        return request

    def _settle(self, batch: _Batch, outcomes: list[Outcome]) -> None:
        """Run the commit hook, count, then answer each request with its slice."""
        self._metrics.batch_seconds.observe(time.perf_counter() - batch.started_s)
        self._metrics.count(outcomes)
        committed = [s for s, o in zip(batch.transactions, outcomes, strict=True)
                     if o.committed and not o.replayed]
        if committed:
            try:
                self._on_commit(committed)
            except Exception:
                _log.exception("the commit hook failed")
                self._resync_quietly()
        start = 0
        for request in batch.requests:
            end = start + len(request.transactions)
            _answer(request, outcomes[start:end])
            start = end

    def _fail(self, stream: _Stream, error: Exception) -> None:
        """Answer every request of the broken stream with the error, after a resync."""
        self._resync_quietly()
        waiting = [r for b in stream.in_flight for r in b.requests]
        for request in [*waiting, *([stream.pending] if stream.pending else [])]:
            _answer(request, error)


    def _resync_quietly(self) -> None:
        try:
            self._resync()
        except Exception:
            _log.exception("rebuilding from the journal failed")


class _Stream:
    """The batches of one `submit_stream` run: the first request, then whatever is already
    waiting, merged up to the notary's limits. It never waits for new work while a batch is
    in flight (that would hold back its answer): the stream ends instead, and the worker starts
    a new one with the next request."""

    def __init__(self, first: _Request, take: Callable[..., _Request | _Stop | None],
                 metrics: LedgerMetrics) -> None:
        self.pending: _Request | None = first  # taken from the queue, in no batch yet
        self.in_flight: deque[_Batch] = deque()
        self.stopping = False
        self._take = take
        self._metrics = metrics

    def __iter__(self) -> Iterator[tuple[list[SignedTransaction], list[Endorsement]]]:
        while self.pending is not None:
            batch = self._merge(self.pending)
            self.in_flight.append(batch)
            self._metrics.batch_size.observe(len(batch.transactions))
            yield batch.transactions, batch.endorsements
            if self.pending is None:
                self.pending = self._next()

    def _next(self) -> _Request | None:
        if self.stopping:
            return None
        request = self._take(block=False)
        if isinstance(request, _Stop):
            self.stopping = True
            return None
        return request

    def _merge(self, first: _Request) -> _Batch:
        """`first` and the requests waiting behind it that fit; one that does not fit is kept
        as `pending` to open the next batch."""
        requests = [first]
        size, endorsed = len(first.transactions), len(first.endorsements)
        self.pending = None
        while (request := self._next()) is not None:
            if (size + len(request.transactions) > BATCH_SIZE_MAX
                    or endorsed + len(request.endorsements) > ENDORSEMENTS_MAX):
                self.pending = request
                break
            requests.append(request)
            size += len(request.transactions)
            endorsed += len(request.endorsements)
        return _Batch(requests, time.perf_counter())


def _answer(request: _Request, result: list[Outcome] | BaseException) -> None:
    """Resolve a request's future on its own event loop's thread."""
    def resolve() -> None:
        if request.future.done():
            return  # the caller went away
        if isinstance(result, BaseException):
            request.future.set_exception(result)
        else:
            request.future.set_result(result)
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
        request.loop.call_soon_threadsafe(resolve)
