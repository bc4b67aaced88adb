"""The central bank service: the ledger of record, issuance and redemption, the registry of
participants, the payee directory, and the monetary statistics (docs/node.md, "Central bank API").

The ledger is the engine's store and notary in the node's database, beside the service's own
tables (`node.central_records`). Every write to the ledger goes through one queue and one thread
(`node.ledger_intake`), so concurrent requests are committed together in batches and never race
each other's limits. Issuance is serialised per bank and checked against the bank's reserves:
deposits less what was issued plus what was redeemed, the latter two summed from the ledger
itself (`node.central_reserves`). Who may see what is `node.central_access`.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Sequence
from typing import Final

from dsl.facts import Party
from engine.encoding import signing_bytes, transaction_id
from engine.errors import TransactionRefused
from engine.ids import ParticipantId
from engine.model import Output, Signature, SignedTransaction, Transaction
from engine.notary import Notary, Outcome
from engine.participants import Participant
from engine.store import SqlStore
from node.api import Api, Call
from node.central_access import Access
from node.central_contracts import deploy, find, page
from node.central_directory import WalletDirectory
from node.central_reads import CentralReads, participant_wire, payee_wire
from node.central_records import CentralRecords, key_registered
from node.central_reserves import ReserveBook
from node.config import NodeConfig
from node.database import open_database
from node.errors import (
    NodeError,
    bad_request,
    conflict,
    forbidden,
    not_found,
    unprocessable,
)
from node.idempotency import IdempotencyStore
from node.ledger_intake import LedgerIntake, LedgerMetrics
from node.messages import (
    ContractList,
    ContractUpload,
    ContractWire,
    IssuanceRequest,
    OutcomeList,
    OutcomeWire,
    Page,
    ParticipantWire,
    PayeeWire,
    RedemptionRequest,
    RegisterParticipant,
    RegisterWallet,
    ReserveDeposit,
    ReserveWire,
    TransactionBatch,
)
from node.metrics import Metrics
from node.wire import endorsement_from_wire, outcome_to_wire, refused_outcome, signed_from_wire

API_VERSION: Final = "1.0.0"
_CENTRAL_ROLE: Final = "central_bank"
_DEPLOYERS: Final = frozenset({"agency", "fx_provider"})


class CentralService:
    """The central bank's operations and its ledger."""

    def __init__(self, config: NodeConfig, metrics: Metrics) -> None:
        self.config = config
        self.key = config.key
        self.engine = open_database(config.database)
        self.store = SqlStore(config.database)
        self.records = CentralRecords(self.engine)
        self.access = Access(Participant(self.key.participant, config.name, _CENTRAL_ROLE),
                             self.records)
        self.directory = WalletDirectory(self.engine)
        self.notary = Notary(self.store, self.access.reload(), directory=self.directory)
        self.reserves = ReserveBook()
        self.intake = LedgerIntake(self.notary, self._committed, self._resync,
                                   LedgerMetrics(metrics.registry))
        self.idempotency = IdempotencyStore(self.engine)
        self.api = Api(f"Earmark central bank {config.name}", API_VERSION,
                       "The central bank's ledger, issuance, registry and directory.")
        self._issuing: dict[str, asyncio.Lock] = {}
        self._declare()
        CentralReads(self.access, self.store).declare(self.api)

    async def start(self) -> None:
        """Sum the reserves' use from the journal, then take requests for the ledger."""
        await asyncio.to_thread(self.reserves.load, self.store)
        self.intake.start()

    async def close(self) -> None:
        """Commit what was queued, then close the notary and the databases."""
        await self.intake.close()
        self.notary.close()
        self.store.close()
        self.engine.dispose()

    def _committed(self, committed: Sequence[SignedTransaction]) -> None:
        self.reserves.record(self.store, committed)

    def _resync(self) -> None:
        self.reserves.load(self.store)

    def _declare(self) -> None:
        route = self.api.route
        route("POST", "/participants", summary="Register a bank, agency or FX provider",
              tag="participants", body=RegisterParticipant, response=ParticipantWire,
              status=201)(self.register_participant)
        route("POST", "/reserves", summary="Credit a bank's reserves", tag="reserves",
              body=ReserveDeposit, response=ReserveWire)(self.deposit)
        route("GET", "/reserves/{bank}/{currency}", summary="A bank's available reserves",
              tag="reserves", response=ReserveWire)(self.reserve)
        route("POST", "/issuance", summary="Issue digital money to the calling bank",
              tag="money", body=IssuanceRequest, response=OutcomeWire)(self.issue)
        route("POST", "/redemption", summary="Redeem a bank's notes for reserves", tag="money",
              body=RedemptionRequest, response=OutcomeWire)(self.redeem)
        route("POST", "/contracts", summary="Deploy a contract (agencies)", tag="contracts",
              body=ContractUpload, response=ContractWire, status=201)(self.deploy_contract)
        route("GET", "/contracts", summary="Deployed contracts", tag="contracts", query=Page,
              response=ContractList)(self.contracts)
        route("GET", "/contracts/{hash}", summary="A deployed contract with its source",
              tag="contracts", response=ContractWire)(self.contract)
        route("POST", "/transactions", summary="Notarise signed transactions",
              tag="transactions", body=TransactionBatch,
              response=OutcomeList)(self.submit_transactions)
        route("POST", "/wallets", summary="Register or update a customer's wallet",
              tag="directory", body=RegisterWallet, response=PayeeWire)(self.register_wallet)

    # ---- participants and reserves -----------------------------------------------------------

    async def register_participant(self, call: Call) -> ParticipantWire:
        """POST /participants: the central bank registers a participant."""
        self.access.central_only(call.signed_by())
        body = call.body(RegisterParticipant)
        if body.key == self.key.participant or body.name == self.config.name:
            raise conflict("participant_exists", "that is the central bank")
        if body.bridged and body.role != "fx_provider":
            raise unprocessable("bridged_not_fx_provider", "only an FX provider issues bridged "
                                "tokens")
        participant = Participant(ParticipantId(body.key), body.name, body.role,
                                  frozenset(body.bridged))
        await asyncio.to_thread(self._register, participant)
        return participant_wire(participant)

    def _register(self, participant: Participant) -> None:
        self.records.register(participant)
        self.notary.registry = self.access.reload()

    async def deposit(self, call: Call) -> ReserveWire:
        """POST /reserves: the central bank credits a bank's deposits."""
        self.access.central_only(call.signed_by())
        body = call.body(ReserveDeposit)
        self._currency(body.currency)
        if self.access.registry.by_name(body.bank, "bank") is None:
            raise not_found("bank")
        await asyncio.to_thread(self.records.deposit, body.bank, body.currency,
                                body.amount_minor)
        return await self._reserve_of(body.bank, body.currency)

    async def reserve(self, call: Call) -> ReserveWire:
        """GET /reserves/{bank}/{currency}: for the central bank and that bank."""
        caller, bank = call.signed_by(), call.path("bank")
        own = self.access.registry.by_name(bank, "bank")
        if caller != self.access.central.key and (own is None or own.key != caller):
            raise forbidden()
        return await self._reserve_of(bank, call.path("currency"))

    async def _reserve_of(self, bank: str, currency: str) -> ReserveWire:
        deposits = await asyncio.to_thread(self.records.deposits, bank, currency)
        available = deposits - self.reserves.net_issued(bank, currency)
        return ReserveWire(bank=bank, currency=currency, amount_minor=available)

    def _currency(self, currency: str) -> None:
        if currency not in self.config.currencies:
            raise unprocessable("currency_unsupported", f"this central bank issues "
                                f"{', '.join(self.config.currencies)}, not {currency}")

    # ---- issuance and redemption -------------------------------------------------------------

    async def issue(self, call: Call) -> OutcomeWire:
        """POST /issuance: an `issue` to the calling bank, against its reserves."""
        bank = self.access.role(call.signed_by(), "bank")
        request = call.body(IssuanceRequest)
        self._currency(request.currency)
        # Shielded: if the caller goes away, the issue still runs to its end under the lock,
        # so the next issuance sees it counted.
        return await asyncio.shield(self._issue_locked(bank, request))

    async def _issue_locked(self, bank: Participant, request: IssuanceRequest) -> OutcomeWire:
        async with self._issuing.setdefault(bank.name, asyncio.Lock()):
            available = (await self._reserve_of(bank.name, request.currency)).amount_minor
            if request.amount_minor > available:
                raise unprocessable("reserves_insufficient", f"{bank.name} has "
                                    f"{available} {request.currency} minor units of reserves",
                                    available_minor=available)
            transaction = Transaction(
                "issue", (), (Output(bank.key, request.amount_minor, request.currency),),
                Party(self.config.name, _CENTRAL_ROLE), Party(bank.name, "bank"),
                int(time.time()), secrets.token_hex(16))
            return await self._submit_one(self._cosigned(transaction, ()))

    async def redeem(self, call: Call) -> OutcomeWire:
        """POST /redemption: the central bank co-signs the calling bank's `redeem`."""
        bank = self.access.role(call.signed_by(), "bank")
        try:
            signed = signed_from_wire(call.body(RedemptionRequest).transaction)
            real_id = transaction_id(signed.transaction)
        except TransactionRefused as refused:
            raise NodeError.refused(refused.refusal) from None
        transaction = signed.transaction
        # The central bank signs an id: it must be this transaction's, or the signature could
        # be carried to another one (an issue, say).
        sender = transaction.sender
        if real_id != signed.id or transaction.operation != "redeem" or (
                (sender.id, sender.role) != (bank.name, "bank")):
            raise unprocessable("redemption_invalid", "a redemption is a `redeem` sent by the "
                                "calling bank, under its own id")
        return await self._submit_one(self._cosigned(transaction, signed.signatures))

    def _cosigned(self, transaction: Transaction,
                  signatures: tuple[Signature, ...]) -> SignedTransaction:
        """The transaction with the central bank's signature added to `signatures`."""
        tx_id = transaction_id(transaction)
        mine = Signature(self.key.participant, self.key.sign(signing_bytes(tx_id)))
        return SignedTransaction(tx_id, transaction, (*signatures, mine))

    async def _submit_one(self, signed: SignedTransaction) -> OutcomeWire:
        outcome: Outcome = (await self.intake.submit([signed]))[0]
        if outcome.refusal is not None:
            raise NodeError.refused(outcome.refusal)
        return outcome_to_wire(outcome)

    # ---- contracts ---------------------------------------------------------------------------

    async def deploy_contract(self, call: Call) -> ContractWire:
        """POST /contracts: an agency (or an FX provider, for its bridged token) deploys a
        contract whose tokens it issues."""
        agency = self.access.participant(call.signed_by())
        if agency.role not in _DEPLOYERS:
            raise forbidden(f"only a participant of role {' or '.join(sorted(_DEPLOYERS))} "
                            f"deploys contracts")
        upload = call.body(ContractUpload)
        return await asyncio.to_thread(deploy, self.store, upload.source, upload.filename,
                                       agency.name)

    async def contracts(self, call: Call) -> ContractList:
        """GET /contracts: a page of deployed contracts, by hash."""
        self.access.participant(call.signed_by())
        query = call.query(Page)
        return await asyncio.to_thread(page, self.store, query.after, query.limit)

    async def contract(self, call: Call) -> ContractWire:
        """GET /contracts/{hash}: one deployed contract with its source."""
        self.access.participant(call.signed_by())
        return await asyncio.to_thread(find, self.store, call.path("hash"))

    # ---- the directory -----------------------------------------------------------------------

    async def register_wallet(self, call: Call) -> PayeeWire:
        """POST /wallets: a bank registers its customer's wallet (an account of its own) under
        a key registered to nobody else: not the central bank's, a participant's or another
        bank's customer's (409 `key_registered`)."""
        bank = self.access.role(call.signed_by(), "bank")
        wallet = call.body(RegisterWallet)
        if wallet.account.rpartition("@")[2] != bank.name:
            raise unprocessable("account_bank_mismatch", f"{bank.name}'s accounts end in "
                                f"@{bank.name}")
        if wallet.key == self.key.participant:  # the central bank's key is its configuration's
            raise key_registered()
        try:
            return payee_wire(await asyncio.to_thread(self.records.register_wallet, wallet,
                                                      bank.name))
        finally:
            self.directory.forget(wallet.key)  # the notary reads the registration anew

    # ---- transactions ------------------------------------------------------------------------

    async def submit_transactions(self, call: Call) -> OutcomeList:
        """POST /transactions: one outcome per transaction, in order; one that does not even
        decode is refused alone."""
        self.access.participant(call.signed_by())
        batch = call.body(TransactionBatch)
        ids = {wire.id for wire in batch.transactions}
        if any(i not in ids for e in batch.endorsements for i in e.tx_ids):
            # Batches of several callers are merged: an endorsement may speak only for its own.
            raise bad_request("invalid_request", "an endorsement lists a transaction that is "
                              "not in this batch")
        decoded: list[SignedTransaction | OutcomeWire] = []
        for wire in batch.transactions:
            try:
                decoded.append(signed_from_wire(wire))
            except TransactionRefused as refused:
                decoded.append(refused_outcome(wire.id, refused))
        good = [d for d in decoded if isinstance(d, SignedTransaction)]
        endorsements = [endorsement_from_wire(e) for e in batch.endorsements]
        answers = iter(await self.intake.submit(good, endorsements) if good else [])
        return OutcomeList(outcomes=[d if isinstance(d, OutcomeWire)
                                     else outcome_to_wire(next(answers)) for d in decoded])
