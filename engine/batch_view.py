"""The ledger as a batch will leave it: the store's state, read once, plus the batch so far.

The notary validates a batch's transactions in order; each must see what the earlier ones spent,
created and used (so two payments in one batch cannot spend one note or share one limit). Reading
the store per transaction would cost a query each; instead the batch's input notes and usage
totals are read in one query each up front, and every later read is a dictionary lookup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dsl.evaluate import CompiledPolicy
from dsl.facts import Usage
from engine.ids import NoteId, ParticipantId, TxId
from engine.model import Note, SignedTransaction, TokenRef, Transaction
from engine.store import SqlStore
from engine.usage import (
    UsageKey,
    add_usage,
    receiving_owner,
    token_key,
    usage_keys,
    usage_of,
)
from engine.validate import Accepted

_HELD_FIELD = "receiver_held"


@dataclass
class BatchView:
    """A `LedgerView` over prefetched store state and the transactions accepted so far."""

    store: SqlStore
    stored_notes: dict[NoteId, tuple[Note, bool]] = field(default_factory=dict)
    stored_usage: dict[UsageKey, int] = field(default_factory=dict)
    accepted: list[Accepted] = field(default_factory=list)
    accepted_ids: set[TxId] = field(default_factory=set)
    spent: set[NoteId] = field(default_factory=set)
    created: dict[NoteId, Note] = field(default_factory=dict)
    deltas: dict[UsageKey, int] = field(default_factory=dict)
    held_deltas: dict[tuple[str, ParticipantId], int] = field(default_factory=dict)
    stored_held: dict[tuple[str, ParticipantId], int] = field(default_factory=dict)
    outstanding_deltas: dict[str, int] = field(default_factory=dict)  # by currency

    @classmethod
    def prefetch(cls, store: SqlStore, batch: Sequence[SignedTransaction]) -> BatchView:
        """Read every input note of `batch` and the usage totals its spends will need."""
        view = cls(store)
        view.stored_notes = dict(store.notes([i for s in batch for i in s.transaction.inputs]))
        keys: set[UsageKey] = set()
        for signed in batch:
            first = signed.transaction.inputs[0] if signed.transaction.inputs else None
            found = view.stored_notes.get(first) if first is not None else None
            token = found[0].token if found is not None else None
            if found is not None and token is not None:
                keys.update(usage_keys(token, signed.transaction, found[0].owner).values())
        view.stored_usage = dict.fromkeys(keys, 0) | store.usage_totals(keys)
        return view

    def notes(self, ids: Sequence[NoteId]) -> Mapping[NoteId, tuple[Note, bool]]:
        """The notes among `ids`, spent if the store or this batch spent them."""
        found = {}
        for note_id in ids:
            known = self.created.get(note_id)
            if known is not None:
                found[note_id] = (known, note_id in self.spent)
                continue
            stored = self.stored_notes.get(note_id)
            if stored is None:
                stored = self.store.notes([note_id]).get(note_id)  # not prefetched: read it
            if stored is not None:
                found[note_id] = (stored[0], stored[1] or note_id in self.spent)
        return found

    def policy(self, token: TokenRef) -> CompiledPolicy | None:
        """The token's compiled policy (the store caches it)."""
        return self.store.policy(token)

    def usage(self, token: TokenRef, transaction: Transaction, owner: ParticipantId) -> Usage:
        """Stored totals plus this batch's; holdings only when the policy limits them."""
        keys = usage_keys(token, transaction, owner)
        missing = [k for k in keys.values() if k not in self.stored_usage]
        if missing:
            self.stored_usage.update(dict.fromkeys(missing, 0) | self.store.usage_totals(missing))
        totals = {k: self.stored_usage[k] + self.deltas.get(k, 0) for k in keys.values()}
        receiver = receiving_owner(transaction, owner)
        held = 0
        if receiver is not None and _limits_holdings(self.policy(token)):
            held = self._held(token, receiver)
        return usage_of(keys, totals, held)

    def outstanding_in(self, currency: str) -> int:
        """What the store has outstanding in `currency` plus this batch's changes (read when
        asked: only an issue asks)."""
        return self.store.outstanding_in(currency) + self.outstanding_deltas.get(currency, 0)

    def add(self, accepted: Accepted) -> None:
        """Count an accepted transaction into the view."""
        self.accepted.append(accepted)
        self.accepted_ids.add(accepted.signed.id)
        for note in accepted.spent:
            self.spent.add(note.id)
            self._count(note, -note.amount_minor)
        for note in accepted.created:
            self.created[note.id] = note
            self._count(note, note.amount_minor)
        add_usage(self.deltas, accepted)

    def _count(self, note: Note, amount_minor: int) -> None:
        deltas = self.outstanding_deltas
        deltas[note.currency] = deltas.get(note.currency, 0) + amount_minor
        self._count_held(note, amount_minor)

    def _count_held(self, note: Note, amount_minor: int) -> None:
        if note.token is not None:
            key = (token_key(note.token), note.owner)
            self.held_deltas[key] = self.held_deltas.get(key, 0) + amount_minor

    def _held(self, token: TokenRef, owner: ParticipantId) -> int:
        key = (token_key(token), owner)
        if key not in self.stored_held:
            # Read before this batch's changes: the store has not seen them yet.
            self.stored_held[key] = self.store.held(token, owner)
        return self.stored_held[key] + self.held_deltas.get(key, 0)


def _limits_holdings(policy: CompiledPolicy | None) -> bool:
    return policy is not None and any(
        limit.usage_field == _HELD_FIELD for plan in policy.plans.values()
        for limit in plan.limits)
