"""Validation: the health-benefit story through the ledger, one test per result code, and the
findings of issue 21 (the ledger believed what a transaction said about itself).

Method: a tiny in-memory ledger view (dicts; the durable stores have their own tests) holds notes
and the deployed contracts; each test builds signed transactions with real Ed25519 keys and
checks the accepted notes or the refusal's code, reason and rule. The registrations are the test
world's (`ledger_world`): participants, and Halyk's customers with the facts Halyk vouches for.
Each `test_finding_*` is an attack that the ledger committed before it read facts from the
registrations; each must now be refused, with nothing changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import pytest
from ledger_world import (
    AGENCY_FACTS,
    ALICE,
    BOB,
    CLINIC,
    DAY_S,
    GROCERY,
    HALYK,
    HEALTH,
    KNOWING,
    MINISTRY,
    NOW_S,
    SOURCE,
    facts_of,
    fund_alice,
    purchase,
    sign,
    tx,
)

from dsl.evaluate import CompiledPolicy
from dsl.facts import Usage
from dsl.phases import CompiledContract
from engine.encoding import transaction_id
from engine.errors import Refusal, ResultCode
from engine.ids import NoteId, ParticipantId
from engine.keys import KeyPair
from engine.model import (
    NO_FACTS,
    Note,
    Output,
    Signature,
    SignedTransaction,
    TokenRef,
    Transaction,
)
from engine.participants import Registry
from engine.validate import CLOCK_SKEW_MAX_S, Accepted, validate


@dataclass
class MemoryLedger:
    """Notes and their spent flags in dicts; `apply` commits an accepted transaction."""

    entries: dict[NoteId, tuple[Note, bool]] = field(default_factory=dict)
    policies: dict[TokenRef, CompiledPolicy] = field(default_factory=dict)
    fixed_usage: Usage = field(default_factory=Usage)

    def notes(self, ids: Sequence[NoteId]) -> Mapping[NoteId, tuple[Note, bool]]:
        return {note: self.entries[note] for note in ids if note in self.entries}

    def policy(self, token: TokenRef) -> CompiledPolicy | None:
        return self.policies.get(token)

    def usage(self, token: TokenRef, transaction: Transaction, owner: ParticipantId) -> Usage:
        return self.fixed_usage

    def outstanding(self, currency: str, token: TokenRef | None) -> int:
        return sum(note.amount_minor for note, spent in self.entries.values()
                   if not spent and (note.currency, note.token) == (currency, token))

    def apply(self, accepted: Accepted) -> None:
        for note in accepted.spent:
            self.entries[note.id] = (note, True)
        for note in accepted.created:
            self.entries[note.id] = (note, False)

    def held(self, owner: KeyPair, token: TokenRef | None) -> Note:
        """The first unspent note of `owner` in `token` (None: plain money)."""
        return next(note for note, spent in self.entries.values()
                    if not spent and note.owner == owner.participant and note.token == token)


def accept(ledger: MemoryLedger, signed: SignedTransaction, now_s: int = NOW_S,
           registry: Registry = KNOWING) -> Accepted:
    """Validate, require acceptance, and commit."""
    result = validate(signed, ledger, registry, now_s)
    assert isinstance(result, Accepted), result
    ledger.apply(result)
    return result


def refuse(ledger: MemoryLedger, signed: SignedTransaction, now_s: int = NOW_S,
           registry: Registry = KNOWING) -> Refusal:
    """Validate, require a refusal, and check that nothing changed."""
    before = dict(ledger.entries)
    result = validate(signed, ledger, registry, now_s)
    assert isinstance(result, Refusal), result
    assert ledger.entries == before
    return result


@pytest.fixture
def funded() -> tuple[MemoryLedger, Note]:
    """Alice holds 100 000 KZT of HEALTH in an in-memory ledger; returns it and her note."""
    ledger = MemoryLedger(policies={HEALTH: CompiledContract(SOURCE).policy("HEALTH")})
    note = fund_alice(lambda signed: accept(ledger, signed).created)
    return ledger, note


def test_a_clinic_purchase_commits_and_releases_plain_money(funded: tuple[MemoryLedger, Note]
                                                            ) -> None:
    """The design's purchase: allowed by `allow purchase`, the clinic gets plain KZT, Alice keeps
    earmarked change, and the spent note is marked spent."""
    ledger, note = funded
    accepted = accept(ledger, sign(purchase(note, CLINIC, 1_250_000), ALICE, HALYK))
    assert accepted.decision is not None and accepted.decision.release
    clinic, change = accepted.created
    assert (clinic.token, change.token) == (None, HEALTH)
    assert clinic.amount_minor + change.amount_minor == note.amount_minor
    assert change.issued_at_s == note.issued_at_s
    assert ledger.entries[note.id][1] is True


def test_a_grocery_purchase_is_refused_closed_by_default(funded: tuple[MemoryLedger, Note]
                                                         ) -> None:
    """No allow admits MCC 5411: purpose_not_allowed, no rule, the closed-by-default reason."""
    ledger, note = funded
    refusal = refuse(ledger, sign(purchase(note, GROCERY, 300_000), ALICE, HALYK))
    assert refusal.code is ResultCode.PURPOSE_NOT_ALLOWED
    assert refusal.rule is not None and refusal.rule.name == "policy HEALTH"
    assert "closed by default" in refusal.reason


def test_an_offline_purchase_over_the_cap_names_the_rule(funded: tuple[MemoryLedger, Note]
                                                         ) -> None:
    """The deny rule decides: its line and its because-text come back with the refusal."""
    ledger, note = funded
    signed = sign(purchase(note, CLINIC, 3_000_000, channel="offline"), ALICE, HALYK)
    refusal = refuse(ledger, signed)
    assert refusal.code is ResultCode.PURPOSE_NOT_ALLOWED
    assert refusal.rule is not None and (refusal.rule.name, refusal.rule.line) == (
        "deny purchase", 17)
    assert refusal.reason == "offline payments from benefits are capped at 20 000 KZT"


def test_the_monthly_limit_uses_the_ledgers_usage(funded: tuple[MemoryLedger, Note]) -> None:
    """With 450 000 KZT already spent this month, 100 000 more is limit_exceeded."""
    ledger, note = funded
    ledger.fixed_usage = Usage(wallet_month=45_000_000)
    refusal = refuse(ledger, sign(purchase(note, CLINIC, 10_000_000), ALICE, HALYK))
    assert refusal.code is ResultCode.LIMIT_EXCEEDED


def test_an_expired_note_is_refused_and_the_issuer_may_sweep_it(
        funded: tuple[MemoryLedger, Note]) -> None:
    """91 days on, Alice cannot spend; the ministry returns the note to itself without her.

    The note is a customer's, so her bank co-signs the sweep as it does every movement of her
    notes; the sender is Alice, whose notes move, whatever the transaction would say."""
    ledger, note = funded
    later = NOW_S + 91 * DAY_S
    refusal = refuse(ledger, sign(purchase(note, CLINIC, 100_000, at_s=later), ALICE,
                                  HALYK), now_s=later)
    assert refusal.code is ResultCode.NOTE_EXPIRED
    sweep = tx("return", [note], [Output(MINISTRY.participant, note.amount_minor, "KZT")],
               sender=NO_FACTS, receiver=AGENCY_FACTS, at_s=later)
    swept = accept(ledger, sign(sweep, MINISTRY, HALYK), now_s=later)
    assert [(n.owner, n.token) for n in swept.created] == [(MINISTRY.participant, None)]


def test_a_note_is_spent_at_most_once(funded: tuple[MemoryLedger, Note]) -> None:
    """The second spend of the same note is note_already_spent, whatever else it says."""
    ledger, note = funded
    accept(ledger, sign(purchase(note, CLINIC, 100_000), ALICE, HALYK))
    again = sign(purchase(note, CLINIC, 200_000, nonce="2"), ALICE, HALYK)
    assert refuse(ledger, again).code is ResultCode.NOTE_ALREADY_SPENT


@pytest.mark.parametrize(("case", "code"), [
    ("no bank co-signature", ResultCode.NOT_AUTHORISED),
    ("a stranger signs for alice", ResultCode.NOT_AUTHORISED),
    ("forged signature", ResultCode.BAD_SIGNATURE),
    ("wrong id", ResultCode.MALFORMED),
    ("stale time", ResultCode.MALFORMED),
    ("unknown note", ResultCode.NOTE_UNKNOWN),
    ("money from nothing", ResultCode.NOT_CONSERVED),
    ("change loses its earmark", ResultCode.TOKEN_CHANGE_NOT_ALLOWED),
    ("transfer to bob", ResultCode.PURPOSE_NOT_ALLOWED),
])
def test_each_defect_is_refused_with_its_code(funded: tuple[MemoryLedger, Note], case: str,
                                              code: ResultCode) -> None:
    """One defect per case, refused with its named code and no change to the ledger."""
    ledger, note = funded
    good = purchase(note, CLINIC, 100_000)
    signed = {
        "no bank co-signature": lambda: sign(good, ALICE),
        "a stranger signs for alice": lambda: sign(good, BOB, HALYK),
        "forged signature": lambda: replace(sign(good, ALICE, HALYK), signatures=(
            Signature(ALICE.participant, bytes(64)), *sign(good, HALYK).signatures)),
        "wrong id": lambda: replace(sign(good, ALICE, HALYK), id=transaction_id(
            replace(good, nonce="other"))),
        "stale time": lambda: sign(replace(good, created_at_s=NOW_S - CLOCK_SKEW_MAX_S - 1),
                                   ALICE, HALYK),
        "unknown note": lambda: sign(replace(good, inputs=(NoteId("00" * 32),)), ALICE, HALYK),
        "money from nothing": lambda: sign(replace(good, outputs=(
            *good.outputs, Output(ALICE.participant, 1, "KZT", HEALTH))), ALICE, HALYK),
        "change loses its earmark": lambda: sign(replace(good, outputs=(
            good.outputs[0], replace(good.outputs[1], token=None))), ALICE, HALYK),
        "transfer to bob": lambda: sign(tx("transfer", [note], [
            Output(BOB.participant, note.amount_minor, "KZT", HEALTH)],
            receiver=facts_of(BOB)), ALICE, HALYK),
    }[case]()
    assert refuse(ledger, signed).code is code


def test_only_the_central_bank_issues() -> None:
    """An issue signed by a bank alone is not_authorised."""
    ledger = MemoryLedger()
    signed = sign(tx("issue", [], [Output(HALYK.participant, 100, "KZT")],
                     sender=NO_FACTS), HALYK)
    assert refuse(ledger, signed).code is ResultCode.NOT_AUTHORISED
