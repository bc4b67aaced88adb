"""The notary: validates batches of signed transactions and commits them, each whole or not at all.

A batch is validated in order against the store plus what earlier transactions of the same batch
spent, created and used (so two payments in one batch cannot spend one note or share one limit),
then written in one database commit. If another process spent a note first, the database's spent
set refuses the batch and the notary commits it again one transaction at a time, so exactly one
spender wins. A transaction already committed is answered from the store: retries change nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy.exc import IntegrityError

from dsl.evaluate import CompiledPolicy
from dsl.facts import PERIODS, Usage
from engine.errors import EngineError, Refusal, ResultCode
from engine.ids import NoteId, ParticipantId, TxId
from engine.model import Note, SignedTransaction, TokenRef, Transaction
from engine.participants import Registry
from engine.store import SqlStore, period_label, token_key, usage_deltas
from engine.validate import Accepted, validate

BATCH_SIZE_MAX = 1024  # transactions per database commit


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


@dataclass
class _BatchView:
    """The store as it will be once the batch so far commits."""

    store: SqlStore
    accepted: list[Accepted] = field(default_factory=list)
    spent: set[NoteId] = field(default_factory=set)
    created: dict[NoteId, Note] = field(default_factory=dict)
    deltas: dict[tuple[str, str, str, str], int] = field(default_factory=dict)

    def notes(self, ids: Sequence[NoteId]) -> Mapping[NoteId, tuple[Note, bool]]:
        found = dict(self.store.notes([i for i in ids if i not in self.created]))
        found |= {i: (self.created[i], False) for i in ids if i in self.created}
        return {i: (note, spent or i in self.spent) for i, (note, spent) in found.items()}

    def policy(self, token: TokenRef) -> CompiledPolicy | None:
        return self.store.policy(token)

    def usage(self, token: TokenRef, transaction: Transaction, owner: ParticipantId) -> Usage:
        stored = self.store.usage(token, transaction, owner)
        deltas = self.deltas
        key, totals = token_key(token), {}
        for period in PERIODS:
            label = period_label(period, transaction.created_at_s)
            totals[f"wallet_{period}"] = deltas.get((key, "wallet", owner, label), 0)
            totals[f"merchant_{period}"] = deltas.get(
                (key, "merchant", transaction.receiver.id, label), 0)
        receiver = next((o.owner for o in transaction.outputs if o.owner != owner), None)
        totals["receiver_held"] = sum(
            n.amount_minor for n in self.created.values()
            if n.owner == receiver and n.token == token and n.id not in self.spent) - sum(
            n.amount_minor for a in self.accepted for n in a.spent
            if n.owner == receiver and n.token == token and n.id not in self.created)
        return replace(stored, **{k: getattr(stored, k) + v for k, v in totals.items()})

    def add(self, accepted: Accepted) -> None:
        self.accepted.append(accepted)
        self.spent.update(note.id for note in accepted.spent)
        self.created.update((note.id, note) for note in accepted.created)
        for usage_key, amount in usage_deltas([accepted]).items():
            self.deltas[usage_key] = self.deltas.get(usage_key, 0) + amount


class Notary:
    """Validates and commits; the store's spent set is the truth."""

    def __init__(self, store: SqlStore, registry: Registry,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock

    def submit(self, signed: SignedTransaction) -> Outcome:
        """Validate and commit one transaction."""
        return self.submit_batch([signed])[0]

    def submit_batch(self, batch: Sequence[SignedTransaction]) -> list[Outcome]:
        """Validate and commit many transactions in one database commit; one outcome each."""
        if len(batch) > BATCH_SIZE_MAX:
            raise EngineError(f"at most {BATCH_SIZE_MAX} transactions per batch")
        now_s = int(self.clock())
        known = self.store.results(s.id for s in batch)
        outcomes = {i: Outcome(i, None, replayed=True) for i, r in known.items() if r.committed}
        view = _BatchView(self.store)
        for signed in batch:
            if signed.id in outcomes:
                continue
            result = validate(signed, view, self.registry, now_s)
            if isinstance(result, Accepted):
                view.add(result)
                outcomes[signed.id] = Outcome(signed.id, None)
            else:
                outcomes[signed.id] = Outcome(signed.id, result)
        try:
            self.store.commit(view.accepted, now_s)
        except IntegrityError:
            # Another process spent one of these notes first: settle each on its own.
            return [self._submit_alone(s) if s.id in {a.signed.id for a in view.accepted}
                    else outcomes[s.id] for s in batch]
        return [outcomes[s.id] for s in batch]

    def _submit_alone(self, signed: SignedTransaction) -> Outcome:
        now_s = int(self.clock())
        if self.store.results([signed.id]).get(signed.id):
            return Outcome(signed.id, None, replayed=True)
        result = validate(signed, self.store, self.registry, now_s)
        if not isinstance(result, Accepted):
            return Outcome(signed.id, result)
        try:
            self.store.commit([result], now_s)
        except IntegrityError:
            spent = Refusal(ResultCode.NOTE_ALREADY_SPENT, "another transaction spent a note "
                            "of this one first")
            return Outcome(signed.id, spent)
        return Outcome(signed.id, None)
