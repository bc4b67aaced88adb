"""The notary: validates batches of signed transactions and commits them, each whole or not at all.

A batch goes through three stages, and a stream of batches through them as a pipeline. The checks
that read no state (shape, id, signatures, and the banks' batch endorsements) run first on a pool
of threads: Ed25519 verification in libsodium releases the GIL, so they use every core. Then, in
order, each transaction is validated against the store plus what earlier transactions of the batch
spent, created and used (`BatchView`, read from the store in a few queries for the whole batch).
The parties' registrations are read for the whole batch at once too: the participants are held
in memory, and the customers that the batch's notes and outputs name are asked of the `Directory`
in one call. Last, one database commit writes the batch, on a writer thread, while the next
batch's signatures are verified. If another process spent a note first, the database's spent set
refuses the batch and the notary commits it again one transaction at a time, so exactly one
spender wins. A transaction already committed is answered from the store: retries change nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final

from sqlalchemy.exc import IntegrityError

from engine.batch_view import BatchView
from engine.encoding import endorsing_bytes
from engine.errors import EngineError, Refusal, ResultCode
from engine.ids import ParticipantId, TxId
from engine.keys import verify
from engine.model import Endorsement, HashLock, Note, SignedTransaction
from engine.participants import NO_CUSTOMERS, Directory, Registry
from engine.store import SqlStore
from engine.validate import Accepted, check_signed, validate, validate_state

BATCH_SIZE_MAX: Final = 1024  # transactions per database commit
ENDORSEMENTS_MAX: Final = 64  # bank endorsements submitted with one batch
_PARALLEL_FROM: Final = 8  # below this many signatures a thread hand-off costs more than it saves
_NO_ENDORSERS: Final[frozenset[ParticipantId]] = frozenset()


@dataclass(frozen=True, slots=True)
class Outcome:
    """The notary's answer for one transaction."""

    tx_id: TxId
    refusal: Refusal | None  # None: committed
    replayed: bool = False  # committed earlier; this submission changed nothing

    @property
    def committed(self) -> bool:
        """Whether the transaction is in the ledger."""
        return self.refusal is None


@dataclass(frozen=True, slots=True)
class _Checked:
    """A batch after the stateless checks: a refusal, or None, for each transaction."""

    batch: Sequence[SignedTransaction]
    now_s: int
    endorsements: list[Endorsement]  # those that verified
    endorsers: dict[TxId, frozenset[ParticipantId]]
    refusals: list[Refusal | None]


@dataclass(frozen=True, slots=True)
class _Staged:
    """A batch validated in order, ready to commit."""

    checked: _Checked
    view: BatchView
    outcomes: list[Outcome]


class Notary:
    """Validates and commits; the store's spent set is the truth."""

    def __init__(self, store: SqlStore, registry: Registry,
                 clock: Callable[[], float] = time.time, workers: int | None = None,
                 directory: Directory = NO_CUSTOMERS) -> None:
        self.store = store
        self.registry = registry
        self.directory = directory
        self.clock = clock
        self.workers = workers or os.cpu_count() or 1
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="notary-verify")
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="notary-commit")

    def close(self) -> None:
        """Stop the notary's threads (the store stays open: it is the caller's)."""
        self._pool.shutdown()
        self._writer.shutdown()

    def submit(self, signed: SignedTransaction) -> Outcome:
        """Validate and commit one transaction."""
        return self.submit_batch([signed])[0]

    def submit_batch(self, batch: Sequence[SignedTransaction],
                     endorsements: Sequence[Endorsement] = ()) -> list[Outcome]:
        """Validate and commit many transactions in one database commit; one outcome each.

        `endorsements` are bank signatures over lists of transaction ids: a verified one is a
        co-signature by that bank on each transaction it lists."""
        return next(iter(self.submit_stream([(batch, endorsements)])))

    def submit_stream(self, batches: Iterable[tuple[Sequence[SignedTransaction],
                                                    Sequence[Endorsement]]]
                      ) -> Iterator[list[Outcome]]:
        """`submit_batch` for each batch in turn, yielding each batch's outcomes once its
        commit is durable. While one batch commits (on the writer thread, mostly waiting for
        the disk), the next one's signatures are already being verified."""
        committing: Future[list[Outcome]] | None = None
        for batch, endorsements in batches:
            checked = self._check(batch, endorsements)
            if committing is not None:
                yield committing.result()
            # Read the store only now: the previous batch is in it, so nothing counts twice.
            staged = self._stage(checked)
            committing = self._writer.submit(self._commit, staged)
        if committing is not None:
            yield committing.result()

    def _check(self, batch: Sequence[SignedTransaction],
               endorsements: Sequence[Endorsement]) -> _Checked:
        """The stateless stage: endorsements and every transaction's shape and signatures."""
        if len(batch) > BATCH_SIZE_MAX or len(endorsements) > ENDORSEMENTS_MAX:
            raise EngineError(f"at most {BATCH_SIZE_MAX} transactions and {ENDORSEMENTS_MAX} "
                              f"endorsements per batch")
        now_s = int(self.clock())
        valid, forged = self._verify_endorsements(endorsements)
        refusals = [checked or forged.get(signed.id) for signed, checked in
                    zip(batch, self._check_all(batch, now_s), strict=True)]
        return _Checked(batch, now_s, valid, _endorsers_by_transaction(valid), refusals)

    def _stage(self, checked: _Checked) -> _Staged:
        """The ordered stage: replays answered from the store, the rest validated in order."""
        batch = checked.batch
        known = self.store.results(s.id for s in batch)
        outcomes: list[Outcome | None] = [
            Outcome(s.id, None, replayed=True) if s.id in known and known[s.id].committed
            else Outcome(s.id, refusal) if refusal is not None else None
            for s, refusal in zip(batch, checked.refusals, strict=True)]
        pending = [s for s, o in zip(batch, outcomes, strict=True) if o is None]
        view = BatchView.prefetch(self.store, pending)
        notes = [stored for stored, _ in view.stored_notes.values()]
        registry = self._registry_for(pending, notes)
        for i, signed in enumerate(batch):
            if outcomes[i] is None:
                outcomes[i] = self._validate_in(view, registry, signed, checked.now_s,
                                                checked.endorsers)
        return _Staged(checked, view, _all(outcomes))

    def _registry_for(self, batch: Sequence[SignedTransaction],
                      notes: Iterable[Note]) -> Registry:
        """The registry with the customers among the keys that `batch` and its input `notes`
        name, read in one call."""
        keys = {key for note in notes for key in (note.owner, *_refund(note.lock))}
        keys.update(key for signed in batch for output in signed.transaction.outputs
                    for key in (output.owner, *_refund(output.lock)))
        return self.registry.knowing(self.directory.customers(keys) if keys else {})

    def _commit(self, staged: _Staged) -> list[Outcome]:
        """The durable stage, on the writer thread."""
        checked = staged.checked
        try:
            self.store.commit(staged.view.accepted, checked.now_s, checked.endorsements)
        except IntegrityError:
            # Another process spent one of these notes first: settle each on its own.
            accepted = staged.view.accepted_ids
            return [self._submit_alone(s, checked.endorsers.get(s.id, _NO_ENDORSERS),
                                       checked.endorsements)
                    if s.id in accepted and not o.replayed else o
                    for s, o in zip(checked.batch, staged.outcomes, strict=True)]
        return staged.outcomes

    def _validate_in(self, view: BatchView, registry: Registry, signed: SignedTransaction,
                     now_s: int, endorsers: dict[TxId, frozenset[ParticipantId]]) -> Outcome:
        if signed.id in view.accepted_ids:
            return Outcome(signed.id, None, replayed=True)  # a copy earlier in this batch
        result = validate_state(signed, view, registry, now_s,
                                endorsers.get(signed.id, _NO_ENDORSERS))
        if not isinstance(result, Accepted):
            return Outcome(signed.id, result)
        view.add(result)
        return Outcome(signed.id, None)

    def _check_all(self, batch: Sequence[SignedTransaction], now_s: int) -> list[Refusal | None]:
        """`check_signed` for each, spread over the pool in one chunk per worker."""
        if len(batch) < _PARALLEL_FROM or self.workers == 1:
            return [check_signed(s, now_s) for s in batch]
        size = -(-len(batch) // self.workers)
        chunks = [batch[i:i + size] for i in range(0, len(batch), size)]
        results = self._pool.map(lambda chunk: [check_signed(s, now_s) for s in chunk], chunks)
        return [refusal for chunk in results for refusal in chunk]

    def _verify_endorsements(self, endorsements: Sequence[Endorsement]) -> tuple[
            list[Endorsement], dict[TxId, Refusal]]:
        """The endorsements that verify; and a refusal for every id that a forged one lists."""
        def verified(e: Endorsement) -> bool:
            return verify(e.signer, endorsing_bytes(e.tx_ids), e.signature)

        # A bank's forwarded batch carries one endorsement: handing it to the pool and back
        # cost more than verifying it here.
        checks = (list(map(verified, endorsements))
                  if len(endorsements) < _PARALLEL_FROM or self.workers == 1
                  else list(self._pool.map(verified, endorsements)))
        forged = {tx_id: Refusal(ResultCode.BAD_SIGNATURE, f"the endorsement by "
                                 f"{e.signer[:16]}… does not verify")
                  for e, ok in zip(endorsements, checks, strict=True) if not ok
                  for tx_id in e.tx_ids}
        return [e for e, ok in zip(endorsements, checks, strict=True) if ok], forged

    def _submit_alone(self, signed: SignedTransaction, endorsers: frozenset[ParticipantId],
                      endorsements: Sequence[Endorsement]) -> Outcome:
        now_s = int(self.clock())
        if self.store.results([signed.id]).get(signed.id):
            return Outcome(signed.id, None, replayed=True)
        notes = [note for note, _ in self.store.notes(signed.transaction.inputs).values()]
        result = validate(signed, self.store, self._registry_for([signed], notes), now_s,
                          endorsers)
        if not isinstance(result, Accepted):
            return Outcome(signed.id, result)
        try:
            self.store.commit([result], now_s, endorsements)
        except IntegrityError:
            spent = Refusal(ResultCode.NOTE_ALREADY_SPENT, "another transaction spent a note "
                            "of this one first")
            return Outcome(signed.id, spent)
        return Outcome(signed.id, None)


def _endorsers_by_transaction(endorsements: Sequence[Endorsement]) -> dict[
        TxId, frozenset[ParticipantId]]:
    found: dict[TxId, set[ParticipantId]] = {}
    for endorsement in endorsements:
        for tx_id in endorsement.tx_ids:
            found.setdefault(tx_id, set()).add(endorsement.signer)
    return {tx_id: frozenset(signers) for tx_id, signers in found.items()}


def _refund(lock: HashLock | None) -> tuple[ParticipantId, ...]:
    return (lock.refund_to,) if lock is not None else ()


def _all(outcomes: list[Outcome | None]) -> list[Outcome]:
    done = [o for o in outcomes if o is not None]
    if len(done) != len(outcomes):
        raise EngineError("the notary left a transaction of the batch unanswered")
    return done
