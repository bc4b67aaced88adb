"""Hashed-timelocked notes and bridged tokens, through a real notary on SQLite.

Method: a notary whose clock the test sets; Alice locks plain money for Bob under a SHA-256
hashlock; claims and refunds are tried on both sides of the deadline, with and without the
preimage. Alice and Bob are Halyk's registered customers: Halyk co-signs their spends, but not
the claim or refund that settles a lock. A bridged yen token is issued and redeemed by its FX
provider alone. Every test ends with `earmark ledger verify`'s replay agreeing with the tables. A
property test runs random claim/refund schedules and checks that a lock settles once, to exactly
one side.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_world import (
    ALICE,
    BANK_FACTS,
    BOB,
    CENTRAL,
    CENTRAL_FACTS,
    CUSTOMERS,
    HALYK,
    NOW_S,
    REGISTRY,
    _key,
    facts_of,
    sign,
    tx,
)

from dsl.facts import Party
from engine.encoding import from_bytes, transaction_bytes
from engine.errors import ResultCode
from engine.ids import ContractHash
from engine.model import NO_FACTS, HashLock, Note, Output, SignedTransaction, TokenRef, Transaction
from engine.notary import Notary
from engine.participants import Participant, Registry
from engine.store import SqlStore
from engine.verify import verify

SECRET = bytes(range(32))
DIGEST = hashlib.sha256(SECRET).hexdigest()
DEADLINE_S = NOW_S + 3_600
BRIDGE = _key("yen-bridge")
BRIDGED_SOURCE = """contract yen_stablecoin version 1

token JPYS {
  currency JPY
  issuer "yen-bridge"
  bridged
}

policy JPYS {
  allow transfer
}
"""
JPYS = TokenRef(ContractHash(hashlib.sha256(BRIDGED_SOURCE.encode()).hexdigest()), "JPYS")
WITH_BRIDGE = Registry.of(REGISTRY.central_bank, [
    *(p for p in (REGISTRY.by_name("halyk", "bank"),
                  REGISTRY.by_name("ministry-of-health", "agency")) if p is not None),
    # The central bank lets the bridge issue its own tokens in yen, and only in yen.
    Participant(BRIDGE.participant, "yen-bridge", "fx_provider", bridged=frozenset({"JPY"}))])
BRIDGE_FACTS = Party("yen-bridge", "fx_provider")
BOB_FACTS = facts_of(BOB)


@dataclass
class Ledger:
    """A store and a notary whose clock is `now_s`."""

    store: SqlStore
    notary: Notary
    now_s: int = NOW_S

    def submit(self, signed: SignedTransaction) -> tuple[Note, ...]:
        """Commit or raise with the refusal; the created notes."""
        outcome = self.notary.submit(signed)
        assert outcome.committed, outcome.refusal
        return tuple(note for note, _ in self.store.notes_of(
            signed.transaction.outputs[0].owner, include_spent=True)
            if note.created_by == signed.id)

    def refused(self, signed: SignedTransaction) -> tuple[ResultCode, str]:
        """The refusal's code and reason (fails if it committed)."""
        outcome = self.notary.submit(signed)
        assert outcome.refusal is not None, "committed, but should have been refused"
        return outcome.refusal.code, outcome.refusal.reason


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    store = SqlStore(f"sqlite:///{tmp_path / 'ledger.db'}")
    store.deploy(BRIDGED_SOURCE)
    holder: list[Ledger] = []
    notary = Notary(store, WITH_BRIDGE, clock=lambda: holder[0].now_s, workers=1,
                    directory=CUSTOMERS)
    holder.append(Ledger(store, notary))
    yield holder[0]
    report = verify(store)
    notary.close()
    store.close()
    assert report.ok, report.mismatches


def _locked(ledger: Ledger, amount: int = 10_000, nonce: str = "lock") -> Note:
    """The bank funds Alice, who locks `amount` KZT for Bob with Halyk's co-signature."""
    issued = ledger.submit(sign(tx("issue", [], [Output(HALYK.participant, amount, "KZT")],
                                   sender=CENTRAL_FACTS, receiver=BANK_FACTS, nonce=nonce),
                                CENTRAL))
    funded = ledger.submit(sign(tx("transfer", issued, [Output(ALICE.participant, amount, "KZT")],
                                   sender=BANK_FACTS, nonce=nonce), HALYK))
    lock = HashLock(DIGEST, ALICE.participant, DEADLINE_S)
    locked = ledger.submit(sign(tx("transfer", funded, [
        Output(BOB.participant, amount, "KZT", lock=lock)], receiver=BOB_FACTS, nonce=nonce),
        ALICE, HALYK))
    return locked[0]


def _claim(note: Note, preimage: bytes | None, *, at_s: int = NOW_S) -> Transaction:
    transaction = tx("transfer", [note], [Output(BOB.participant, note.amount_minor, "KZT")],
                     sender=NO_FACTS, at_s=at_s, nonce="claim")
    return Transaction(**{**_fields(transaction),
                          "preimage": preimage.hex() if preimage is not None else None})


def _refund(note: Note, *, at_s: int) -> Transaction:
    return tx("transfer", [note], [Output(ALICE.participant, note.amount_minor, "KZT")],
              sender=NO_FACTS, at_s=at_s, nonce="refund")


def _fields(transaction: Transaction) -> dict[str, object]:
    return {name: getattr(transaction, name) for name in Transaction.__dataclass_fields__}


def test_a_lock_travels_in_the_canonical_bytes_and_leaves_old_ids_alone() -> None:
    """Encoding: a locked output and a preimage round-trip; without them the bytes carry no
    new keys, so every transaction signed before locks existed keeps its id."""
    plain = tx("transfer", [], [Output(BOB.participant, 5, "KZT")])
    assert b"lock" not in transaction_bytes(plain)
    assert b"preimage" not in transaction_bytes(plain)
    locked = Transaction(**{**_fields(plain), "preimage": SECRET.hex(), "outputs": (
        Output(BOB.participant, 5, "KZT", lock=HashLock(DIGEST, ALICE.participant, 9)),)})
    assert from_bytes(transaction_bytes(locked)) == locked


def test_the_receiver_claims_with_the_preimage_before_the_deadline(ledger: Ledger) -> None:
    """Claim: Bob spends the locked note to himself revealing the secret; the new note is his,
    unlocked, and counted in his spendable money."""
    note = _locked(ledger)
    assert ledger.store.unspent(BOB.participant, "KZT", None) == []  # locked is not spendable
    claimed = ledger.submit(sign(_claim(note, SECRET), BOB))
    assert [(n.owner, n.lock) for n in claimed] == [(BOB.participant, None)]
    assert ledger.store.unspent(BOB.participant, "KZT", None) == list(claimed)


def test_a_claim_without_the_right_preimage_is_refused(ledger: Ledger) -> None:
    """Claim: no preimage, or the wrong one, is not_authorised, naming the lock."""
    note = _locked(ledger)
    for preimage in (None, bytes(32)):
        code, reason = ledger.refused(sign(_claim(note, preimage), BOB))
        assert code is ResultCode.NOT_AUTHORISED
        assert "hash-locked" in reason


def test_the_sender_cannot_refund_before_the_deadline(ledger: Ledger) -> None:
    """Refund: Alice signing for her locked money before the deadline is not its spender."""
    note = _locked(ledger)
    code, _ = ledger.refused(sign(_refund(note, at_s=NOW_S), ALICE))
    assert code is ResultCode.NOT_AUTHORISED


def test_after_the_deadline_only_the_sender_takes_it_back(ledger: Ledger) -> None:
    """Refund: from the deadline on (the notary's clock), Bob's claim fails even with the
    secret, and Alice's refund commits back to her."""
    note = _locked(ledger)
    ledger.now_s = DEADLINE_S
    code, _ = ledger.refused(sign(_claim(note, SECRET, at_s=DEADLINE_S), BOB))
    assert code is ResultCode.NOT_AUTHORISED
    refunded = ledger.submit(sign(_refund(note, at_s=DEADLINE_S), ALICE))
    assert [(n.owner, n.amount_minor) for n in refunded] == [(ALICE.participant, 10_000)]


def test_a_malformed_preimage_or_digest_is_malformed(ledger: Ledger) -> None:
    """Shape: a preimage or digest that is not 32 bytes of hex is refused as malformed."""
    note = _locked(ledger)
    short = Transaction(**{**_fields(_claim(note, None)), "preimage": "abcd"})
    assert ledger.refused(sign(short, BOB))[0] is ResultCode.MALFORMED
    bad_lock = tx("transfer", [note], [Output(BOB.participant, note.amount_minor, "KZT",
                                              lock=HashLock("zz", BOB.participant, 1))],
                  sender=NO_FACTS)
    assert ledger.refused(sign(bad_lock, BOB))[0] is ResultCode.MALFORMED


def _mint(amount: int, nonce: str = "deposit-1") -> Transaction:
    return tx("issue", [], [Output(BOB.participant, amount, "JPY", JPYS)],
              sender=BRIDGE_FACTS, receiver=BOB_FACTS, nonce=nonce)


def test_a_bridged_token_is_issued_and_redeemed_by_its_issuer_alone(ledger: Ledger) -> None:
    """Bridged token: the FX provider issues JPYS to Bob without the central bank; Bob pays it
    back to the bridge, which redeems (burns) it; the verifier's supply follows."""
    minted = ledger.submit(sign(_mint(700), BRIDGE))
    assert [(n.owner, n.token) for n in minted] == [(BOB.participant, JPYS)]
    back = ledger.submit(sign(tx("transfer", minted, [Output(BRIDGE.participant, 700, "JPY",
                                                             JPYS)],
                                 sender=BOB_FACTS, receiver=BRIDGE_FACTS,
                                 nonce="withdraw-1"), BOB, HALYK))
    assert verify(ledger.store).supply == {"JPY": 700}
    # The burn states no receiver facts: the ledger reads them from the registrations.
    burn = tx("redeem", back, [Output(BRIDGE.participant, 200, "JPY", JPYS)],
              sender=BRIDGE_FACTS, nonce="withdraw-1")
    ledger.submit(sign(burn, BRIDGE))
    assert verify(ledger.store).supply == {"JPY": 200}


def test_only_the_issuer_mints_a_bridged_token(ledger: Ledger) -> None:
    """Bridged token: the central bank or a bank signing an issue of JPYS is not_authorised,
    and an ordinary earmarked token is never issued at all."""
    for key in (CENTRAL, HALYK):
        code, reason = ledger.refused(sign(_mint(5), key))
        assert code is ResultCode.NOT_AUTHORISED
        assert "yen-bridge" in reason


def test_a_bridged_issue_is_idempotent_by_its_id(ledger: Ledger) -> None:
    """Bridged token: the same signed deposit submitted twice (a bridge restarting) credits
    once; the second answer is a replay."""
    signed = sign(_mint(50), BRIDGE)
    assert ledger.notary.submit(signed).committed
    again = ledger.notary.submit(signed)
    assert again.committed and again.replayed
    assert verify(ledger.store).supply == {"JPY": 50}


@settings(max_examples=25, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["claim", "refund", "claim-wrong"]),
                          st.integers(min_value=-10, max_value=10)), min_size=1, max_size=6))
def test_a_lock_settles_once_to_one_side(tmp_path_factory: pytest.TempPathFactory,
                                         attempts: list[tuple[str, int]]) -> None:
    """Property: whatever claims and refunds are tried at whatever times around the deadline,
    the locked amount ends with at most one of the two parties, once, and a claim commits only
    before the deadline and a refund only from it."""
    store = SqlStore(f"sqlite:///{tmp_path_factory.mktemp('lock') / 'ledger.db'}")
    clock = [NOW_S]
    notary = Notary(store, WITH_BRIDGE, clock=lambda: clock[0], workers=1, directory=CUSTOMERS)
    ledger = Ledger(store, notary)
    note = _locked(ledger)
    committed = []
    for kind, offset in attempts:
        clock[0] = ledger.now_s = DEADLINE_S + offset
        if kind == "refund":
            signed = sign(_refund(note, at_s=clock[0]), ALICE)
        else:
            signed = sign(_claim(note, SECRET if kind == "claim" else bytes(32), at_s=clock[0]),
                          BOB)
        if notary.submit(signed).committed and not committed:
            committed.append((kind, offset))
    held = {owner: sum(n.amount_minor for n in store.unspent(owner, "KZT", None))
            for owner in (ALICE.participant, BOB.participant)}
    notary.close()
    assert verify(store).ok
    store.close()
    assert sorted(held.values()) in ([0, 0], [0, 10_000])
    for kind, offset in committed:
        assert kind != "claim-wrong"
        assert (offset < 0) if kind == "claim" else (offset >= 0)
        assert held[BOB.participant if kind == "claim" else ALICE.participant] == 10_000


def test_a_bridged_issue_cannot_slip_plain_money_in(ledger: Ledger) -> None:
    """Bridged token: an issue by the FX provider that adds a plain-money output is malformed:
    only the central bank creates plain money."""
    mixed = tx("issue", [], [Output(BOB.participant, 5, "JPY", JPYS),
                             Output(BRIDGE.participant, 5, "JPY")],
               sender=BRIDGE_FACTS, receiver=BOB_FACTS, nonce="mixed")
    assert ledger.refused(sign(mixed, BRIDGE))[0] is ResultCode.MALFORMED
