"""The wallet helper: concurrent payments from one wallet never choose the same note.

Method: Alice holds ten 100 000 KZT HEALTH notes on a real store; five threads pay a clinic at
once through one `Wallet`. All five must commit, spending five different notes, with no
note_already_spent; the contract's monthly limit then refuses a sixth.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from ledger_world import (
    ALICE,
    ALICE_FACTS,
    CLINIC,
    CUSTOMERS,
    GROCERY,
    HALYK,
    HEALTH,
    NOW_S,
    REGISTRY,
    SOURCE,
    facts_of,
    fund_alice,
)
from test_store import committed, url  # noqa: F401 - the per-store database fixture

from engine.notary import Notary
from engine.store import SqlStore
from engine.wallet import InsufficientFunds, Payment, Wallet

CLINIC_FACTS = facts_of(CLINIC)  # as Halyk registered it: MCC 8062
VISIT = Payment(1_000_000, "KZT", HEALTH, CLINIC.participant, CLINIC_FACTS, "purchase",
                plain_to_receiver=True)


def test_concurrent_payments_choose_distinct_notes(url: str) -> None:  # noqa: F811
    """Five simultaneous 100 000 KZT clinic visits all commit, each spending its own note; the
    sixth meets the contract's monthly limit, and more than the wallet holds is refused before
    anything is signed."""
    store = SqlStore(url)
    store.deploy(SOURCE)
    notary = Notary(store, REGISTRY, clock=lambda: NOW_S, directory=CUSTOMERS)
    for index in range(10):
        fund_alice(lambda signed: committed(notary, signed), nonce=f"w{index}")
    wallet = Wallet(ALICE, ALICE_FACTS, store, notary, cosigners=(HALYK,))
    visit = Payment(10_000_000, "KZT", HEALTH, CLINIC.participant, CLINIC_FACTS, "purchase",
                    plain_to_receiver=True)
    with ThreadPoolExecutor(max_workers=5) as pool:
        outcomes = list(pool.map(lambda _: wallet.pay(visit), range(5)))
    assert all(o.committed for o in outcomes), [o.refusal for o in outcomes]
    assert len(store.unspent(ALICE.participant, "KZT", HEALTH)) == 5
    sixth = wallet.pay(visit)
    assert sixth.refusal is not None and sixth.refusal.code.value == "limit_exceeded"
    with pytest.raises(InsufficientFunds):
        wallet.pay(Payment(60_000_000, "KZT", HEALTH, CLINIC.participant, CLINIC_FACTS,
                           "purchase", plain_to_receiver=True))
    store.close()


def test_a_refused_payment_releases_its_notes(url: str) -> None:  # noqa: F811
    """A purchase refused by the contract (a grocery) leaves the note free for the next one."""
    store = SqlStore(url)
    store.deploy(SOURCE)
    notary = Notary(store, REGISTRY, clock=lambda: NOW_S, directory=CUSTOMERS)
    fund_alice(lambda signed: committed(notary, signed))
    wallet = Wallet(ALICE, ALICE_FACTS, store, notary, cosigners=(HALYK,))
    grocery = Payment(100_000, "KZT", HEALTH, GROCERY.participant, facts_of(GROCERY),
                      "purchase", plain_to_receiver=True)
    refused = wallet.pay(grocery)
    assert refused.refusal is not None and refused.refusal.code.value == "purpose_not_allowed"
    assert wallet.pay(VISIT).committed
    store.close()
