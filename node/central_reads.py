"""What participants look up at the central bank: participants, payees, notes, balances,
transactions and the monetary statistics, each behind the visibility rules of
`node.central_access`.

The registry, the directory and the deployed contracts are for participants; a note, an owner's
notes and balances, and a transaction are for whoever `Access` lets see them, participant or
not (a customer reading her own wallet), and anyone else gets the same 403 whether the thing
exists or not.
"""

from __future__ import annotations

import asyncio
import re
from typing import Final

from engine.encoding import from_bytes, to_wire
from engine.ids import ContractHash, NoteId, ParticipantId, TxId
from engine.model import Note, TokenRef
from engine.participants import Participant
from engine.store import SqlStore
from node.api import Api, Call
from node.central_access import Access
from node.database import read
from node.errors import bad_request, forbidden, not_found
from node.messages import (
    BalanceList,
    BalanceWire,
    DirectoryQuery,
    JournalEntryWire,
    NoteList,
    NotesQuery,
    NoteWire,
    OutcomeWire,
    Page,
    ParticipantList,
    ParticipantWire,
    PayeeWire,
    Statistics,
    SupplyWire,
    TokenWire,
)
from node.statistics import statistics
from node.tables import WalletRow
from node.wire import note_to_wire, token_to_wire

_HEX64: Final = re.compile(r"[0-9a-f]{64}")


def _owner_key(owner: str) -> None:
    if not _HEX64.fullmatch(owner):
        raise bad_request("invalid_request", "an owner is a public key, 64 hex digits")


def masked(display_name: str) -> str:
    """A name as confirmation of payee shows it: each word's first letter, then stars
    ("Sokha Chan" → "S**** C***"), enough to recognise a payee, not to learn a name."""
    return " ".join(word[0] + "*" * (len(word) - 1) for word in display_name.split())


def payee_wire(row: WalletRow) -> PayeeWire:
    """A directory entry on the wire, its name masked."""
    return PayeeWire(key=row.key, account=row.account, bank=row.bank,
                     display_name=masked(row.display_name), role=row.role, kyc=row.kyc,
                     mcc=row.mcc, region=row.region)


class CentralReads:
    """The read operations of the central bank."""

    def __init__(self, access: Access, store: SqlStore) -> None:
        self.access = access
        self.store = store
        self.records = access.records

    def declare(self, api: Api) -> None:
        """Add these operations to `api`."""
        route = api.route
        route("GET", "/participants", summary="Registered participants", tag="participants",
              query=Page, response=ParticipantList)(self.participants)
        route("GET", "/directory", summary="Resolve a payee by account or phone",
              tag="directory", query=DirectoryQuery, response=PayeeWire)(self.directory)
        route("GET", "/notes", summary="An owner's notes", tag="ledger", query=NotesQuery,
              response=NoteList)(self.notes)
        route("GET", "/notes/{note_id}", summary="One note and what spent it", tag="ledger",
              response=NoteWire)(self.note)
        route("GET", "/balances/{owner}", summary="An owner's balances", tag="ledger",
              response=BalanceList)(self.balances)
        route("GET", "/transactions/{tx_id}", summary="The outcome of a transaction",
              tag="transactions", response=OutcomeWire)(self.transaction)
        route("GET", "/statistics", summary="Monetary statistics", tag="statistics",
              response=Statistics)(self.statistics)
        route("GET", "/journal/{tx_id}", summary="A committed transaction's body",
              tag="transactions", response=JournalEntryWire)(self.journal)
        route("GET", "/supply/{contract}/{token}", summary="A token's outstanding supply",
              tag="statistics", response=SupplyWire)(self.supply)

    async def participants(self, call: Call) -> ParticipantList:
        """GET /participants: a page of participants by name."""
        self.access.participant(call.signed_by())
        page = call.query(Page)
        found = await asyncio.to_thread(self.records.participant_page, page.after,
                                        page.limit + 1)
        items = [participant_wire(p)
                 for p in found[:page.limit]]
        return ParticipantList(items=items,
                               next=items[-1].name if len(found) > page.limit else None)

    async def directory(self, call: Call) -> PayeeWire:
        """GET /directory: the payee with this account id or phone number."""
        self.access.participant(call.signed_by())
        query = call.query(DirectoryQuery)
        if (query.account is None) == (query.phone is None):
            raise bad_request("invalid_request", "give exactly one of account and phone")
        row = await read(self.store.engine, self.records.find_wallet, account=query.account,
                         phone=query.phone)
        if row is None:
            raise not_found("payee")
        return payee_wire(row)

    async def notes(self, call: Call) -> NoteList:
        """GET /notes: a page of an owner's notes, by note id."""
        query = call.query(NotesQuery)
        _owner_key(query.owner)
        found = await read(self.store.engine, self._notes_seen_by, call.signed_by(), query)
        items = [note_to_wire(note, spent_by) for note, spent_by in found[:query.limit]]
        return NoteList(items=items, next=items[-1].id if len(found) > query.limit else None)

    async def note(self, call: Call) -> NoteWire:
        """GET /notes/{note_id}: one note with the transaction that spent it, for whoever may
        see its owner and for the party its lock refunds; anyone else gets 403 whether or not
        it exists."""
        caller, note_id = call.signed_by(), NoteId(call.path("note_id"))
        found = await read(self.store.engine, self.store.note, note_id)
        if found is not None and self.access.sees_note(caller, found[0]):
            return note_to_wire(*found)
        if caller == self.access.central.key:
            raise not_found("note")
        raise forbidden()

    async def balances(self, call: Call) -> BalanceList:
        """GET /balances/{owner}: what an owner holds, by currency and token."""
        owner = call.path("owner")
        await self._may_see_owner(call.signed_by(), owner)
        found = await read(self.store.engine, self.store.balances_of, ParticipantId(owner))
        return BalanceList(owner=owner, balances=[
            BalanceWire(currency=currency, token=token_to_wire(token), amount_minor=amount,
                        notes=count) for currency, token, amount, count in found])

    def _notes_seen_by(self, caller: ParticipantId,
                       query: NotesQuery) -> list[tuple[Note, TxId | None]]:
        """The page of notes `query` asks for, if the caller may see their owner."""
        if not self.access.sees_owner(caller, query.owner):
            raise forbidden()
        return self.store.notes_of(ParticipantId(query.owner), currency=query.currency,
                                   include_spent=query.include_spent, after=query.after,
                                   limit=query.limit + 1)

    async def _may_see_owner(self, caller: ParticipantId, owner: str) -> None:
        _owner_key(owner)
        if not await read(self.store.engine, self.access.sees_owner, caller, owner):
            raise forbidden()

    async def transaction(self, call: Call) -> OutcomeWire:
        """GET /transactions/{tx_id}: a committed transaction's outcome. The store keeps no
        refusals, so for anyone but the central bank an unknown id is as forbidden as
        another's."""
        caller, tx_id = call.signed_by(), TxId(call.path("tx_id"))
        if not await read(self.store.engine, self.access.sees_transaction, caller, self.store,
                          tx_id):
            raise forbidden()
        found = (await read(self.store.engine, self.store.results, [tx_id])).get(tx_id)
        if found is None or not found.committed:
            raise not_found("transaction")
        return OutcomeWire(tx_id=tx_id, status="committed", code=found.code)

    async def journal(self, call: Call) -> JournalEntryWire:
        """GET /journal/{tx_id}: a committed transaction's body, under the visibility rules of
        GET /transactions/{tx_id} (a bridge reads so where a payment to it is to be paid)."""
        caller, tx_id = call.signed_by(), TxId(call.path("tx_id"))
        if not await read(self.store.engine, self.access.sees_transaction, caller, self.store,
                          tx_id):
            raise forbidden()
        entry = await read(self.store.engine, self.store.journal_entry, tx_id)
        if entry is None:
            raise not_found("transaction")
        return JournalEntryWire(tx_id=tx_id, transaction=to_wire(from_bytes(entry[0])))

    async def supply(self, call: Call) -> SupplyWire:
        """GET /supply/{contract}/{token}: the token's outstanding supply, for the central bank
        and the token's issuer (a bridge reconciles its vault against it)."""
        token = TokenRef(ContractHash(call.path("contract")), call.path("token"))
        if not _HEX64.fullmatch(token.contract):
            raise bad_request("invalid_request", "a contract is its hash, 64 hex digits")
        if not await asyncio.to_thread(self.access.issues_token, call.signed_by(), self.store,
                                       token):
            raise forbidden()
        policy = await asyncio.to_thread(self.store.policy, token)
        total = await asyncio.to_thread(self.store.supply, token)
        return SupplyWire(currency=policy.currency if policy else "",
                          token=TokenWire(contract=token.contract, token=token.token),
                          supply_minor=total)

    async def statistics(self, call: Call) -> Statistics:
        """GET /statistics: supply and holdings per currency and token (central bank only)."""
        self.access.central_only(call.signed_by())
        return await asyncio.to_thread(self._statistics)

    def _statistics(self) -> Statistics:
        balances = self.store.table_balances()
        bank_of: dict[str, str] = {p.key: p.name for p in self.access.registry.others
                                   if p.role == "bank"}
        bank_of |= self.records.wallet_banks({owner for owner, _, _ in balances})
        return statistics(balances, bank_of)


def participant_wire(participant: Participant) -> ParticipantWire:
    """A participant as the API shows it."""
    return ParticipantWire(name=participant.name, role=participant.role, key=participant.key,
                           bridged=sorted(participant.bridged))
