"""Who calls the central bank, and what they may see (architecture invariant 7).

What a caller may read follows attested ownership, never what a transaction or a request says
of itself: the central bank sees everything; a key sees its own notes and the transactions it
is a party to (it proves the key by signing); a bank also sees what the wallets it registered
see. A key is registered once (`node.central_records`), so no bank sees a participant's or
another bank's customer's data through a wallet. Anyone else is refused with the same 403
whether the thing exists or not, so a refusal teaches nothing.
"""

from __future__ import annotations

from collections.abc import Collection

from engine.encoding import from_bytes
from engine.ids import ParticipantId, TxId
from engine.model import Note, TokenRef, Transaction
from engine.participants import Participant, Registry
from engine.store import SqlStore
from node.central_records import CentralRecords
from node.errors import forbidden


class Access:
    """The registry of participants and the visibility rules over it."""

    def __init__(self, central: Participant, records: CentralRecords) -> None:
        self.central = central
        self.records = records
        self.registry = Registry.of(central, [])

    def reload(self) -> Registry:
        """Read the registry again from the participants table (after a registration)."""
        self.registry = Registry.of(self.central, self.records.participants())
        return self.registry

    def participant(self, caller: ParticipantId) -> Participant:
        """The registered participant (or the central bank) that signed the request."""
        found = self.registry.by_key(caller)
        if found is None:
            raise forbidden("only registered participants call the central bank")
        return found

    def role(self, caller: ParticipantId, role: str) -> Participant:
        """The caller, who must be a participant of `role`."""
        found = self.participant(caller)
        if found.role != role:
            raise forbidden(f"only a participant of role {role} may do this")
        return found

    def central_only(self, caller: ParticipantId) -> None:
        """Refuse anyone but the central bank."""
        if caller != self.central.key:
            raise forbidden("only the central bank may do this")

    def sees_owner(self, caller: ParticipantId, owner: str) -> bool:
        """Whether the caller may see `owner`'s notes and balances: the central bank, the
        owner, and the bank that registered the owner's wallet."""
        if caller in (self.central.key, owner):
            return True
        return self._banks_of(caller, [owner])

    def sees_transaction(self, caller: ParticipantId, store: SqlStore, tx_id: TxId) -> bool:
        """Whether the caller may see a committed transaction: the central bank, a party to
        it (`_parties`), and the bank that registered a party's wallet."""
        if caller == self.central.key:
            return True
        entry = store.journal_entry(tx_id)
        if entry is None:
            return False
        transaction = from_bytes(entry[0])
        spent = [note for note, _ in store.notes(transaction.inputs).values()]
        parties = _parties(transaction, spent, entry[1])
        return caller in parties or self._banks_of(caller, parties)

    def sees_note(self, caller: ParticipantId, note: Note) -> bool:
        """Whether the caller may see one note: who may see its owner, and who may see the
        party its lock refunds (which watches for the claim)."""
        refunds = note.lock is not None and self.sees_owner(caller, note.lock.refund_to)
        return refunds or self.sees_owner(caller, note.owner)

    def issues_token(self, caller: ParticipantId, store: SqlStore, token: TokenRef) -> bool:
        """Whether the caller is the central bank or the issuer of a deployed `token`."""
        if caller == self.central.key:
            return True
        policy = store.policy(token)
        participant = self.registry.by_key(caller)
        return policy is not None and participant is not None and (
            participant.name == policy.issuer)

    def _banks_of(self, caller: ParticipantId, owners: Collection[str]) -> bool:
        """Whether the caller is the bank that registered a wallet among `owners`. A wallet
        under the central bank's key was registered before a key could be registered once
        (the migration removed those under participants' keys): it makes no bank its own."""
        bank = self.registry.by_key(caller)
        if bank is None or bank.role != "bank":
            return False
        wallets = [owner for owner in owners if owner != self.central.key]
        return bank.name in self.records.wallet_banks(wallets).values()


def _parties(transaction: Transaction, spent: Collection[Note],
             endorser: ParticipantId | None) -> set[str]:
    """The parties to a committed transaction, as the ledger attests them (the journal keeps
    bodies, not signatures, and a body's own words about its sender attest nothing): every
    spent note's owner and the party its lock refunds (which learns the preimage of a claim
    so, as on a chain), the endorsing bank, and every payee."""
    parties: set[str] = {note.owner for note in spent}
    parties |= {note.lock.refund_to for note in spent if note.lock is not None}
    parties |= {output.owner for output in transaction.outputs}
    if endorser is not None:
        parties.add(endorser)
    return parties
