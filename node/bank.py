"""The commercial bank service: its customers, their payments, and its link to the central bank.

The bank's own key is its operator's; a customer signs with their wallet key. A bank sees only
its customers: a customer reading another's account, or anyone reading an account of another
bank, gets 403 `forbidden` whether it exists or not. The operations are those of the
"Commercial bank API" table in `docs/node.md`; the payment flows (hash-locked payments and their
settlement too) are in `node.bank_payments`, payee resolution in `node.payees`, batching to the
central bank in `node.forwarder`. A customer's balances leave hash-locked notes out of what they
may spend and show them apart (`locked_minor`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import Counter as Tally
from typing import Final

from aiohttp import web
from prometheus_client import Counter, Histogram

from node.api import Api, Call
from node.bank_payments import BankPayments, PaymentCounters
from node.bank_store import BankStore
from node.central_link import CentralClient
from node.client import NodeClient
from node.config import NodeConfig
from node.database import open_database
from node.errors import NodeError, forbidden, not_found, unprocessable
from node.forwarder import BATCH_SIZE_MAX
from node.idempotency import IdempotencyStore
from node.messages import (
    BalanceList,
    BalanceWire,
    CashOutRequest,
    CustomerList,
    CustomerWire,
    Distribution,
    NoteWire,
    OpenCustomer,
    Page,
    PaymentList,
    PaymentRequest,
    PaymentSignature,
    PaymentWire,
    PreparedPayment,
    RegisterWallet,
    Reverify,
    SettlementRequest,
    TokenWire,
)
from node.metrics import Metrics
from node.payment_building import unspent_notes
from node.payment_history import PaymentHistory, payments_csv, token_label
from node.tables import CustomerRow
from node.wire import token_from_wire

REPORT_ROWS_MAX: Final = 1_000_000  # payment records in one CSV report
_BATCH_BUCKETS: Final = tuple(2**n for n in range(BATCH_SIZE_MAX.bit_length()))
TAG: Final = "bank"


def customer_to_wire(row: CustomerRow) -> CustomerWire:
    """The API form of a customer."""
    return CustomerWire(account=row.account, key=row.key, display_name=row.display_name,
                        role=row.role, mcc=row.mcc, phone=row.phone, kyc_tier=row.kyc_tier,
                        region=row.region)


def wallet_of(row: CustomerRow) -> RegisterWallet:
    """What the central directory keeps of a customer's wallet."""
    return RegisterWallet.model_validate({
        "key": row.key, "account": row.account, "phone": row.phone,
        "display_name": row.display_name, "role": row.role, "kyc": row.kyc_tier,
        "mcc": row.mcc, "region": row.region})


def spendable(listed: BalanceList, notes: list[NoteWire]) -> BalanceList:
    """The central bank's balances with the hash-locked ones among `notes` (the owner's unspent
    notes) moved out of `amount_minor` and `notes` into `locked_minor`."""
    locked = [note for note in notes if note.lock is not None]
    amounts: Tally[tuple[str, str]] = Tally()
    counts: Tally[tuple[str, str]] = Tally()
    for note in locked:
        kind = (note.currency, _token_text(note.token))
        amounts[kind] += note.amount_minor
        counts[kind] += 1
    balances = []
    for balance in listed.balances:
        kind = (balance.currency, _token_text(balance.token))
        balances.append(_without(balance, amounts[kind], counts[kind]))
    return listed.model_copy(update={"balances": balances})


def _without(balance: BalanceWire, locked_minor: int, locked_notes: int) -> BalanceWire:
    # The totals and the notes are two reads: a note settled between them must not make the
    # spendable amount negative.
    return balance.model_copy(update={
        "amount_minor": max(0, balance.amount_minor - locked_minor),
        "notes": max(0, balance.notes - locked_notes), "locked_minor": locked_minor})


def _token_text(token: TokenWire | None) -> str:
    return token_label(token_from_wire(token))


class BankService:
    """A commercial bank node: `api` and `idempotency` for the server, `start`/`close`."""

    def __init__(self, config: NodeConfig, metrics: Metrics) -> None:
        if config.central is None:
            raise NodeError(400, "config_invalid", "Configuration invalid",
                            "a bank needs [central] with the central bank's url and key")
        self.config = config
        self.operator = config.key.participant
        engine = open_database(config.database)
        self.store = BankStore(engine)
        self.idempotency = IdempotencyStore(engine, self.store.writer)
        self.central = CentralClient(config.central.url, config.key)
        # The typed client, for the central reads the bank's link lacks (a note, participants).
        self.ledger = NodeClient(config.central.url, config.key)
        self._opened = contextlib.AsyncExitStack()
        counters = PaymentCounters(
            Counter("earmark_bank_payments", "Customer payments reaching a stage", ["stage"],
                    registry=metrics.registry),
            Histogram("earmark_bank_forwarded_batch_size",
                      "Transactions per batch forwarded to the central bank",
                      buckets=_BATCH_BUCKETS, registry=metrics.registry))
        self.payments = BankPayments(config, self.store, self.central, counters,
                                     ledger=self.ledger)
        self.history = PaymentHistory(self.store, self.central)
        # One registration with the central bank at a time: the central directory and the
        # bank's records then change in the same order, and a check made before registering
        # still holds when the record is written.
        self._registering = asyncio.Lock()
        self.api = Api(f"Earmark commercial bank {config.name}", "1",
                       "A commercial bank: its customers, their payments and reports.")
        self._declare()

    async def start(self) -> None:
        """Open the typed client and start forwarding to the central bank."""
        await self._opened.enter_async_context(self.ledger)
        await self.payments.forwarder.start()

    async def close(self) -> None:
        """Finish the batches in flight and close the connections."""
        await self.payments.forwarder.close()
        await self.central.close()
        await self._opened.aclose()
        await asyncio.to_thread(self.store.writer.close)
        self.store.engine.dispose()

    # ---- who may call ---------------------------------------------------------------------

    def _operator(self, call: Call) -> None:
        if call.signed_by() != self.operator:
            raise forbidden("only the bank's operator may do this")

    async def _customer(self, call: Call) -> CustomerRow:
        """The calling customer (403 for anyone else, the operator included)."""
        customer = await self.store.customer_by_key(call.signed_by())
        if customer is None:
            raise forbidden("only a customer of this bank may do this")
        return customer

    async def _account(self, call: Call, account: str) -> CustomerRow:
        """The customer `account`, for the operator or that customer alone."""
        caller = call.signed_by()
        if not account.endswith(f"@{self.config.name}"):
            raise forbidden()
        customer = await self.store.customer(account)
        if customer is not None and caller in (self.operator, customer.key):
            return customer
        if caller == self.operator:
            raise not_found("customer")
        raise forbidden()

    # ---- the operations -------------------------------------------------------------------

    def _declare(self) -> None:
        route = self.api.route
        route("POST", "/customers", summary="Open a customer", tag=TAG, body=OpenCustomer,
              response=CustomerWire, status=201)(self.open_customer)
        route("GET", "/customers", summary="List the customers", tag=TAG, query=Page,
              response=CustomerList)(self.list_customers)
        route("GET", "/customers/{account}", summary="A customer", tag=TAG,
              response=CustomerWire)(self.get_customer)
        route("POST", "/customers/{account}/kyc", summary="Re-verify a customer's KYC tier",
              tag=TAG, body=Reverify, response=CustomerWire)(self.reverify)
        route("GET", "/customers/{account}/balances", summary="A customer's balances", tag=TAG,
              response=BalanceList)(self.balances)
        route("GET", "/customers/{account}/payments", summary="A customer's payments", tag=TAG,
              query=Page, response=PaymentList)(self.customer_payments)
        route("POST", "/distributions", summary="Move the bank's money into a wallet", tag=TAG,
              body=Distribution, response=PaymentWire)(self.distribute)
        route("POST", "/payments", summary="Prepare a payment", tag=TAG, body=PaymentRequest,
              response=PreparedPayment, status=201)(self.prepare_payment)
        route("POST", "/cash-outs", summary="Prepare a cash-out", tag=TAG, body=CashOutRequest,
              response=PreparedPayment, status=201)(self.prepare_cash_out)
        route("POST", "/settlements", summary="Prepare the claim or refund of a locked note",
              tag=TAG, body=SettlementRequest, response=PreparedPayment,
              status=201)(self.prepare_settlement)
        route("POST", "/payments/{payment_id}/signature", summary="Sign a prepared payment",
              tag=TAG, body=PaymentSignature, response=PaymentWire)(self.sign_payment)
        route("GET", "/reports/payments.csv", summary="The customers' payments as CSV",
              tag=TAG, media_type="text/csv")(self.report)

    async def open_customer(self, call: Call) -> CustomerWire:
        """Open a customer: the wallet is registered centrally first and recorded here once
        the central bank took it, so a key it refuses (409 `key_registered`: a participant's,
        another bank's customer's) leaves nothing here; after a failure between the two, the
        same opening again finds the central registration the bank's own and completes."""
        self._operator(call)
        body = call.body(OpenCustomer)
        row = CustomerRow(account=f"{body.name}@{self.config.name}", key=body.key,
                          display_name=body.display_name, role=body.role, mcc=body.mcc,
                          phone=body.phone, kyc_tier=body.kyc_tier, region=body.region,
                          created_at_s=int(time.time()))
        async with self._registering:
            await self.store.check_new_customer(row)
            await self.central.register_wallet(wallet_of(row))
            await self.store.add_customer(row)
        return customer_to_wire(row)

    async def list_customers(self, call: Call) -> CustomerList:
        """A page of customers by account id."""
        self._operator(call)
        page = call.query(Page)
        rows = await asyncio.to_thread(self.store.customers, page.after, page.limit + 1)
        more = len(rows) > page.limit
        rows = rows[:page.limit]
        return CustomerList(items=[customer_to_wire(r) for r in rows],
                            next=rows[-1].account if more else None)

    async def get_customer(self, call: Call) -> CustomerWire:
        """One customer."""
        return customer_to_wire(await self._account(call, call.path("account")))

    async def reverify(self, call: Call) -> CustomerWire:
        """Change a customer's KYC tier in the central directory, then here: a tier the
        central bank did not take is not the bank's either."""
        self._operator(call)
        customer = await self._account(call, call.path("account"))
        tier = call.body(Reverify).kyc_tier
        async with self._registering:
            await self.central.register_wallet(wallet_of(customer.model_copy(
                update={"kyc_tier": tier})))
            updated = await self.store.set_kyc(customer.account, tier)
        if updated is None:
            raise not_found("customer")
        return customer_to_wire(updated)

    async def balances(self, call: Call) -> BalanceList:
        """What the customer's wallet holds, from the ledger: what it may spend, and apart what
        is hash-locked."""
        customer = await self._account(call, call.path("account"))
        listed = await self.central.balances(customer.key)
        return spendable(listed, await unspent_notes(self.central, customer.key))

    async def customer_payments(self, call: Call) -> PaymentList:
        """The customer's payments, newest first; a locked payment with its lock."""
        customer = await self._account(call, call.path("account"))
        listed = await self.history.page(customer, call.query(Page))
        return await self.payments.with_locks(customer, listed)

    async def distribute(self, call: Call) -> PaymentWire:
        """The bank's plain money into a customer's wallet."""
        self._operator(call)
        body = call.body(Distribution)
        customer = await self._account(call, body.account)
        return await self.payments.distribute(customer, body)

    async def prepare_payment(self, call: Call) -> PreparedPayment:
        """Prepare the calling customer's payment."""
        customer = await self._customer(call)
        return await self.payments.prepare_payment(customer, call.body(PaymentRequest))

    async def prepare_cash_out(self, call: Call) -> PreparedPayment:
        """Prepare the calling customer's cash-out."""
        customer = await self._customer(call)
        return await self.payments.prepare_cash_out(customer, call.body(CashOutRequest))

    async def prepare_settlement(self, call: Call) -> PreparedPayment:
        """Prepare the calling customer's claim or refund of a hash-locked note."""
        customer = await self._customer(call)
        return await self.payments.prepare_settlement(customer, call.body(SettlementRequest))

    async def sign_payment(self, call: Call) -> PaymentWire:
        """The calling customer signs their prepared payment; the bank forwards it."""
        customer = await self._customer(call)
        return await self.payments.sign(customer, call.path("payment_id"),
                                        call.body(PaymentSignature).signature)

    async def report(self, call: Call) -> web.Response:
        """Every payment record of the bank's customers, as CSV."""
        self._operator(call)
        rows = await asyncio.to_thread(
            lambda: list(itertools.islice(self.store.every_payment(), REPORT_ROWS_MAX + 1)))
        if len(rows) > REPORT_ROWS_MAX:
            raise unprocessable("report_too_large", f"more than {REPORT_ROWS_MAX} payments")
        return web.Response(text=payments_csv(rows), content_type="text/csv")

