"""A typed client of the hub (`node.hub`), signed by the sender's (or receiver's) wallet key.

`pay_abroad` is the whole sender's side of a cross-border payment as a wallet app runs it:
order the quote, lock the source leg through the sender's bank, report it, and follow the status
until it is final or the wait ends.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final

from node.client import NodeClient
from node.hub_messages import (
    HubPaymentWire,
    HubQuoteRequest,
    HubQuoteWire,
    PaymentOrder,
    SystemsWire,
)
from node.messages import PaymentRequest, PaymentWire, PayTo
from node.payee_resolution import ResolvedPayee, ResolveRequest
from node.settlement_messages import SourceLocked

FINAL_STATUSES: Final = frozenset({"ACCC", "RJCT", "BLCK"})
STATUS_POLL_S: Final = 0.05  # how often `wait` asks while a payment is under way


class HubClient(NodeClient):
    """A signed connection to one hub."""

    service = "Hub"

    async def systems(self) -> SystemsWire:
        """`GET /systems`: the registry."""
        return await self._call("GET", "/systems", SystemsWire)

    async def resolve(self, request: ResolveRequest) -> ResolvedPayee:
        """`POST /resolve`: the payee behind a proxy or QR payload."""
        return await self._call("POST", "/resolve", ResolvedPayee, body=request)

    async def quote(self, request: HubQuoteRequest) -> HubQuoteWire:
        """`POST /quotes`: the best allowed quote, for the wallet registered as
        `request.sender_account` (this client's key must be the one registered there)."""
        return await self._call("POST", "/quotes", HubQuoteWire, body=request)

    async def order(self, quote_id: str) -> HubPaymentWire:
        """`POST /payments`: approve the quote; the answer says what to lock. Refused
        `quote_withdrawn` (409) when the provider can no longer credit it: the sender approves
        a new quote instead, which the hub takes from another provider."""
        return await self._call("POST", "/payments", HubPaymentWire,
                                body=PaymentOrder(quote_id=quote_id))

    async def report_source(self, payment_id: str, source_tx_id: str) -> HubPaymentWire:
        """`POST /payments/{id}/source`: the source leg committed in `source_tx_id`."""
        return await self._call("POST", f"/payments/{payment_id}/source", HubPaymentWire,
                                body=SourceLocked(source_tx_id=source_tx_id))

    async def payment(self, payment_id: str) -> HubPaymentWire:
        """`GET /payments/{id}`."""
        return await self._call("GET", f"/payments/{payment_id}", HubPaymentWire)

    async def wait(self, payment_id: str, timeout_s: float) -> HubPaymentWire:
        """The payment once its status is final, or as it stands after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            payment = await self.payment(payment_id)
            if payment.status in FINAL_STATUSES or time.monotonic() >= deadline:
                return payment
            await asyncio.sleep(STATUS_POLL_S)


async def lock_source(bank: NodeClient, payment: HubPaymentWire) -> PaymentWire:
    """The sender's bank prepares the locked source leg the hub asked for; the sender signs."""
    pay = payment.pay
    return await bank.pay(PaymentRequest(to=PayTo(participant=pay.participant),
                                         currency=pay.currency, amount_minor=pay.amount_minor,
                                         operation="transfer", lock=pay.lock))


async def pay_abroad(hub: HubClient, bank: NodeClient, quote_id: str, *,
                     timeout_s: float) -> HubPaymentWire:
    """Approve `quote_id`, lock the source leg through `bank`, report it, and wait up to
    `timeout_s` for a final status. Both clients are signed by the sender's wallet key."""
    ordered = await hub.order(quote_id)
    locked = await lock_source(bank, ordered)
    reported = await hub.report_source(ordered.id, locked.tx_id)
    if reported.status in FINAL_STATUSES:
        return reported
    return await hub.wait(ordered.id, timeout_s)
