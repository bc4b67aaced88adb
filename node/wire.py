"""Between the engine's values and the API's models: one translation for every service."""

from __future__ import annotations

from engine.encoding import from_wire, to_wire
from engine.errors import Refusal, ResultCode, TransactionRefused
from engine.ids import ContractHash, NoteId, ParticipantId, TxId
from engine.model import Endorsement, HashLock, Note, Signature, SignedTransaction, TokenRef
from engine.notary import Outcome
from node.messages import (
    EndorsementWire,
    LockWire,
    NoteWire,
    OutcomeWire,
    RuleWire,
    SignatureWire,
    SignedTransactionWire,
    TokenWire,
)


def signed_from_wire(wire: SignedTransactionWire) -> SignedTransaction:
    """The engine's signed transaction; raises `TransactionRefused(malformed)` on a defect."""
    transaction = from_wire(wire.transaction)
    signatures = tuple(Signature(ParticipantId(s.signer), bytes.fromhex(s.signature))
                       for s in wire.signatures)
    return SignedTransaction(TxId(wire.id), transaction, signatures)


def signed_to_wire(signed: SignedTransaction) -> SignedTransactionWire:
    """The API form of a signed transaction."""
    return SignedTransactionWire(
        id=signed.id, transaction=to_wire(signed.transaction),
        signatures=[SignatureWire(signer=s.signer, signature=s.signature.hex())
                    for s in signed.signatures])


def endorsement_from_wire(wire: EndorsementWire) -> Endorsement:
    """The engine's endorsement."""
    return Endorsement(ParticipantId(wire.signer), tuple(TxId(i) for i in wire.tx_ids),
                       bytes.fromhex(wire.signature))


def endorsement_to_wire(endorsement: Endorsement) -> EndorsementWire:
    """The API form of an endorsement."""
    return EndorsementWire(signer=endorsement.signer, tx_ids=list(endorsement.tx_ids),
                           signature=endorsement.signature.hex())


def outcome_to_wire(outcome: Outcome) -> OutcomeWire:
    """The API form of the notary's answer."""
    refusal = outcome.refusal
    if refusal is None:
        return OutcomeWire(tx_id=outcome.tx_id, status="committed", code="committed",
                           replayed=outcome.replayed)
    return OutcomeWire(tx_id=outcome.tx_id, status="refused", code=refusal.code.value,
                       reason=refusal.reason, rule=rule_to_wire(refusal),
                       replayed=outcome.replayed)


def refused_outcome(tx_id: str, refused: TransactionRefused) -> OutcomeWire:
    """The answer for a transaction that could not even be decoded."""
    return outcome_to_wire(Outcome(TxId(tx_id), refused.refusal))


def rule_to_wire(refusal: Refusal) -> RuleWire | None:
    """The deciding rule of a contract refusal, if a contract decided."""
    rule = refusal.rule
    return RuleWire(contract=rule.contract, name=rule.name, line=rule.line) if rule else None


def refusal_from_wire(outcome: OutcomeWire) -> Refusal | None:
    """The refusal an answer carries, if it is one (the bank reads central's answers so)."""
    if outcome.status == "committed":
        return None
    return Refusal(ResultCode(outcome.code), outcome.reason)


def token_to_wire(token: TokenRef | None) -> TokenWire | None:
    """The API form of a token reference."""
    return TokenWire(contract=token.contract, token=token.token) if token else None


def token_from_wire(token: TokenWire | None) -> TokenRef | None:
    """The engine's token reference."""
    return TokenRef(ContractHash(token.contract), token.token) if token else None


def note_to_wire(note: Note, spent_by: str | None = None) -> NoteWire:
    """The API form of a note."""
    return NoteWire(id=note.id, owner=note.owner, amount_minor=note.amount_minor,
                    currency=note.currency, token=token_to_wire(note.token),
                    issued_at_s=note.issued_at_s, created_by=note.created_by, spent_by=spent_by,
                    lock=lock_to_wire(note.lock))


def lock_to_wire(lock: HashLock | None) -> LockWire | None:
    """The API form of a hashed timelock."""
    if lock is None:
        return None
    return LockWire(digest=lock.digest, refund_to=lock.refund_to, deadline_s=lock.deadline_s)


def note_from_wire(wire: NoteWire) -> Note:
    """The engine's note (a bank reads the notes the central bank lists so)."""
    lock = wire.lock
    return Note(NoteId(wire.id), ParticipantId(wire.owner), wire.amount_minor, wire.currency,
                token_from_wire(wire.token), wire.issued_at_s, TxId(wire.created_by),
                HashLock(lock.digest, ParticipantId(lock.refund_to), lock.deadline_s)
                if lock else None)
