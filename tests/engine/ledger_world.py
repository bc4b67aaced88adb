"""The health-benefit world shared by the engine tests: keys, registry, builders, the story.

Method: deterministic Ed25519 keys from names, the shipped `health_benefit` contract, and helpers
that build and sign transactions the way a wallet and its bank would.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from dsl.facts import Party
from engine.encoding import signing_bytes, transaction_id
from engine.ids import ContractHash
from engine.keys import KeyPair
from engine.model import Note, Output, Signature, SignedTransaction, TokenRef, Transaction
from engine.participants import Participant, Registry

CONTRACT = Path(__file__).parents[2] / "contracts" / "health_benefit.earmark"
NOW_S = 1_767_225_600  # 2026-01-01 00:00 UTC
DAY_S = 86_400


def _key(name: str) -> KeyPair:
    return KeyPair.from_seed(hashlib.sha256(name.encode()).digest())


CENTRAL, HALYK, MINISTRY = _key("central"), _key("halyk"), _key("ministry")
ALICE, BOB, CLINIC, GROCERY = _key("alice"), _key("bob"), _key("clinic"), _key("grocery")
REGISTRY = Registry.of(
    Participant(CENTRAL.participant, "central-bank", "central_bank"),
    [Participant(HALYK.participant, "halyk", "bank"),
     Participant(MINISTRY.participant, "ministry-of-health", "agency")],
)
ALICE_FACTS = Party("alice@halyk", "individual", 1, "halyk")
SOURCE = CONTRACT.read_text(encoding="utf-8")
HEALTH = TokenRef(ContractHash(hashlib.sha256(SOURCE.encode()).hexdigest()), "HEALTH")


def sign(transaction: Transaction, *keys: KeyPair) -> SignedTransaction:
    """The transaction signed by each key."""
    tx_id = transaction_id(transaction)
    signatures = tuple(Signature(k.participant, k.sign(signing_bytes(tx_id))) for k in keys)
    return SignedTransaction(tx_id, transaction, signatures)


def tx(operation: str, inputs: Sequence[Note], outputs: Sequence[Output], *,
       sender: Party = ALICE_FACTS, receiver: Party | None = None, at_s: int = NOW_S,
       channel: str = "online", nonce: str = "1") -> Transaction:
    """A transaction spending `inputs`."""
    return Transaction(operation, tuple(n.id for n in inputs), tuple(outputs), sender,
                       receiver or Party(), at_s, nonce, channel)


class Submit(Protocol):
    """Commits a signed transaction and returns the notes it created (or raises on refusal)."""

    def __call__(self, signed: SignedTransaction) -> tuple[Note, ...]: ...


def fund_alice(submit: Submit, nonce: str = "1") -> Note:
    """The central bank issues to Halyk, Halyk pays the ministry, which labels 500 000 KZT as
    HEALTH and distributes 100 000 KZT to Alice; returns Alice's note. Another `nonce` runs the
    story again as new transactions."""
    bank = Party("halyk", "bank")
    agency = Party("ministry-of-health", "agency")
    issued = submit(sign(tx("issue", [], [Output(HALYK.participant, 100_000_000, "KZT")],
                            sender=Party("central-bank", "central_bank"), receiver=bank,
                            nonce=nonce), CENTRAL))
    paid = submit(sign(tx("transfer", issued, [Output(MINISTRY.participant, 50_000_000, "KZT"),
                                               Output(HALYK.participant, 50_000_000, "KZT")],
                          sender=bank, receiver=agency, nonce=nonce), HALYK))
    labelled = submit(sign(tx("label", paid[:1],
                              [Output(MINISTRY.participant, 50_000_000, "KZT", HEALTH)],
                              sender=agency, receiver=agency, nonce=nonce), MINISTRY))
    given = submit(sign(tx("distribute", labelled,
                           [Output(ALICE.participant, 10_000_000, "KZT", HEALTH),
                            Output(MINISTRY.participant, 40_000_000, "KZT", HEALTH)],
                           sender=agency, receiver=ALICE_FACTS, nonce=nonce), MINISTRY))
    return given[0]


def purchase(note: Note, merchant: KeyPair, mcc: int, amount_minor: int,
             **kw: object) -> Transaction:
    """Alice pays `amount_minor` to a merchant, released as plain money, change kept earmarked."""
    outputs = [Output(merchant.participant, amount_minor, "KZT")]
    if note.amount_minor > amount_minor:
        outputs.append(Output(ALICE.participant, note.amount_minor - amount_minor, "KZT", HEALTH))
    receiver = Party(f"m{mcc}@halyk", "merchant", 1, "halyk", mcc=mcc)
    return tx("purchase", [note], outputs, receiver=receiver, **kw)  # type: ignore[arg-type]
