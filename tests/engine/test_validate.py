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

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from ledger_world import (
    AGENCY_FACTS,
    ALICE,
    ALICE_FACTS,
    BANK_FACTS,
    BOB,
    CENTRAL,
    CENTRAL_FACTS,
    CLINIC,
    DANA,
    DAY_S,
    GROCERY,
    HALYK,
    HEALTH,
    KNOWING,
    MINISTRY,
    NOW_S,
    REGISTRY,
    SOURCE,
    _key,
    facts_of,
    fund_alice,
    purchase,
    sign,
    tx,
)

from dsl.evaluate import CompiledPolicy
from dsl.facts import Party, Usage
from dsl.phases import CompiledContract
from engine.encoding import INTEGER_MAX, SUPPLY_MAX_MINOR, transaction_id
from engine.errors import Refusal, ResultCode
from engine.ids import ContractHash, NoteId, ParticipantId
from engine.keys import KeyPair
from engine.model import (
    NO_FACTS,
    HashLock,
    Note,
    Output,
    Signature,
    SignedTransaction,
    TokenRef,
    Transaction,
)
from engine.participants import Participant, Registry
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

    def outstanding_in(self, currency: str) -> int:
        return sum(note.amount_minor for note, spent in self.entries.values()
                   if not spent and note.currency == currency)

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


def test_only_a_bank_redeems_plain_money(funded: tuple[MemoryLedger, Note]) -> None:
    """The central bank redeems a bank's own notes: the ministry's plain money, even with the
    central bank's signature, is not_authorised; Halyk's commits."""
    ledger, _ = funded
    for holder, code in ((MINISTRY, ResultCode.NOT_AUTHORISED), (HALYK, None)):
        note = _plain_to(ledger, MINISTRY, 5_000) if holder is MINISTRY else ledger.held(
            holder, None)
        redeem = sign(tx("redeem", [note], [], sender=NO_FACTS), holder, CENTRAL)
        if code is None:
            assert accept(ledger, redeem).created == ()
        else:
            refusal = refuse(ledger, redeem)
            assert refusal.code is code
            assert "redeemed by a bank" in refusal.reason


# ---- the findings of issue 21: each committed before the ledger read the registrations -------

_LIES_SENDER = Party("ministry-of-health", "agency")  # Alice claims to be the agency
_LIES_RECEIVER = Party("grocery@halyk", "merchant", 1, "halyk", mcc=5912)  # "a pharmacy"


@pytest.mark.parametrize(("sender", "receiver", "signers", "expected"), [
    (_LIES_SENDER, _LIES_RECEIVER, (ALICE,), (ResultCode.NOT_AUTHORISED, "bank's signature")),
    (_LIES_SENDER, _LIES_RECEIVER, (ALICE, HALYK),
     (ResultCode.FACTS_NOT_ATTESTED, "the sender's stated id, role")),
    (ALICE_FACTS, _LIES_RECEIVER, (ALICE, HALYK),
     (ResultCode.FACTS_NOT_ATTESTED, "the receiver's stated mcc")),
    (NO_FACTS, NO_FACTS, (ALICE,), (ResultCode.NOT_AUTHORISED, "bank's signature")),
    (NO_FACTS, NO_FACTS, (ALICE, HALYK), (ResultCode.PURPOSE_NOT_ALLOWED, "closed by default")),
], ids=["as found: alone, lying", "lying, with her bank", "lying receiver, with her bank",
        "no facts, alone", "no facts, with her bank"])
def test_finding_a_customer_buys_groceries_with_benefit_by_stating_her_own_facts(
        funded: tuple[MemoryLedger, Note], sender: Party, receiver: Party,
        signers: tuple[KeyPair, ...], expected: tuple[ResultCode, str]) -> None:
    """Finding (a): Alice signed alone a HEALTH purchase at the grocery saying she was the
    agency (so no bank co-signature was asked) and that the grocery had MCC 5912 (a pharmacy,
    allowed). Her notes move only with Halyk; stated facts must be the registrations; and with
    none stated the purchase is judged on the grocery's registered MCC 5411: closed by default."""
    ledger, note = funded
    refusal = refuse(ledger, sign(purchase(note, GROCERY, 300_000, sender=sender,
                                           receiver=receiver), *signers))
    code, because = expected
    assert refusal.code is code, refusal
    assert because in refusal.reason


def _plain_to(ledger: MemoryLedger, owner: KeyPair, amount_minor: int) -> Note:
    """The central bank issues to Halyk, which pays `owner` plain KZT."""
    (issued,) = accept(ledger, sign(tx("issue", [], [Output(HALYK.participant, amount_minor,
                                                            "KZT")], sender=CENTRAL_FACTS,
                                       nonce=f"fund-{owner.participant[:8]}"), CENTRAL)).created
    (paid,) = accept(ledger, sign(tx("transfer", [issued], [
        Output(owner.participant, amount_minor, "KZT")], sender=BANK_FACTS,
        nonce=f"fund-{owner.participant[:8]}"), HALYK)).created
    return paid


@pytest.mark.parametrize("stated", [NO_FACTS, Party("dana@halyk", "bank")],
                         ids=["no facts", "says she is a bank"])
def test_finding_a_tier_0_customer_moves_plain_money_without_her_bank(stated: Party) -> None:
    """Finding (b): Dana (KYC tier 0) paid Bob plain KZT signing alone: who co-signs was decided
    by the role the transaction stated. It is decided by who owns the notes: a customer's, so
    Halyk must sign, and with Halyk the same payment commits."""
    ledger = MemoryLedger()
    note = _plain_to(ledger, DANA, 5_000)
    payment = tx("transfer", [note], [Output(BOB.participant, 5_000, "KZT")], sender=stated)
    refusal = refuse(ledger, sign(payment, DANA))
    assert refusal.code is ResultCode.NOT_AUTHORISED
    assert "halyk" in refusal.reason
    honest = tx("transfer", [note], [Output(BOB.participant, 5_000, "KZT")], sender=NO_FACTS)
    (paid,) = accept(ledger, sign(honest, DANA, HALYK)).created
    assert (paid.owner, paid.token) == (BOB.participant, None)


EVIL_FX = _key("evil-fx")
EVIL_SOURCE = """contract evil_fx version 1
  "A bridged tenge that its FX provider would pay out as plain tenge."

token EVIL {
  currency KZT
  issuer "evil-fx"
  bridged
}

policy EVIL {
  allow purchase
  release on purchase
}
"""
EVIL = TokenRef(ContractHash(hashlib.sha256(EVIL_SOURCE.encode()).hexdigest()), "EVIL")


def _with_evil_fx(bridged: frozenset[str]) -> Registry:
    """The world's registry plus the FX provider evil-fx, allowed bridged tokens in `bridged`."""
    others = [p for p in (REGISTRY.by_name("halyk", "bank"),
                          REGISTRY.by_name("ministry-of-health", "agency")) if p is not None]
    evil = Participant(EVIL_FX.participant, "evil-fx", "fx_provider", bridged=bridged)
    return Registry.of(REGISTRY.central_bank, [*others, evil]).knowing(KNOWING.known_customers)


EVIL_ALLOWED = _with_evil_fx(frozenset({"KZT"}))  # the central bank let it bridge tenge
EVIL_NOT_ALLOWED = _with_evil_fx(frozenset({"JPY"}))


def _evil_ledger(funded: tuple[MemoryLedger, Note]) -> MemoryLedger:
    ledger, _ = funded
    ledger.policies[EVIL] = CompiledContract(EVIL_SOURCE).policy("EVIL")
    return ledger


def _evil_issue(amount_minor: int, nonce: str = "evil") -> SignedTransaction:
    return sign(tx("issue", [], [Output(EVIL_FX.participant, amount_minor, "KZT", EVIL)],
                   sender=NO_FACTS, nonce=nonce), EVIL_FX)


@pytest.mark.parametrize(("operation", "outputs"), [
    ("purchase", lambda note: [Output(GROCERY.participant, 1_000, "KZT"),
                               Output(EVIL_FX.participant, note.amount_minor - 1_000, "KZT",
                                      EVIL)]),
    ("return", lambda note: [Output(EVIL_FX.participant, note.amount_minor, "KZT")]),
    ("redeem", lambda note: [Output(EVIL_FX.participant, note.amount_minor, "KZT")]),
], ids=["released by a purchase", "returned", "redeemed into plain"])
def test_finding_an_fx_provider_pays_out_its_bridged_tenge_as_plain_money(
        funded: tuple[MemoryLedger, Note], operation: str,
        outputs: Callable[[Note], list[Output]]) -> None:
    """Finding (c): evil-fx deployed a bridged KZT token whose policy allows a purchase and
    releases it, issued some to itself, and "bought" at the grocery, which received plain KZT:
    central-bank money created by an FX provider. A bridged token never turns into plain money
    (released, returned or redeemed), even where the central bank allowed the bridge; plain
    supply is unchanged."""
    ledger = _evil_ledger(funded)
    plain_before = ledger.outstanding("KZT", None)
    (minted,) = accept(ledger, _evil_issue(1_000_000), registry=EVIL_ALLOWED).created
    spend = tx(operation, [minted], outputs(minted), sender=NO_FACTS)
    signers = (EVIL_FX, CENTRAL) if operation == "redeem" else (EVIL_FX,)
    refusal = refuse(ledger, sign(spend, *signers), registry=EVIL_ALLOWED)
    assert refusal.code is ResultCode.TOKEN_CHANGE_NOT_ALLOWED
    assert ledger.outstanding("KZT", None) == plain_before
    assert ledger.outstanding("KZT", EVIL) == 1_000_000


def test_finding_an_fx_provider_issues_bridged_tenge_the_central_bank_never_allowed(
        funded: tuple[MemoryLedger, Note]) -> None:
    """Finding (c): any registered FX provider could issue a bridged token in any currency it
    wrote into its contract. The central bank allows each bridge its currencies
    (`Participant.bridged`): evil-fx, allowed yen only, issuing tenge is not_authorised."""
    ledger = _evil_ledger(funded)
    refusal = refuse(ledger, _evil_issue(1_000_000), registry=EVIL_NOT_ALLOWED)
    assert refusal.code is ResultCode.NOT_AUTHORISED
    assert "has not allowed evil-fx" in refusal.reason
    assert ledger.outstanding("KZT", EVIL) == 0


@pytest.mark.parametrize("kind", ["plain", "bridged"])
def test_finding_an_issue_beyond_the_supply_cap(funded: tuple[MemoryLedger, Note],
                                                kind: str) -> None:
    """Finding (c): issues were not capped, so one kind of money could pass 2**63 - 1 minor
    units and overflow every 64-bit total of it. Issuing the whole cap commits; one more minor
    unit is supply_cap_exceeded, for the central bank's plain money and for a bridged token."""
    ledger = MemoryLedger(policies=_evil_ledger(funded).policies)  # no money outstanding yet
    assert SUPPLY_MAX_MINOR == INTEGER_MAX == 2**63 - 1

    def issue(amount_minor: int, nonce: str) -> SignedTransaction:
        if kind == "bridged":
            return _evil_issue(amount_minor, nonce)
        return sign(tx("issue", [], [Output(HALYK.participant, amount_minor, "KZT")],
                       sender=NO_FACTS, nonce=nonce), CENTRAL)

    token = EVIL if kind == "bridged" else None
    accept(ledger, issue(SUPPLY_MAX_MINOR, "all"), registry=EVIL_ALLOWED)
    assert ledger.outstanding("KZT", token) == SUPPLY_MAX_MINOR
    refusal = refuse(ledger, issue(1, "one more"), registry=EVIL_ALLOWED)
    assert refusal.code is ResultCode.SUPPLY_CAP_EXCEEDED
    assert ledger.outstanding("KZT", token) == SUPPLY_MAX_MINOR


_SENDER_LIES = {"id": "bob@halyk", "role": "merchant", "kyc": 2, "bank": "kaspi",
                "region": "almaty", "mcc": 8062}
_RECEIVER_LIES = {"id": "pharmacy@halyk", "role": "individual", "kyc": 0, "bank": "kaspi",
                  "region": "almaty", "mcc": 5912}


@pytest.mark.parametrize("side", ["sender", "receiver"])
@pytest.mark.parametrize("name", list(_SENDER_LIES))
def test_finding_stated_facts_differ_from_the_registration(
        funded: tuple[MemoryLedger, Note], side: str, name: str) -> None:
    """Finding (d): each fact of either party was taken as stated. A clinic purchase that
    commits with the registered facts is facts_not_attested when any one field differs, and
    the refusal names the side and the field."""
    ledger, note = funded
    lies = (_SENDER_LIES if side == "sender" else _RECEIVER_LIES)[name]
    registered = ALICE_FACTS if side == "sender" else facts_of(CLINIC)
    assert getattr(registered, name) != lies
    changed: dict[str, Any] = {name: lies}
    stated = replace(registered, **changed)
    parties = {"sender": ALICE_FACTS, "receiver": facts_of(CLINIC), side: stated}
    refusal = refuse(ledger, sign(purchase(note, CLINIC, 100_000, **parties), ALICE, HALYK))
    assert refusal.code is ResultCode.FACTS_NOT_ATTESTED
    assert f"the {side}'s stated {name} differ" in refusal.reason
    accept(ledger, sign(purchase(note, CLINIC, 100_000, sender=ALICE_FACTS,
                                 receiver=facts_of(CLINIC)), ALICE, HALYK))


@pytest.mark.parametrize("stated", [NO_FACTS, Party("clinic@halyk", "merchant", 1, "halyk",
                                                    mcc=8062)], ids=["no facts", "the clinic's"])
def test_finding_money_sent_to_a_key_registered_nowhere(funded: tuple[MemoryLedger, Note],
                                                        stated: Party) -> None:
    """Finding (d): a purchase paid a key no bank registered, stating a clinic's facts for it.
    Money goes only to registered keys: party_unregistered, whatever is stated."""
    ledger, note = funded
    stranger = _key("mallory")
    refusal = refuse(ledger, sign(purchase(note, stranger, 100_000, receiver=stated), ALICE,
                                  HALYK))
    assert refusal.code is ResultCode.PARTY_UNREGISTERED


def test_finding_a_lock_refunds_to_a_third_party(funded: tuple[MemoryLedger, Note]) -> None:
    """Finding (d): Halyk locked plain money for Bob refundable to the ministry, so after the
    deadline the ministry could take money Halyk sent. A lock refunds to its sender."""
    ledger, _ = funded
    note = ledger.held(HALYK, None)
    lock = HashLock("ab" * 32, MINISTRY.participant, NOW_S + DAY_S)
    locked = tx("transfer", [note], [Output(BOB.participant, note.amount_minor, "KZT",
                                            lock=lock)], sender=BANK_FACTS)
    refusal = refuse(ledger, sign(locked, HALYK))
    assert refusal.code is ResultCode.NOT_AUTHORISED
    assert "refunds to its sender" in refusal.reason
    accept(ledger, sign(replace(locked, outputs=(replace(
        locked.outputs[0], lock=replace(lock, refund_to=HALYK.participant)),)), HALYK))


def test_finding_one_transaction_pays_two_receivers(funded: tuple[MemoryLedger, Note]) -> None:
    """Finding (d): a purchase paid the clinic and the grocery at once, judged only on the
    clinic stated as its receiver. A transaction pays one receiver (and its sender change)."""
    ledger, note = funded
    good = purchase(note, CLINIC, 100_000)
    both = replace(good, outputs=(*good.outputs[:1], Output(GROCERY.participant, 100_000, "KZT"),
                                  replace(good.outputs[1], amount_minor=note.amount_minor
                                          - 200_000)))
    refusal = refuse(ledger, sign(both, ALICE, HALYK))
    assert refusal.code is ResultCode.MALFORMED
    assert "one receiver" in refusal.reason


def test_finding_a_participant_states_a_channel_other_than_online(
        funded: tuple[MemoryLedger, Note]) -> None:
    """Finding (d): the channel a contract reads was whatever the transaction said. Only a
    customer's bank vouches for one other than online: the ministry distributing "by QR" is
    facts_not_attested (online, the same distribution commits)."""
    ledger, _ = funded
    note = ledger.held(MINISTRY, HEALTH)
    give = tx("distribute", [note], [Output(BOB.participant, 1_000, "KZT", HEALTH),
                                     Output(MINISTRY.participant, note.amount_minor - 1_000,
                                            "KZT", HEALTH)],
              sender=AGENCY_FACTS, channel="qr")
    refusal = refuse(ledger, sign(give, MINISTRY))
    assert refusal.code is ResultCode.FACTS_NOT_ATTESTED
    assert "channel qr" in refusal.reason
    accept(ledger, sign(replace(give, channel="online"), MINISTRY))


def test_finding_an_earmarked_note_is_redeemed(funded: tuple[MemoryLedger, Note]) -> None:
    """Finding (d): the ministry redeemed HEALTH notes at the central bank: the earmark ended
    outside release or return. An earmarked (not bridged) token is never redeemed."""
    ledger, _ = funded
    note = ledger.held(MINISTRY, HEALTH)
    redeem = tx("redeem", [note], [Output(MINISTRY.participant, 1_000, "KZT", HEALTH)],
                sender=AGENCY_FACTS)
    refusal = refuse(ledger, sign(redeem, MINISTRY, CENTRAL))
    assert refusal.code is ResultCode.NOT_AUTHORISED
    assert "never redeemed" in refusal.reason


def test_finding_a_label_from_token_notes(funded: tuple[MemoryLedger, Note]) -> None:
    """Finding (d): a label spent HEALTH notes into HEALTH, which restarts nothing but let a
    label take any token's notes in. A label turns plain money, and only plain money, into the
    token: token_change_not_allowed."""
    ledger, _ = funded
    note = ledger.held(MINISTRY, HEALTH)
    relabel = tx("label", [note], [Output(MINISTRY.participant, note.amount_minor, "KZT",
                                          HEALTH)], sender=AGENCY_FACTS)
    refusal = refuse(ledger, sign(relabel, MINISTRY))
    assert refusal.code is ResultCode.TOKEN_CHANGE_NOT_ALLOWED
    assert "plain money" in refusal.reason


def test_a_label_keeps_the_money_with_its_issuer(funded: tuple[MemoryLedger, Note]) -> None:
    """The ministry labels plain money straight into Dana's wallet (KYC 0), which its own
    `allow distribute when receiver.kyc >= 1` would refuse: the policy never judges a label, so
    a label may only keep the money with its issuer (not_authorised); labelling to itself
    commits."""
    ledger, _ = funded
    note = _plain_to(ledger, MINISTRY, 5_000)
    into_dana = tx("label", [note], [Output(DANA.participant, 5_000, "KZT", HEALTH)],
                   sender=AGENCY_FACTS, nonce="label-into-dana")
    refusal = refuse(ledger, sign(into_dana, MINISTRY))
    assert refusal.code is ResultCode.NOT_AUTHORISED
    assert "keeps the money with its issuer" in refusal.reason
    own = tx("label", [note], [Output(MINISTRY.participant, 5_000, "KZT", HEALTH)],
             sender=AGENCY_FACTS, nonce="label-own")
    accept(ledger, sign(own, MINISTRY))
