"""The hub's settlement driver: moves each payment one stage at a time until both legs are done.

Every stage's step asks one other system and stores what it learned before the next step; each
system answers a repeated request the same way (the provider by payment id, the switch by
message id and UETR, the bridge by swap), so a step cut short by a crash is simply taken again.
Who settles what:

* the sender locks the source leg to the provider, refundable to itself at the source deadline;
* the provider verifies that lock and locks its own destination leg (ledger or chain) under the
  same hashlock, ending `margin_s` earlier; toward a partner switch it locks nothing, and the
  hub sends the pacs.008 that debits the provider's settlement account there;
* the preimage leaves the hub only toward the destination side: to the receiver of a ledger
  leg (who claims), to the bridge (which claims the chain lock for the receiver), or, on ACCC or
  BLCK from a switch, to the provider; whoever claims the destination publishes it, and the
  provider claims the source with it. On RJCT the hub releases nothing, and each leg refunds.

A step that fails for want of an answer (a system down, a timeout) leaves the payment where it
was, and the next pass tries again.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from bridges.iso20022 import (
    Account,
    ChargeBearer,
    CreditTransfer,
    FinancialInstitution,
    Party,
    PaymentStatusReport,
    Proxy,
    ProxyType,
    TransactionStatus,
    money,
)
from node.bridge_service import BridgeClient
from node.client import ClientError, HttpSession, NodeClient
from node.hub_config import HubConfig
from node.hub_store import HubPayment, HubStore, Stage, inconsistent
from node.partner_switch_client import PartnerSwitchClient
from node.quote_selection import FxClient
from node.settlement_messages import (
    AcceptanceRequest,
    Destination,
    LegStatus,
    Release,
    SourceLocked,
)

log = logging.getLogger("earmark.hub")
CONCURRENT_PAYMENTS_MAX: Final = 16  # payments one pass advances at once
ACCC: Final = TransactionStatus.ACCEPTED_CREDITOR_SETTLEMENT_COMPLETED
ACWP: Final = TransactionStatus.ACCEPTED_WITHOUT_POSTING
RJCT: Final = TransactionStatus.REJECTED
BLCK: Final = TransactionStatus.BLOCKED
# Once the destination leg is locked, these provider states end the payment.
LEG_OUTCOMES: Final = {LegStatus.DESTINATION_CLAIMED: ACCC, LegStatus.SETTLED: ACCC,
                       LegStatus.REFUNDED: RJCT, LegStatus.REFUSED: RJCT}

# Stages where a system's refusal ends the payment: nothing has moved on the destination side.
REFUSABLE: Final = frozenset({Stage.ACCEPTING, Stage.SOURCE_REPORTED, Stage.SWITCH_CREDIT})

PROXY_TYPES: Final = frozenset(kind.value for kind in ProxyType)

Step = Callable[[HubPayment], Awaitable[HubPayment]]


@dataclass
class Links:
    """The hub's open connections: one per provider, partner switch and bridge."""

    providers: dict[str, FxClient]
    switches: dict[str, PartnerSwitchClient]
    bridges: dict[str, BridgeClient]
    ledgers: dict[str, NodeClient]

    @classmethod
    def of(cls, config: HubConfig) -> Links:
        """Connections to every system of the registry (not yet open)."""
        key = config.key
        return cls({p.name: FxClient(p.url, key) for p in config.providers},
                   {s.name: PartnerSwitchClient(s.url) for s in config.switches},
                   {c.name: BridgeClient(c.bridge_url, key) for c in config.chains},
                   {ledger.currency: NodeClient(ledger.url, key) for ledger in config.ledgers})

    def _all(self) -> list[HttpSession]:
        return [*self.providers.values(), *self.switches.values(), *self.bridges.values(),
                *self.ledgers.values()]

    async def open(self) -> None:
        """Open every connection."""
        for link in self._all():
            await link.__aenter__()

    async def close(self) -> None:
        """Close every connection."""
        for link in self._all():
            await link.close()


class SettlementDriver:
    """Advances payments stage by stage; one payment is advanced by one task at a time."""

    def __init__(self, config: HubConfig, store: HubStore, links: Links) -> None:
        self.config = config
        self.store = store
        self.links = links
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary())
        self._steps: dict[Stage, Step] = {
            Stage.ACCEPTING: self._accept, Stage.AWAITING_SOURCE: self._await_source,
            Stage.SOURCE_REPORTED: self._instruct_provider,
            Stage.SWITCH_CREDIT: self._credit_at_switch, Stage.RELEASING: self._release,
            Stage.DESTINATION_LOCKED: self._watch_destination}

    async def advance(self, payment_id: str) -> HubPayment:
        """Take the payment's steps until one has to wait; returns where it stands."""
        lock = self._locks.setdefault(payment_id, asyncio.Lock())
        async with lock:
            payment = await self._stored(payment_id)
            while payment.stage is not Stage.DONE:
                moved = await self._step(payment)
                if moved == payment:
                    break
                payment = moved
            return payment

    async def report_source(self, payment: HubPayment, source_tx_id: str) -> HubPayment:
        """The sender says the source leg committed in `source_tx_id`: record it once."""
        lock = self._locks.setdefault(payment.id, asyncio.Lock())
        async with lock:
            current = await self._stored(payment.id)
            if current.stage is Stage.AWAITING_SOURCE:
                await self.store.save(current, stage=Stage.SOURCE_REPORTED,
                                      source_tx_id=source_tx_id)
        return await self.advance(payment.id)

    async def run(self) -> None:
        """Advance every unfinished payment, pass after pass, until cancelled."""
        while True:
            try:
                await self.step()
            except Exception:  # a pass must never end the driver; the next one retries
                log.exception("a settlement pass failed")
            await asyncio.sleep(self.config.poll_interval_s)

    async def step(self) -> int:
        """One pass over the payments with work to do; returns how many are still unfinished."""
        unfinished = await self.store.unfinished(time.time())
        gate = asyncio.Semaphore(CONCURRENT_PAYMENTS_MAX)

        async def one(payment: HubPayment) -> HubPayment:
            async with gate:
                return await self.advance(payment.id)
        advanced = await asyncio.gather(*(one(p) for p in unfinished))
        return sum(p.stage is not Stage.DONE for p in advanced)

    async def _step(self, payment: HubPayment) -> HubPayment:
        try:
            return await self._steps[payment.stage](payment)
        except ClientError as error:
            if error.transient or payment.stage not in REFUSABLE:
                # Once money may have moved on the destination side, only the systems' states
                # decide the outcome: a refusal there is an operator's problem, not an RJCT.
                log.warning("payment %s waits at %s: %s", payment.id, payment.stage, error)
                return payment
            if payment.stage is Stage.SWITCH_CREDIT:  # the switch refused the message itself
                return await self.store.save(payment, stage=Stage.RELEASING, status=RJCT,
                                             code=error.code, detail=error.detail)
            return await self._finish(payment, RJCT, error.code, error.detail)

    # ---- the steps --------------------------------------------------------------------------

    async def _accept(self, payment: HubPayment) -> HubPayment:
        quote = await self.store.quote_of(payment)
        destination = await self.store.destination_of(payment)
        request = AcceptanceRequest(
            quote_id=quote.id, payment_id=payment.id, hashlock=payment.hashlock,
            source_deadline_s=payment.source_deadline_s,
            destination_deadline_s=payment.destination_deadline_s, destination=destination)
        accepted = await self.links.providers[quote.provider].accept(request)
        return await self.store.save(payment, stage=Stage.AWAITING_SOURCE,
                                     pay_to=accepted.pay_to)

    async def _await_source(self, payment: HubPayment) -> HubPayment:
        if time.time() < payment.source_deadline_s:
            return payment
        return await self._finish(payment, RJCT, "source_not_locked",
                                  "the sender did not lock the source leg before its deadline")

    async def _instruct_provider(self, payment: HubPayment) -> HubPayment:
        provider = await self._provider(payment)
        leg = await provider.source_locked(payment.id, SourceLocked(
            source_tx_id=payment.source_tx_id))
        destination = await self.store.destination_of(payment)
        if leg.status is LegStatus.REFUSED:
            return await self._finish(payment, RJCT, leg.code, leg.detail)
        if leg.status is LegStatus.SOURCE_LOCKED and destination.kind == "switch":
            return await self.store.save(payment, stage=Stage.SWITCH_CREDIT, status=ACWP)
        if leg.status is LegStatus.DESTINATION_LOCKED:
            return await self.store.save(payment, stage=Stage.DESTINATION_LOCKED, status=ACWP,
                                         destination_note_id=leg.destination_note_id or "")
        return payment  # the provider is still locking its leg

    async def _credit_at_switch(self, payment: HubPayment) -> HubPayment:
        # A pacs.008 may have gone out before a crash, so it is sent again (the switch answers
        # a resend with the same report) until the provider could no longer claim in time.
        if time.time() >= payment.source_deadline_s - self.config.margin_s // 2:
            return await self.store.save(payment, stage=Stage.RELEASING, status=RJCT,
                                         code="switch_too_late",
                                         detail="the switch did not answer in time")
        destination = await self.store.destination_of(payment)
        transfer = await self._credit_transfer(payment, destination)
        report = await self.links.switches[destination.system].credit(transfer)
        status, code, detail = switch_outcome(report)
        return await self.store.save(payment, stage=Stage.RELEASING, status=status, code=code,
                                     detail=detail)

    async def _release(self, payment: HubPayment) -> HubPayment:
        credited = payment.status in (ACCC, BLCK)
        release = Release.model_validate({"status": payment.status.value,
                                          "preimage": payment.preimage if credited else None})
        await (await self._provider(payment)).release(payment.id, release)
        return await self.store.save(payment, stage=Stage.DONE)

    async def _watch_destination(self, payment: HubPayment) -> HubPayment:
        destination = await self.store.destination_of(payment)
        if destination.kind == "chain":
            ended = await self._relay_chain_claim(payment, destination)
            if ended is not None:
                return ended
        leg = await (await self._provider(payment)).legs(payment.id)
        outcome = LEG_OUTCOMES.get(leg.status)
        if outcome is None:
            return payment
        return await self._finish(payment, outcome, leg.code, leg.detail)

    async def _relay_chain_claim(self, payment: HubPayment,
                                 destination: Destination) -> HubPayment | None:
        """Have the bridge claim the chain lock for its receiver once it exists: the claim
        reveals the preimage on chain, from where the bridge and then the provider claim. A
        swap the bridge declined (or refunded) ends the payment: the preimage stays here, so
        each leg refunds to its payer at its deadline."""
        bridge = self.links.bridges[destination.system]
        try:
            swap = await bridge.swap(payment.destination_note_id)
        except ClientError as error:
            if error.status == 404:  # the bridge has not taken the ledger lock yet
                return None
            raise
        if swap.status == "locked":
            await bridge.claim(payment.destination_note_id, payment.preimage)
        if swap.status in ("declined", "refunded"):
            return await self._finish(payment, RJCT, f"swap_{swap.status}", swap.reason)
        return None

    # ---- shared ---------------------------------------------------------------------------

    async def _stored(self, payment_id: str) -> HubPayment:
        payment = await self.store.payment(payment_id)
        if payment is None:
            raise inconsistent(f"no payment {payment_id} to advance")
        return payment

    async def _finish(self, payment: HubPayment, status: TransactionStatus, code: str,
                      detail: str) -> HubPayment:
        log.info("payment %s: %s %s", payment.id, status.value, code)
        return await self.store.save(payment, stage=Stage.DONE, status=status, code=code,
                                     detail=detail)

    async def _provider(self, payment: HubPayment) -> FxClient:
        quote = await self.store.quote_of(payment)
        return self.links.providers[quote.provider]

    async def _credit_transfer(self, payment: HubPayment,
                               destination: Destination) -> CreditTransfer:
        quote = await self.store.quote_of(payment)
        switch = self.config.switch(destination.system)
        provider = self.config.provider(quote.provider)
        if switch is None or provider is None:
            raise inconsistent(f"payment {payment.id}: {destination.system} or "
                               f"{quote.provider} left the registry")
        agent = FinancialInstitution(other_id=provider.switch_agents[switch.name])
        switch_agent = FinancialInstitution(other_id=switch.agent_id, country=switch.country)
        now = datetime.now(UTC)
        amount = money(quote.destination.amount_minor, quote.destination.currency)
        # Message id, end-to-end id and UETR are functions of the payment (its id is 128 random
        # bits: with the version bits set, a UUID v4), so a resend after a crash is the same
        # message and the switch moves the money once.
        return CreditTransfer(
            message_id=f"HUB-{payment.id}"[:35], created_at=now,
            end_to_end_id=f"E2E-{payment.id}"[:35],
            uetr=uuid.UUID(hex=payment.id, version=4), settlement_amount=amount,
            settlement_date=now.date(), charge_bearer=ChargeBearer.SHARED,
            instructing_agent=agent, instructed_agent=switch_agent,
            debtor=Party(name=quote.provider), debtor_agent=agent,
            creditor_agent=switch_agent, creditor=Party(name=destination.account),
            creditor_account=creditor_account(destination.account),
            remittance_information=f"Earmark payment {payment.id}")


def creditor_account(account: str) -> Account:
    """The pacs.008's creditor account: the number the switch confirmed, or the proxy it
    confirmed written `TYPE:value` (`node.payee_resolution`)."""
    kind, colon, value = account.partition(":")
    if colon and kind in PROXY_TYPES:
        return Account(proxy=Proxy(ProxyType(kind), value))
    return Account(number=account)


def switch_outcome(report: PaymentStatusReport) -> tuple[TransactionStatus, str, str]:
    """A pacs.002's status, reason code and reason text as the payment records them."""
    reason = report.reasons[0] if report.reasons else None
    code = "" if reason is None else reason.code.value
    detail = "" if reason is None else " ".join(reason.additional_information)
    if report.status in (ACCC, BLCK):
        return report.status, code, detail
    return RJCT, code or "switch_rejected", detail

