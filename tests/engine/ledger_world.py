"""The health-benefit world shared by the engine tests: keys, registrations, builders, the story.

Method: deterministic Ed25519 keys from names, the shipped `health_benefit` contract, and helpers
that build and sign transactions the way a wallet and its bank would. The ledger believes only
registrations (docs/ledger.md, "Trust model"): the central bank, Halyk and the ministry are
registered participants (`REGISTRY`), and Alice, Bob, Dana (KYC tier 0), the clinic (MCC 8062)
and the grocery (MCC 5411) are Halyk's customers (`CUSTOMERS`, the directory every notary of
these tests reads). A transaction states either no facts (`NO_FACTS`) or exactly the registered
ones (`facts_of`); every spend of a customer's notes is co-signed by Halyk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from dsl.facts import Party
from engine.encoding import signing_bytes, transaction_id
from engine.ids import ContractHash, ParticipantId
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
from engine.participants import Customer, Customers, Participant, Registry

CONTRACT = Path(__file__).parents[2] / "contracts" / "health_benefit.earmark"
NOW_S = 1_767_225_600  # 2026-01-01 00:00 UTC
DAY_S = 86_400


def _key(name: str) -> KeyPair:
    return KeyPair.from_seed(hashlib.sha256(name.encode()).digest())


CENTRAL, HALYK, MINISTRY = _key("central"), _key("halyk"), _key("ministry")
ALICE, BOB, CLINIC, GROCERY = _key("alice"), _key("bob"), _key("clinic"), _key("grocery")
DANA = _key("dana")  # a customer at KYC tier 0
REGISTRY = Registry.of(
    Participant(CENTRAL.participant, "central-bank", "central_bank"),
    [Participant(HALYK.participant, "halyk", "bank"),
     Participant(MINISTRY.participant, "ministry-of-health", "agency")],
)
CUSTOMERS = Customers.of([
    Customer(ALICE.participant, "alice@halyk", "halyk", "individual", kyc=1),
    Customer(BOB.participant, "bob@halyk", "halyk", "individual", kyc=1),
    Customer(DANA.participant, "dana@halyk", "halyk", "individual", kyc=0),
    Customer(CLINIC.participant, "clinic@halyk", "halyk", "merchant", kyc=1, mcc=8062),
    Customer(GROCERY.participant, "grocery@halyk", "halyk", "merchant", kyc=1, mcc=5411),
])
# The registry with every customer's registration at hand, as a notary builds it per batch.
KNOWING = REGISTRY.knowing(CUSTOMERS.by_key)


def facts_of(key: KeyPair | ParticipantId) -> Party:
    """The registered facts of a participant or customer (what a transaction may state)."""
    found = KNOWING.party(key.participant if isinstance(key, KeyPair) else key)
    if found is None:
        raise LookupError(f"{key} is registered nowhere in the test world")
    return found


CENTRAL_FACTS, BANK_FACTS = facts_of(CENTRAL), facts_of(HALYK)
AGENCY_FACTS, ALICE_FACTS = facts_of(MINISTRY), facts_of(ALICE)
SOURCE = CONTRACT.read_text(encoding="utf-8")
HEALTH = TokenRef(ContractHash(hashlib.sha256(SOURCE.encode()).hexdigest()), "HEALTH")


def sign(transaction: Transaction, *keys: KeyPair) -> SignedTransaction:
    """The transaction signed by each key."""
    tx_id = transaction_id(transaction)
    signatures = tuple(Signature(k.participant, k.sign(signing_bytes(tx_id))) for k in keys)
    return SignedTransaction(tx_id, transaction, signatures)


def tx(operation: str, inputs: Sequence[Note], outputs: Sequence[Output], *,
       sender: Party = ALICE_FACTS, receiver: Party = NO_FACTS, at_s: int = NOW_S,
       channel: str = "online", nonce: str = "1") -> Transaction:
    """A transaction spending `inputs` (by default Alice's, stating no receiver facts)."""
    return Transaction(operation, tuple(n.id for n in inputs), tuple(outputs), sender,
                       receiver, at_s, nonce, channel)


class Submit(Protocol):
    """Commits a signed transaction and returns the notes it created (or raises on refusal)."""

    def __call__(self, signed: SignedTransaction) -> tuple[Note, ...]: ...


def fund_alice(submit: Submit, nonce: str = "1") -> Note:
    """The central bank issues to Halyk, Halyk pays the ministry, which labels 500 000 KZT as
    HEALTH and distributes 100 000 KZT to Alice; returns Alice's note. Another `nonce` runs the
    story again as new transactions. Every party's facts are stated as registered."""
    issued = submit(sign(tx("issue", [], [Output(HALYK.participant, 100_000_000, "KZT")],
                            sender=CENTRAL_FACTS, receiver=BANK_FACTS, nonce=nonce), CENTRAL))
    paid = submit(sign(tx("transfer", issued, [Output(MINISTRY.participant, 50_000_000, "KZT"),
                                               Output(HALYK.participant, 50_000_000, "KZT")],
                          sender=BANK_FACTS, receiver=AGENCY_FACTS, nonce=nonce), HALYK))
    labelled = submit(sign(tx("label", paid[:1],
                              [Output(MINISTRY.participant, 50_000_000, "KZT", HEALTH)],
                              sender=AGENCY_FACTS, receiver=AGENCY_FACTS, nonce=nonce),
                           MINISTRY))
    given = submit(sign(tx("distribute", labelled,
                           [Output(ALICE.participant, 10_000_000, "KZT", HEALTH),
                            Output(MINISTRY.participant, 40_000_000, "KZT", HEALTH)],
                           sender=AGENCY_FACTS, receiver=ALICE_FACTS, nonce=nonce), MINISTRY))
    return given[0]


def purchase(note: Note, merchant: KeyPair, amount_minor: int, *,
             receiver: Party | None = None, **kw: object) -> Transaction:
    """Alice pays `amount_minor` to a registered merchant, released as plain money, change kept
    earmarked; the merchant's facts are stated as registered unless `receiver` says otherwise.
    Her spend commits only with Halyk's signature or endorsement beside hers."""
    outputs = [Output(merchant.participant, amount_minor, "KZT")]
    if note.amount_minor > amount_minor:
        outputs.append(Output(ALICE.participant, note.amount_minor - amount_minor, "KZT", HEALTH))
    stated = facts_of(merchant) if receiver is None else receiver
    return tx("purchase", [note], outputs, receiver=stated, **kw)  # type: ignore[arg-type]
