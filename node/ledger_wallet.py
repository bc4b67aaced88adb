"""A participant's own wallet on the central ledger: it builds and signs with its own key.

Banks, agencies and FX providers hold notes under their own keys and submit to the central bank
directly. Any of them pays another participant (`pay`: a bank funding a ministry's budget); an
agency (a ministry, a benefits office) also labels its plain money into its contract's token
(`label`) and distributes the token to customers' wallets (`distribute`). Each transaction is
built and signed here, so the key never leaves its holder. Notes
are chosen with the wallet's `NoteReservations`, so two of the agency's transactions in flight at
once never spend the same note; the transaction is built by `engine.wallet.build_payment`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Final

from dsl.facts import Party
from engine.encoding import INPUTS_MAX
from engine.ids import ParticipantId
from engine.model import HashLock, Note, TokenRef, Transaction
from engine.wallet import (
    InsufficientFunds,
    NoteReservations,
    Payment,
    build_payment,
    build_settlement,
    sign,
)
from node.client import NodeClient, local_refusal
from node.messages import (
    PAGE_SIZE_MAX,
    DirectoryQuery,
    NotesQuery,
    NoteWire,
    OutcomeWire,
    PayeeWire,
    RedemptionRequest,
    TransactionBatch,
)
from node.wire import note_from_wire, signed_to_wire

NOTE_PAGES_MAX: Final = 20  # pages of notes read to find enough of one kind of money


def payee_facts(payee: PayeeWire) -> Party:
    """The receiver's facts as the directory attests them (the payee's bank registered them)."""
    return Party(id=payee.account, role=payee.role, kyc=payee.kyc, bank=payee.bank,
                 region=payee.region, mcc=payee.mcc)


@dataclass
class LedgerWallet:
    """A participant's key (the client's), registered name (its facts' id; for an agency, its
    contracts' issuer) and role."""

    client: NodeClient
    name: str
    role: str = "agency"
    _reservations: NoteReservations = field(default_factory=NoteReservations)

    @property
    def key(self) -> ParticipantId:
        """The participant's public key."""
        return self.client.key.participant

    @property
    def facts(self) -> Party:
        """The participant as a party of its transactions."""
        return Party(id=self.name, role=self.role)

    async def pay(self, to: ParticipantId, receiver: Party, amount_minor: int, currency: str,
                  token: TokenRef | None = None, *, lock: HashLock | None = None,
                  memo: str | None = None) -> OutcomeWire:
        """Transfer to another participant (its key, and its facts as registered or `NO_FACTS`);
        change comes back here. With a `lock`, the payee's note (the transaction's first output)
        is one leg of a swap; a `memo` is for the payee's systems (a bridge's chain address)."""
        payment = Payment(amount_minor, currency, token, to, receiver, lock=lock, memo=memo)
        notes = await self._choose(payment)
        try:
            return await self._submit(self._build(payment, notes))
        finally:
            self._reservations.release(notes)

    async def settle(self, note: NoteWire, preimage: bytes | None) -> OutcomeWire:
        """Claim a hash-locked note with its `preimage` (as its owner, before the deadline), or
        refund it without one (as the party its lock names, from the deadline on).

        `note` is the note as the caller just read it from the ledger (a settler reads it
        anyway, to see whether it is spent); one spent since is refused by the notary."""
        return await self._submit(build_settlement(note_from_wire(note), self.facts,
                                                   preimage=preimage,
                                                   created_at_s=int(time.time()),
                                                   nonce=_nonce()))

    async def redeem(self, amount_minor: int, currency: str, central: Party) -> OutcomeWire:
        """A bank returns `amount_minor` of plain money to the central bank for reserves: a
        `redeem` whose only output is the change; the central bank co-signs it."""
        payment = Payment(amount_minor, currency, None, self.key, central, operation="redeem")
        notes = await self._choose(payment)
        try:
            built = self._build(payment, notes)
            signed = sign(replace(built, outputs=built.outputs[1:]), (self.client.key,))
            return await self.client.request_redemption(
                RedemptionRequest(transaction=signed_to_wire(signed)))
        finally:
            self._reservations.release(notes)

    async def label(self, token: TokenRef, amount_minor: int, currency: str) -> OutcomeWire:
        """Turn `amount_minor` of the agency's plain money into `token`; the change stays plain.

        Returns the ledger's outcome (committed or refused, with its code and reason)."""
        plain = Payment(amount_minor, currency, None, self.key, self.facts, operation="label")
        notes = await self._choose(plain)
        try:
            built = self._build(plain, notes)
            outputs = (replace(built.outputs[0], token=token), *built.outputs[1:])
            return await self._submit(replace(built, outputs=outputs))
        finally:
            self._reservations.release(notes)

    async def distribute(self, to: DirectoryQuery, token: TokenRef, amount_minor: int,
                         currency: str) -> OutcomeWire:
        """Send `amount_minor` of `token` to the wallet the directory resolves `to` to.

        The receiver's facts are the directory's (the wallet's bank attested them); the
        change comes back to the agency in the same token."""
        payee = await self.client.directory(to)
        payment = Payment(amount_minor, currency, token, ParticipantId(payee.key),
                          payee_facts(payee), operation="distribute")
        notes = await self._choose(payment)
        try:
            return await self._submit(self._build(payment, notes))
        finally:
            self._reservations.release(notes)

    async def _choose(self, payment: Payment) -> list[Note]:
        candidates = await self._holdings(payment)
        try:
            notes = self._reservations.choose(candidates, payment.amount_minor, payment.currency)
        except InsufficientFunds as short:
            raise local_refusal("insufficient_funds", str(short)) from None
        if len(notes) > INPUTS_MAX:
            self._reservations.release(notes)
            raise local_refusal("too_many_notes", f"the amount needs {len(notes)} notes; a "
                                f"transaction spends at most {INPUTS_MAX}")
        return notes

    async def _holdings(self, payment: Payment) -> Sequence[Note]:
        """The agency's unspent notes of the payment's money, enough to cover it if it can."""
        found: list[Note] = []
        cursor = ""
        for _ in range(NOTE_PAGES_MAX):
            page = await self.client.notes(NotesQuery(owner=self.key, currency=payment.currency,
                                                      limit=PAGE_SIZE_MAX, after=cursor))
            # A locked note is spent only by claiming or refunding it, never as money.
            found += [note for note in map(note_from_wire, page.items)
                      if note.token == payment.token and note.lock is None]
            if page.next is None or sum(n.amount_minor for n in found) >= payment.amount_minor:
                break
            cursor = page.next
        return found

    def _build(self, payment: Payment, notes: Sequence[Note]) -> Transaction:
        return build_payment(payment, notes, self.facts, self.key,
                             created_at_s=int(time.time()), nonce=_nonce())

    async def _submit(self, transaction: Transaction) -> OutcomeWire:
        signed = sign(transaction, (self.client.key,))
        answer = await self.client.submit_transactions(
            TransactionBatch(transactions=[signed_to_wire(signed)]))
        return answer.outcomes[0]


def _nonce() -> str:
    """Makes two equal transactions of one second two transactions."""
    return f"{time.time_ns()}-{secrets.token_hex(4)}"
