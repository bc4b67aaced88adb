"""A bank's payment flows: prepare, sign and forward a customer's payment or cash-out, and
distribute the bank's money into a wallet.

A customer's payment takes two calls. `prepare` resolves the payee, chooses and holds notes,
builds the transaction with both parties' facts and records it `prepared`. `sign` checks the
customer's signature over its id and the daily KYC limit (committed payments and cash-outs of
the UTC day, plus this one), then hands it to the forwarder, which co-signs it with its batch,
and records `committed` or `refused` with the engine's code, reason and rule. A signature sent
again for an answered payment gets the recorded answer; one customer's signatures are handled
one at a time, so two of them cannot both pass the limit.

A payment may hash-lock the payee's note (one leg of a swap), refundable to the payer's wallet
from a deadline at most `LOCK_AHEAD_MAX_S` ahead; it counts against the limit like any payment.
A settlement (`prepare_settlement`) claims a locked note the customer owns with its preimage, or
refunds one the customer's own locked payment made, through the same signing step; money
arriving or coming back does not count against the limit. The bank reads the note from the
central bank, which shows a bank the notes its customers own and those that refund to them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from prometheus_client import Counter, Histogram

from dsl.facts import Party
from engine.encoding import (
    from_bytes,
    signing_bytes,
    to_wire,
    transaction_bytes,
    transaction_id,
)
from engine.ids import ParticipantId, TxId
from engine.keys import KeyPair, verify
from engine.model import NO_FACTS, HashLock, Note, Signature, SignedTransaction, TokenRef
from engine.wallet import Payment, sign
from node.bank_store import LIMITED_KINDS, BankStore
from node.central_link import CentralClient
from node.central_reads import masked
from node.client import ClientError, NodeClient
from node.config import NodeConfig
from node.errors import NodeError, conflict, forbidden, unprocessable
from node.forwarder import Forwarder
from node.messages import (
    CashOutRequest,
    Distribution,
    LockRequest,
    LockWire,
    NoteWire,
    OutcomeWire,
    PaymentList,
    PaymentRequest,
    PaymentWire,
    PreparedPayment,
    RuleWire,
    SettlementRequest,
    TransactionBatch,
)
from node.payees import Payee, PayeeResolver, customer_facts, from_central
from node.payment_building import PREPARED_TTL_S, PaymentBuilder, Prepared, TokenReleases
from node.payment_history import payment_to_wire, token_label
from node.tables import CustomerRow, PaymentRow
from node.wire import lock_to_wire, note_from_wire, signed_to_wire, token_from_wire

LOCK_AHEAD_MAX_S: Final = 24 * 3600  # the furthest deadline of a locked payment, from now


def utc_day(at_s: float) -> str:
    """The UTC day of a time, as the limit counts days: `2026-01-31`."""
    return datetime.fromtimestamp(at_s, UTC).date().isoformat()


def refusal_error(code: str, reason: str, rule: RuleWire | None) -> NodeError:
    """The ledger's refusal as the problem the customer gets (as `NodeError.refused` makes)."""
    extra: dict[str, Any] = {"reason": reason}
    if rule is not None:
        extra["rule"] = rule.model_dump()
    return NodeError(422, code, "The ledger refused the transaction", reason, **extra)


@dataclass(frozen=True, slots=True)
class PaymentCounters:
    """What the flows report to the metrics: a payment reaching a stage, a batch's size."""

    stage: Counter  # labelled by stage: prepared, committed, refused
    batch_size: Histogram


class BankPayments:
    """The payment flows of one bank."""

    def __init__(self, config: NodeConfig, store: BankStore, central: CentralClient,
                 counters: PaymentCounters, *, ledger: NodeClient) -> None:
        self._config = config
        self._key: KeyPair = config.key
        self._store = store
        self._central = central
        self._ledger = ledger  # the typed client, for the central reads `central` lacks
        self._counters = counters
        self.payees = PayeeResolver(store, central, config.name, ledger)
        self._builder = PaymentBuilder(central)
        self._releases = TokenReleases(central)
        self.forwarder = Forwarder(central, self._key, counters.batch_size.observe)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary())

    @property
    def bank_facts(self) -> Party:
        """The bank as a party of a transaction."""
        return Party(self._config.name, "bank")

    # ---- prepare --------------------------------------------------------------------------

    async def prepare_payment(self, customer: CustomerRow,
                              request: PaymentRequest) -> PreparedPayment:
        """Resolve the payee and prepare the customer's payment to it."""
        payee = await self.payees.resolve(request.to, request.currency, request.amount_minor)
        operation = request.operation or (
            "purchase" if payee.facts.role == "merchant" else "transfer")
        token = token_from_wire(request.token)
        return await self._prepare(customer, "payment", payee, Payment(
            request.amount_minor, request.currency, token, payee.key, NO_FACTS, operation,
            await self._releases.releases(token, operation),
            lock=_lock(request.lock, ParticipantId(customer.key), time.time())))

    async def prepare_cash_out(self, customer: CustomerRow,
                               request: CashOutRequest) -> PreparedPayment:
        """Prepare the customer's cash-out to their deposit at this bank."""
        token = token_from_wire(request.token)
        bank = Payee(self._key.participant, self._config.name, self._config.name,
                     self.bank_facts)
        return await self._prepare(customer, "cash_out", bank, Payment(
            request.amount_minor, request.currency, token, bank.key, NO_FACTS, "cash_out",
            await self._releases.releases(token, "cash_out")))

    async def prepare_settlement(self, customer: CustomerRow,
                                 request: SettlementRequest) -> PreparedPayment:
        """Prepare the claim (with a preimage) or refund (without) of a hash-locked note."""
        preimage = bytes.fromhex(request.preimage) if request.preimage is not None else None
        claiming = preimage is not None
        note = await (self._claimable(customer, request.note_id) if claiming
                      else self._refundable(customer, request.note_id))
        _check_settlement_time(note, claiming, time.time())
        payment_id = str(uuid.uuid4())
        facts = customer_facts(customer, self._config.name)
        prepared = self._builder.prepare_settlement(payment_id, note, preimage)
        # The money stays with the customer: they are the payee, and nothing is debited.
        itself = Payee(ParticipantId(customer.key), customer.account,
                       masked(customer.display_name), facts)
        return await self._record_prepared(customer, payment_id, prepared, itself, _Money(
            "claim" if claiming else "refund", note.amount_minor, note.currency, note.token, 0))

    async def _claimable(self, customer: CustomerRow, wanted: str) -> Note:
        """An unspent note the customer owns (403 for any other, existing or not)."""
        return await self._settleable(wanted, lambda note: note.owner == customer.key)

    async def _refundable(self, customer: CustomerRow, wanted: str) -> Note:
        """An unspent locked note that refunds to the customer (403 for any other)."""
        return await self._settleable(wanted, lambda note: note.lock is not None
                                      and note.lock.refund_to == customer.key)

    async def _settleable(self, wanted: str, mine: Callable[[NoteWire], bool]) -> Note:
        found = await self._read_note(wanted)
        if found is None or not mine(found):
            raise forbidden()
        if found.spent_by is not None:
            raise conflict("note_spent", f"note {wanted} was spent by {found.spent_by}")
        return note_from_wire(found)

    async def _read_note(self, wanted: str) -> NoteWire | None:
        """The note as the central bank shows it to this bank; None where it does not."""
        try:
            return await from_central(self._ledger.note(wanted))
        except ClientError as error:
            if error.status in (403, 404):
                return None
            raise

    async def _prepare(self, customer: CustomerRow, kind: str, payee: Payee,
                       payment: Payment) -> PreparedPayment:
        payment_id = str(uuid.uuid4())
        prepared = await self._builder.prepare(payment_id, payment, ParticipantId(customer.key))
        return await self._record_prepared(customer, payment_id, prepared, payee, _Money(
            kind, payment.amount_minor, payment.currency, payment.token, payment.amount_minor))

    async def _record_prepared(self, customer: CustomerRow, payment_id: str,
                               prepared: Prepared, payee: Payee,
                               money: _Money) -> PreparedPayment:
        transaction = prepared.transaction
        tx_id = transaction_id(transaction)
        row = PaymentRow(id=payment_id, account=customer.account, kind=money.kind,
                         counterparty=payee.account, amount_minor=money.amount_minor,
                         currency=money.currency, token=token_label(money.token),
                         status="prepared", tx_id=tx_id, day=utc_day(transaction.created_at_s),
                         transaction=transaction_bytes(transaction),
                         created_at_s=transaction.created_at_s)
        try:
            await self._store.add_payment(row)
        except BaseException:
            self._builder.let_go(payment_id)
            raise
        self._counters.stage.labels("prepared").inc()
        return PreparedPayment(payment_id=payment_id, tx_id=tx_id,
                               transaction=to_wire(transaction),
                               payee=payee.masked_name, debit_minor=money.debit_minor,
                               currency=money.currency, expires_at_s=prepared.expires_at_s)

    # ---- sign and forward -----------------------------------------------------------------

    async def sign(self, customer: CustomerRow, payment_id: str,
                   signature_hex: str) -> PaymentWire:
        """Check the customer's signature and limit, forward, and record the outcome."""
        lock = self._locks.setdefault(customer.account, asyncio.Lock())
        async with lock:
            row = await self._store.payment(payment_id)
            if row is None or row.account != customer.account:
                raise forbidden()
            if row.status != "prepared":
                return _recorded(row)
            if time.time() > row.created_at_s + PREPARED_TTL_S:
                await self._record(row, {"status": "expired"})
                raise unprocessable("payment_expired", f"a prepared payment is signed within "
                                    f"{PREPARED_TTL_S} s; prepare it again")
            signature = _customer_signature(customer, TxId(row.tx_id), signature_hex)
            if row.kind in LIMITED_KINDS:  # claims and refunds bring money in: no limit
                await self._check_limit(customer, row)
            signed = SignedTransaction(TxId(row.tx_id), from_bytes(row.transaction),
                                       (signature,))
            outcome = await self.forwarder.forward(signed)
            return _recorded(await self._record(row, _changes(outcome)))

    async def with_locks(self, customer: CustomerRow, listed: PaymentList) -> PaymentList:
        """A page of the customer's history with the lock of each locked payment (the
        history's records leave it out)."""
        tx_ids = {item.tx_id for item in listed.items if item.kind == "payment"}
        rows = await asyncio.to_thread(self._store.payments_by_tx, tx_ids)
        items = [item.model_copy(update={"lock": _lock_wire(row)})
                 if (row := rows.get(item.tx_id)) is not None and row.account == customer.account
                 else item for item in listed.items]
        return listed.model_copy(update={"items": items})

    async def _check_limit(self, customer: CustomerRow, row: PaymentRow) -> None:
        today = utc_day(time.time())
        spent = await self._store.spent_on(customer.account, row.currency, today)
        limit = self._config.daily_limit(row.currency, customer.kyc_tier)
        if spent + row.amount_minor > limit:
            raise unprocessable(
                "kyc_limit_exceeded", f"{spent} + {row.amount_minor} {row.currency} (minor "
                f"units) today would pass the daily limit of {limit} at KYC tier "
                f"{customer.kyc_tier}", limit_minor=limit, spent_minor=spent)

    async def _record(self, row: PaymentRow, changes: dict[str, Any]) -> PaymentRow:
        if changes["status"] in ("committed", "refused"):
            self._builder.answered(row.id, TxId(row.tx_id), changes["status"] == "committed",
                                   changes["code"])
            changes["day"] = utc_day(time.time())  # the limit counts the day it committed
            self._counters.stage.labels(changes["status"]).inc()
        else:
            self._builder.let_go(row.id)
        answered = await self._store.answer(row, changes)
        if answered is None:
            raise NodeError(500, "internal", "Internal error", "a payment record vanished")
        return answered

    # ---- distribution ---------------------------------------------------------------------

    async def distribute(self, customer: CustomerRow, request: Distribution) -> PaymentWire:
        """Move the bank's plain money into the customer's wallet, signed by the bank alone."""
        payment_id = str(uuid.uuid4())
        payment = Payment(request.amount_minor, request.currency, None,
                          ParticipantId(customer.key), NO_FACTS, "distribute")
        prepared = await self._builder.prepare(payment_id, payment, self._key.participant)
        signed = sign(prepared.transaction, (self._key,))
        try:
            answer = await self._central.submit(
                TransactionBatch(transactions=[signed_to_wire(signed)]),
                idempotency_key=f"distribution-{signed.id}")
        except BaseException:
            self._builder.let_go(payment_id)
            raise
        outcome = answer.outcomes[0]
        self._builder.answered(payment_id, signed.id, outcome.status == "committed",
                               outcome.code)
        now_s = int(time.time())
        row = PaymentRow(id=payment_id, account=customer.account, kind="distribution",
                         counterparty=self._config.name, amount_minor=request.amount_minor,
                         currency=request.currency, token="", status="prepared",
                         tx_id=signed.id, day=utc_day(now_s),
                         transaction=transaction_bytes(signed.transaction), created_at_s=now_s)
        row = row.model_copy(update=_changes(outcome))
        await self._store.add_payment(row)
        return _recorded(row)


@dataclass(frozen=True, slots=True)
class _Money:
    """What a prepared record moves: its kind, amount and money, and the debit announced."""

    kind: str
    amount_minor: int
    currency: str
    token: TokenRef | None
    debit_minor: int


def _lock(request: LockRequest | None, refund_to: ParticipantId, now_s: float) -> HashLock | None:
    """The lock a payment asks for, refunded to the payer; its deadline ahead, not too far."""
    if request is None:
        return None
    if request.deadline_s <= now_s:
        raise unprocessable("lock_deadline_passed", f"the deadline {request.deadline_s} is not "
                            f"ahead of now ({int(now_s)})")
    if request.deadline_s > now_s + LOCK_AHEAD_MAX_S:
        raise unprocessable("lock_deadline_too_far", f"a lock's deadline is at most "
                            f"{LOCK_AHEAD_MAX_S} s ahead")
    return HashLock(request.digest, refund_to, request.deadline_s)


def _check_settlement_time(note: Note, claiming: bool, now_s: float) -> None:
    """A locked note; a claim before the lock's deadline, a refund from it on (as the notary
    will judge)."""
    lock = note.lock
    if lock is None:
        raise unprocessable("note_not_locked", f"note {note.id} is not hash-locked: it is "
                            "spent as money, not settled")
    if claiming and now_s >= lock.deadline_s:
        raise unprocessable("lock_deadline_passed", f"note {note.id} could be claimed until "
                            f"{lock.deadline_s}; now it is refunded")
    if not claiming and now_s < lock.deadline_s:
        raise unprocessable("lock_deadline_not_reached", f"note {note.id} is refunded from "
                            f"{lock.deadline_s} on; until then its owner may claim it")


def _lock_wire(row: PaymentRow) -> LockWire | None:
    """The lock a recorded payment put on the payee's note (its first output), if any."""
    if row.kind != "payment":
        return None
    return lock_to_wire(from_bytes(row.transaction).outputs[0].lock)


def _customer_signature(customer: CustomerRow, tx_id: TxId, signature_hex: str) -> Signature:
    signature = bytes.fromhex(signature_hex)
    key = ParticipantId(customer.key)
    if not verify(key, signing_bytes(tx_id), signature):
        raise unprocessable("bad_signature", "the signature is not the customer's over the "
                            "prepared transaction's id")
    return Signature(key, signature)


def _changes(outcome: OutcomeWire) -> dict[str, Any]:
    return {"status": outcome.status,
            "code": "" if outcome.status == "committed" else outcome.code,
            "reason": outcome.reason,
            "rule": outcome.rule.model_dump_json() if outcome.rule is not None else ""}


def _recorded(row: PaymentRow) -> PaymentWire:
    """A payment's recorded answer: the payment, or the refusal it met."""
    if row.status == "refused":
        rule = RuleWire.model_validate_json(row.rule) if row.rule else None
        raise refusal_error(row.code, row.reason, rule)
    if row.status == "expired":
        raise unprocessable("payment_expired", "this prepared payment expired unsigned")
    return payment_to_wire(row).model_copy(update={"lock": _lock_wire(row)})
