"""A bank's payment flows: prepare, sign and forward a customer's payment or cash-out, and
distribute the bank's money into a wallet.

A customer's payment takes two calls. `prepare` resolves the payee, chooses and holds notes,
builds the transaction with both parties' facts and records it `prepared`. `sign` checks the
customer's signature over its id and the daily KYC limit (committed payments and cash-outs of
the UTC day, plus this one), then hands it to the forwarder, which co-signs it with its batch,
and records `committed` or `refused` with the engine's code, reason and rule. A signature sent
again for an answered payment gets the recorded answer; one customer's signatures are handled
one at a time, so two of them cannot both pass the limit.
"""

from __future__ import annotations

import asyncio
import time
import uuid
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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
from engine.model import Signature, SignedTransaction
from engine.wallet import Payment, sign
from node.bank_store import BankStore
from node.central_link import CentralClient
from node.config import NodeConfig
from node.errors import NodeError, forbidden, unprocessable
from node.forwarder import Forwarder
from node.messages import (
    CashOutRequest,
    Distribution,
    OutcomeWire,
    PaymentRequest,
    PaymentWire,
    PreparedPayment,
    RuleWire,
    TransactionBatch,
)
from node.payees import Payee, PayeeResolver, customer_facts
from node.payment_building import PREPARED_TTL_S, PaymentBuilder, TokenReleases
from node.payment_history import payment_to_wire, token_label
from node.tables import CustomerRow, PaymentRow
from node.wire import signed_to_wire, token_from_wire


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
                 counters: PaymentCounters) -> None:
        self._config = config
        self._key: KeyPair = config.key
        self._store = store
        self._central = central
        self._counters = counters
        self.payees = PayeeResolver(store, central, config.name)
        self._builder = PaymentBuilder(central)
        self._releases = TokenReleases(central)
        self.forwarder = Forwarder(central, self._key, counters.batch_size.observe)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary())

    @property
    def bank_facts(self) -> Party:
        """The bank as a party of a transaction."""
        return Party(self._config.name, "bank", 0, self._config.name)

    # ---- prepare --------------------------------------------------------------------------

    async def prepare_payment(self, customer: CustomerRow,
                              request: PaymentRequest) -> PreparedPayment:
        """Resolve the payee and prepare the customer's payment to it."""
        payee = await self.payees.resolve(request.to, request.currency, request.amount_minor)
        operation = request.operation or (
            "purchase" if payee.facts.role == "merchant" else "transfer")
        token = token_from_wire(request.token)
        return await self._prepare(customer, "payment", payee, Payment(
            request.amount_minor, request.currency, token, payee.key, payee.facts, operation,
            await self._releases.releases(token, operation)))

    async def prepare_cash_out(self, customer: CustomerRow,
                               request: CashOutRequest) -> PreparedPayment:
        """Prepare the customer's cash-out to their deposit at this bank."""
        token = token_from_wire(request.token)
        bank = Payee(self._key.participant, self._config.name, self._config.name,
                     self.bank_facts)
        return await self._prepare(customer, "cash_out", bank, Payment(
            request.amount_minor, request.currency, token, bank.key, bank.facts, "cash_out",
            await self._releases.releases(token, "cash_out")))

    async def _prepare(self, customer: CustomerRow, kind: str, payee: Payee,
                       payment: Payment) -> PreparedPayment:
        payment_id = str(uuid.uuid4())
        prepared = await self._builder.prepare(
            payment_id, payment, customer_facts(customer, self._config.name),
            ParticipantId(customer.key))
        transaction = prepared.transaction
        tx_id = transaction_id(transaction)
        row = PaymentRow(id=payment_id, account=customer.account, kind=kind,
                         counterparty=payee.account, amount_minor=payment.amount_minor,
                         currency=payment.currency, token=token_label(payment.token),
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
                               payee=payee.masked_name, debit_minor=payment.amount_minor,
                               currency=payment.currency, expires_at_s=prepared.expires_at_s)

    # ---- sign and forward -----------------------------------------------------------------

    async def sign(self, customer: CustomerRow, payment_id: str,
                   signature_hex: str) -> PaymentWire:
        """Check the customer's signature and limit, forward, and record the outcome."""
        lock = self._locks.setdefault(customer.account, asyncio.Lock())
        async with lock:
            row = await asyncio.to_thread(self._store.payment, payment_id)
            if row is None or row.account != customer.account:
                raise forbidden()
            if row.status != "prepared":
                return _recorded(row)
            if time.time() > row.created_at_s + PREPARED_TTL_S:
                await self._record(row, {"status": "expired"})
                raise unprocessable("payment_expired", f"a prepared payment is signed within "
                                    f"{PREPARED_TTL_S} s; prepare it again")
            signature = _customer_signature(customer, TxId(row.tx_id), signature_hex)
            await self._check_limit(customer, row)
            signed = SignedTransaction(TxId(row.tx_id), from_bytes(row.transaction),
                                       (signature,))
            outcome = await self.forwarder.forward(signed)
            return _recorded(await self._record(row, _changes(outcome)))

    async def _check_limit(self, customer: CustomerRow, row: PaymentRow) -> None:
        today = utc_day(time.time())
        spent = await asyncio.to_thread(self._store.spent_on, customer.account, row.currency,
                                        today)
        limit = self._config.daily_limit(row.currency, customer.kyc_tier)
        if spent + row.amount_minor > limit:
            raise unprocessable(
                "kyc_limit_exceeded", f"{spent} + {row.amount_minor} {row.currency} (minor "
                f"units) today would pass the daily limit of {limit} at KYC tier "
                f"{customer.kyc_tier}", limit_minor=limit, spent_minor=spent)

    async def _record(self, row: PaymentRow, changes: dict[str, Any]) -> PaymentRow:
        self._builder.let_go(row.id)
        if changes["status"] in ("committed", "refused"):
            changes["day"] = utc_day(time.time())  # the limit counts the day it committed
            self._counters.stage.labels(changes["status"]).inc()
        answered = await self._store.answer(row, changes)
        if answered is None:
            raise NodeError(500, "internal", "Internal error", "a payment record vanished")
        return answered

    # ---- distribution ---------------------------------------------------------------------

    async def distribute(self, customer: CustomerRow, request: Distribution) -> PaymentWire:
        """Move the bank's plain money into the customer's wallet, signed by the bank alone."""
        payment_id = str(uuid.uuid4())
        payment = Payment(request.amount_minor, request.currency, None,
                          ParticipantId(customer.key), customer_facts(customer, self._config.name),
                          "distribute")
        prepared = await self._builder.prepare(payment_id, payment, self.bank_facts,
                                               self._key.participant)
        try:
            signed = sign(prepared.transaction, (self._key,))
            answer = await self._central.submit(
                TransactionBatch(transactions=[signed_to_wire(signed)]),
                idempotency_key=f"distribution-{signed.id}")
        finally:
            self._builder.let_go(payment_id)
        now_s = int(time.time())
        row = PaymentRow(id=payment_id, account=customer.account, kind="distribution",
                         counterparty=self._config.name, amount_minor=request.amount_minor,
                         currency=request.currency, token="", status="prepared",
                         tx_id=signed.id, day=utc_day(now_s),
                         transaction=transaction_bytes(signed.transaction), created_at_s=now_s)
        row = row.model_copy(update=_changes(answer.outcomes[0]))
        await self._store.add_payment(row)
        return _recorded(row)


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
    return payment_to_wire(row)
