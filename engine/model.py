"""Notes, outputs, transactions and signatures: the ledger's values, frozen.

Money lives in notes (the token model of the Digital Tenge pilot and e-CNY). A transaction spends
whole input notes and creates output notes; a note of an earmarked token carries a reference to
the deployed contract and token whose policy governs it. A transaction may state the parties'
facts (role, KYC tier, merchant category…), but the ledger believes only the registrations
(`engine.participants`): stated facts must equal them, and `NO_FACTS` states none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from dsl.facts import Party, Quote
from engine.ids import ContractHash, NoteId, ParticipantId, TxId

# A transaction's sender or receiver that states no facts: the notary reads them from the
# registrations. (Its empty id is never a registered party's.)
NO_FACTS: Final = Party()


@dataclass(frozen=True, slots=True)
class TokenRef:
    """An earmarked token: a deployed contract (by hash) and a token it defines."""

    contract: ContractHash
    token: str


@dataclass(frozen=True, slots=True)
class HashLock:
    """A hashed timelock on a note (one leg of an atomic swap or a cross-border payment).

    Before `deadline_s` (the notary's clock) the note's owner may spend it only in a transaction
    that reveals the preimage of `digest`; from `deadline_s` on only `refund_to` may spend it.
    Whoever reveals the preimage to claim one leg thereby publishes it for the other leg."""

    digest: str  # hex SHA-256 of the 32-byte preimage
    refund_to: ParticipantId
    deadline_s: int


@dataclass(frozen=True, slots=True)
class Output:
    """A note a transaction creates: owner, amount in minor units, currency, token if earmarked,
    and a hashed timelock if it is one leg of a swap."""

    owner: ParticipantId
    amount_minor: int
    currency: str
    token: TokenRef | None = None
    lock: HashLock | None = None


@dataclass(frozen=True, slots=True)
class Note:
    """An unspent (or spent) note in the ledger."""

    id: NoteId
    owner: ParticipantId
    amount_minor: int
    currency: str
    token: TokenRef | None
    issued_at_s: int  # when its token was issued (labelled); expiry counts from here
    created_by: TxId
    lock: HashLock | None = None

    def spender(self, now_s: int) -> ParticipantId:
        """Who may spend the note at the notary's time `now_s`: its owner, or once a lock's
        deadline has passed, the lock's refund party."""
        lock = self.lock
        return lock.refund_to if lock is not None and now_s >= lock.deadline_s else self.owner


@dataclass(frozen=True, slots=True)
class Transaction:
    """What the sender asks the ledger to do; its id is the hash of its canonical encoding."""

    operation: str
    inputs: tuple[NoteId, ...]
    outputs: tuple[Output, ...]
    sender: Party
    receiver: Party
    created_at_s: int
    nonce: str  # chosen by the sender so that two identical payments have two ids
    channel: str = "online"
    quote: Quote | None = None
    preimage: str | None = None  # hex; reveals the secret that claims hash-locked inputs
    memo: str | None = None  # for the receiver's systems (a bridge's chain address); no fact


@dataclass(frozen=True, slots=True)
class Signature:
    """A signer's Ed25519 signature over the transaction id's signing bytes."""

    signer: ParticipantId
    signature: bytes


@dataclass(frozen=True, slots=True)
class SignedTransaction:
    """A transaction with its id and every signature it carries."""

    id: TxId
    transaction: Transaction
    signatures: tuple[Signature, ...]

    @property
    def signers(self) -> frozenset[ParticipantId]:
        """Who signed (validity is checked separately)."""
        return frozenset(signature.signer for signature in self.signatures)


@dataclass(frozen=True, slots=True)
class Endorsement:
    """A bank's one signature over a batch of its customers' transactions.

    The two-tier model has the sender's bank co-sign every customer transaction (its AML gate).
    A bank forwarding a batch may co-sign all of it at once: one signature over the batch's
    transaction ids (`engine.encoding.endorsing_bytes`) stands for a co-signature on each, so the
    notary verifies one signature per transaction instead of two.
    """

    signer: ParticipantId
    tx_ids: tuple[TxId, ...]
    signature: bytes
