"""The cross-border hub's service: its registry, quotes toward a destination, payment orders.

The hub connects the Earmark ledgers, the partner QR switches abroad and the stablecoin chains
of its registry (`node.hub_config`) through competing FX providers. A sender resolves the payee
(`POST /resolve`), asks for the best allowed quote (`POST /quotes`), orders the payment
(`POST /payments`: the hub makes the preimage, keeps it, and answers what to lock), locks the
source leg through its bank and reports it (`POST /payments/{id}/source`), and follows the
status (`GET /payments/{id}`, pacs.002 codes). `node.hub_settlement` drives the legs; docs/hub.md
tells the whole protocol.

Every order makes a provider reserve liquidity until the source deadline, so the hub serves
quotes (and so orders, which take an offered quote) only to senders registered on the source
ledger: the request names the sender's account, and the ledger's directory must give the
caller's key for it (`RegisteredSenders`). The facts the spent token's rules read about the
sender are the ones her bank registered there, as the ledger itself reads them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from bridges.iso20022 import TransactionStatus
from dsl.evaluate import CompiledCorridor, CompiledPolicy
from dsl.facts import Party
from dsl.phases import CompiledContract
from node.api import Api, Call
from node.client import ClientError, NodeClient
from node.database import Writer, open_database
from node.errors import NodeError, conflict, forbidden, not_found, unprocessable
from node.fx_messages import QuoteRequest
from node.http_service import serve_app, service_app
from node.hub_config import HubConfig
from node.hub_messages import (
    HubPaymentWire,
    HubQuoteRequest,
    HubQuoteWire,
    PayInstruction,
    PaymentOrder,
    RefusedQuoteWire,
    SkippedProviderWire,
    SystemsWire,
)
from node.hub_settlement import Links, SettlementDriver
from node.hub_store import HubPayment, HubStore, OfferedQuote, Stage
from node.idempotency import IdempotencyStore
from node.messages import DirectoryQuery, LockRequest, PayeeWire
from node.metrics import Metrics
from node.payee_resolution import ResolvedPayee, ResolveRequest, resolve
from node.quote_selection import (
    WITHDRAWN,
    Judge,
    ProviderEndpoint,
    Selection,
    SpentToken,
    Withdrawals,
    select_quote,
)
from node.recent import Recent
from node.settlement_messages import Destination, SourceLocked

API_VERSION: Final = "1.0.0"
ROLE: Final = "hub"
PAYMENT_ID_BYTES: Final = 16
PREIMAGE_BYTES: Final = 32
# How long the hub trusts the directory's answer about a sender's account: a key changed or a
# registration withdrawn at the ledger reaches the hub's checks within this time.
SENDER_FRESH_S: Final = 30.0
SENDERS_KEPT_MAX: Final = 10_000  # directory answers kept at once; the oldest are forgotten


@dataclass(frozen=True, slots=True)
class _Registration:
    """A sender's directory entry and when the hub read it (the hub's clock, seconds)."""

    payee: PayeeWire
    read_at_s: float


class RegisteredSenders:
    """The wallets registered on each source ledger, as its directory answers by account.

    Only registered accounts are kept (`SENDERS_KEPT_MAX`, each for `SENDER_FRESH_S`): a
    caller naming accounts that do not exist fills nothing, and each of its requests costs one
    directory read."""

    def __init__(self, ledgers: Mapping[str, NodeClient], clock: Callable[[], float]) -> None:
        """`ledgers`: the hub's connection to each ledger, by the currency it issues."""
        self._ledgers = ledgers
        self._clock = clock
        self._kept: Recent[tuple[str, str], _Registration] = Recent(SENDERS_KEPT_MAX)

    async def party(self, currency: str, account: str, caller: str) -> Party:
        """The facts registered for `account` on the ledger of `currency`, if `caller` is the
        key registered for it; `sender_unregistered` (403) otherwise, the same answer whether
        or not the account exists."""
        payee = await self._payee(currency, account)
        if payee is None or payee.key != caller:
            raise NodeError(403, "sender_unregistered", "Forbidden", "the caller is not the "
                            "wallet registered under this account on the source ledger")
        return Party(id=payee.account, role=payee.role, kyc=payee.kyc, bank=payee.bank,
                     region=payee.region, mcc=payee.mcc)

    async def _payee(self, currency: str, account: str) -> PayeeWire | None:
        now_s = self._clock()
        kept = self._kept.get((currency, account))
        if kept is not None and now_s - kept.read_at_s < SENDER_FRESH_S:
            return kept.payee
        try:
            payee = await self._ledgers[currency].directory(DirectoryQuery(account=account))
        except ClientError as error:
            if error.status == 404:
                self._kept.forget((currency, account))
                return None
            raise NodeError(502, "system_unavailable", "System unavailable",
                            f"the {currency} ledger's directory did not answer usefully: "
                            f"{error.code}: {error.detail}") from None
        self._kept.keep((currency, account), _Registration(payee, now_s))
        return payee


class HubService:
    """The hub's operations, its store and its settlement driver."""

    def __init__(self, config: HubConfig, clock: Callable[[], float] = time.time) -> None:
        """`clock`: the hub's clock in seconds (tests move it)."""
        self.config = config
        self.key = config.key
        self.engine = open_database(config.database)
        self._writer = Writer(self.engine)
        self.store = HubStore(self.engine, self._writer)
        self.idempotency = IdempotencyStore(self.engine, self._writer)
        self.links = Links.of(config)
        self.driver = SettlementDriver(config, self.store, self.links)
        self.corridors = compile_corridors(config)
        self.senders = RegisteredSenders(self.links.ledgers, clock)
        self.withdrawals = Withdrawals()
        self._clock = clock
        self._policies: dict[tuple[str, str], CompiledPolicy] = {}
        self._driving: asyncio.Task[None] | None = None
        self.api = Api(f"Earmark hub {config.name}", API_VERSION,
                       "The cross-border hub: payees, FX quotes and atomic settlement "
                       "(docs/hub.md).")
        self._declare()

    async def start(self) -> None:
        """Open the registry's connections and start driving unfinished payments."""
        await self.links.open()
        self._driving = asyncio.create_task(self.driver.run(), name="hub settlement")

    async def close(self) -> None:
        """Stop driving (a payment resumes from its stored stage), close everything."""
        if self._driving is not None:
            self._driving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._driving
        await self.links.close()
        await asyncio.to_thread(self._writer.close)
        self.engine.dispose()

    def _declare(self) -> None:
        route = self.api.route
        route("GET", "/systems", summary="The connected systems and FX providers",
              tag="registry", response=SystemsWire, signed=False)(self.systems)
        route("POST", "/resolve", summary="Resolve a proxy or QR payload to a payee",
              tag="payees", body=ResolveRequest, response=ResolvedPayee)(self.resolve)
        route("POST", "/quotes", summary="The best allowed quote toward a destination",
              tag="quotes", body=HubQuoteRequest, response=HubQuoteWire,
              status=201, repeatable=True)(self.quote)
        route("POST", "/payments", summary="Order a payment on an offered quote",
              tag="payments", body=PaymentOrder, response=HubPaymentWire,
              status=201)(self.order)
        route("POST", "/payments/{id}/source", summary="Report the locked source leg",
              tag="payments", body=SourceLocked, response=HubPaymentWire)(self.source)
        route("GET", "/payments/{id}", summary="A payment's status", tag="payments",
              response=HubPaymentWire)(self.payment)

    # ---- operations -------------------------------------------------------------------------

    async def systems(self, _call: Call) -> SystemsWire:
        """GET /systems: the registry (names, currencies, schemes), without secrets."""
        config = self.config
        return SystemsWire(
            ledgers=[{"name": x.name, "currency": x.currency, "url": x.url, "key": x.key}
                     for x in config.ledgers],
            switches=[{"name": x.name, "scheme": x.scheme.value, "country": x.country,
                       "currency": x.currency} for x in config.switches],
            chains=[{"name": x.name, "ledger": x.ledger, "bridge": x.bridge}
                    for x in config.chains],
            providers=[p.name for p in config.providers])

    async def resolve(self, call: Call) -> ResolvedPayee:
        """POST /resolve: the payee behind a phone number, account id or QR payload."""
        return await resolve(self.config, call.body(ResolveRequest), self.key,
                             timeout_s=self.config.quote_timeout_s)

    async def quote(self, call: Call) -> HubQuoteWire:
        """POST /quotes: to a registered sender, ask every provider not resting from the
        corridor, keep the best allowed quote, show it."""
        request = call.body(HubQuoteRequest)
        asked = QuoteRequest(source_currency=request.source_currency,
                             destination_currency=self.currency_of(request.destination),
                             fixed=request.fixed, amount_minor=request.amount_minor)
        if self.config.ledger_of(request.source_currency) is None:
            raise unprocessable("system_unknown", f"no Earmark ledger of "
                                f"{request.source_currency} is connected")
        sender = await self.senders.party(request.source_currency, request.sender_account,
                                          call.signed_by())
        now_s = int(self._clock())
        judge = Judge(corridor=self.corridors.get((asked.source_currency,
                                                   asked.destination_currency)),
                      token=await self._spent(request, sender, now_s))
        asking, resting = self.withdrawals.split(self._endpoints(request.destination), asked,
                                                 now_s)
        selection = await select_quote(asking, asked, judge, now_s,
                                       timeout_s=self.config.quote_timeout_s, skipped=resting)
        await self.store.offer(OfferedQuote(selection.chosen, call.signed_by(),
                                            request.destination))
        return quote_wire(selection, request.destination)

    async def order(self, call: Call) -> HubPaymentWire:
        """POST /payments: accept the quote with its provider; answer what to lock. Only the
        sender the quote was offered to may order it, so only a registered sender orders."""
        offered = await self.store.offered(call.body(PaymentOrder).quote_id, call.signed_by())
        if offered is None:
            raise not_found("quote")
        # The expiry and the sender's open orders are checked with the insert: an order resent
        # after the expiry (its first answer lost) still finds the payment the first one made.
        now_s = int(self._clock())
        new = self._new_payment(offered, now_s)
        created = await self.store.create(new, offered.quote.expires_at_s)
        if created is None:
            raise unprocessable("quote_expired", f"the quote expired at "
                                f"{offered.quote.expires_at_s}; ask for a new one")
        payment = await self.driver.advance(created.id)
        if payment.stage is Stage.ACCEPTING:
            raise NodeError(503, "provider_unavailable", "Provider unavailable",
                            f"{offered.quote.provider} did not answer; the hub keeps trying "
                            f"(GET /payments/{payment.id})", payment_id=payment.id)
        if payment.status is TransactionStatus.REJECTED and payment.code == WITHDRAWN:
            if created.id == new.id:  # refused now, not a resend of an order refused earlier
                self.withdrawals.withdrew(offered.quote, now_s)
            raise withdrawn(payment)
        if payment.status is TransactionStatus.REJECTED:
            raise unprocessable(payment.code, payment.detail, payment_id=payment.id)
        return await self._wire(payment, call.signed_by())

    async def source(self, call: Call) -> HubPaymentWire:
        """POST /payments/{id}/source: the sender's source leg committed; settle."""
        payment = await self._own(call, sender_only=True)
        report = call.body(SourceLocked)
        if payment.source_tx_id and payment.source_tx_id != report.source_tx_id:
            raise conflict("source_already_reported", f"the source leg was reported as "
                           f"{payment.source_tx_id}")
        if payment.stage is not Stage.AWAITING_SOURCE and not payment.source_tx_id:
            raise conflict("payment_not_awaiting_source", f"the payment is {payment.status}")
        try:
            payment = await self.driver.report_source(payment, report.source_tx_id)
        except ClientError as error:
            if not error.transient:
                raise
        return await self._wire(payment, call.signed_by())

    async def payment(self, call: Call) -> HubPaymentWire:
        """GET /payments/{id}: the status, to the sender or the destination's receiver."""
        return await self._wire(await self._own(call, sender_only=False), call.signed_by())

    # ---- shared -----------------------------------------------------------------------------

    def currency_of(self, destination: Destination) -> str:
        """The currency the destination is credited in, from the registry."""
        config = self.config
        if destination.kind == "ledger" and (ledger := config.ledger(destination.system)):
            return ledger.currency
        if destination.kind == "switch" and (switch := config.switch(destination.system)):
            return switch.currency
        chain = config.chain(destination.system) if destination.kind == "chain" else None
        chain_ledger = None if chain is None else config.ledger(chain.ledger)
        if chain_ledger is not None:
            return chain_ledger.currency
        raise unprocessable("system_unknown", f"no {destination.kind} system "
                            f"{destination.system} is connected")

    async def _spent(self, request: HubQuoteRequest, sender: Party,
                     now_s: int) -> SpentToken | None:
        """The spent token's policy, from the contract deployed on the source ledger: its
        `convert` rules judge every quote, reading the sender's registered facts, as of now."""
        token = request.token
        if token is None:
            return None
        found = self._policies.get((token.contract, token.token))
        if found is None:
            ledger = self.links.ledgers[request.source_currency]
            deployed = await ledger.contract(token.contract)
            contract = CompiledContract(deployed.source or "", f"contract {deployed.name}")
            if token.token not in contract.policies:
                raise unprocessable("token_unknown", f"contract {deployed.name} has no token "
                                    f"{token.token}")
            found = self._policies[(token.contract, token.token)] = (
                contract.policies[token.token])
        return SpentToken(found, sender, issued_at_s=now_s)

    def _endpoints(self, destination: Destination) -> list[ProviderEndpoint]:
        """The providers that can credit the destination (at a switch: those with an account
        there)."""
        return [ProviderEndpoint(p.name, self.links.providers[p.name], p.key)
                for p in self.config.providers
                if destination.kind != "switch" or destination.system in p.switch_agents]

    def _new_payment(self, offered: OfferedQuote, now_s: int) -> HubPayment:
        preimage = secrets.token_bytes(PREIMAGE_BYTES)
        source_deadline_s = now_s + self.config.source_window_s
        return HubPayment(
            id=secrets.token_hex(PAYMENT_ID_BYTES), quote_id=offered.quote.id,
            sender=offered.requester, stage=Stage.ACCEPTING,
            status=TransactionStatus.PENDING, preimage=preimage.hex(),
            hashlock=hashlib.sha256(preimage).hexdigest(),
            source_deadline_s=source_deadline_s,
            destination_deadline_s=source_deadline_s - self.config.margin_s,
            created_at_s=now_s, updated_at_s=now_s, pay_to=offered.quote.provider)

    async def _own(self, call: Call, *, sender_only: bool) -> HubPayment:
        """The payment in the path, if the caller may see it (others learn nothing)."""
        payment = await self.store.payment(call.path("id"))
        if payment is None:
            raise forbidden()  # as for another's: whether a payment exists is not told
        caller = call.signed_by()
        if caller == payment.sender:
            return payment
        destination = await self.store.destination_of(payment)
        if not sender_only and destination.kind == "ledger" and caller == destination.account:
            return payment
        raise forbidden()

    async def _wire(self, payment: HubPayment, caller: str) -> HubPaymentWire:
        quote = await self.store.quote_of(payment)
        destination = await self.store.destination_of(payment)
        # The receiver of a ledger leg learns the preimage once its note is locked: its claim
        # is what publishes it to the provider.
        shown = (destination.kind == "ledger" and caller == destination.account
                 and bool(payment.destination_note_id))
        return HubPaymentWire(
            id=payment.id, status=payment.status.value,  # type: ignore[arg-type]
            stage=payment.stage.value, quote=quote, destination=destination,
            pay=PayInstruction(participant=payment.pay_to,
                               amount_minor=quote.source.amount_minor,
                               currency=quote.source.currency,
                               lock=LockRequest(digest=payment.hashlock,
                                                deadline_s=payment.source_deadline_s)),
            destination_deadline_s=payment.destination_deadline_s,
            source_tx_id=payment.source_tx_id or None,
            destination_note_id=payment.destination_note_id or None,
            preimage=payment.preimage if shown else None, code=payment.code,
            detail=payment.detail, created_at_s=payment.created_at_s,
            updated_at_s=payment.updated_at_s)


def withdrawn(payment: HubPayment) -> NodeError:
    """409 `quote_withdrawn`: the provider could no longer credit the approved quote. The hub
    does not switch providers under amounts the sender approved; she asks for a new quote,
    which no longer comes from that provider for a while."""
    return NodeError(409, "quote_withdrawn", "Quote withdrawn",
                     f"the provider can no longer credit this quote ({payment.code}: "
                     f"{payment.detail}); ask for a new quote", payment_id=payment.id)


def quote_wire(selection: Selection, destination: Destination) -> HubQuoteWire:
    """The chosen quote as the sender sees it, with what was refused or skipped and why."""
    return HubQuoteWire(
        quote=selection.chosen, destination=destination, lines=selection.chosen.lines(),
        refused=[RefusedQuoteWire(provider=r.quote.provider, rule=r.rule, reason=r.reason,
                                  contract=r.contract) for r in selection.refused],
        skipped=[SkippedProviderWire(provider=s.provider, why=s.why, detail=s.detail)
                 for s in selection.skipped])


def compile_corridors(config: HubConfig) -> dict[tuple[str, str], CompiledCorridor]:
    """The corridors of the configured contracts; a contract with errors stops the hub."""
    corridors: dict[tuple[str, str], CompiledCorridor] = {}
    for path in config.corridors:
        contract = CompiledContract.from_file(path)
        if not contract.ok:
            raise NodeError(400, "config_invalid", "Configuration invalid",
                            f"{path}: the corridor contract has errors (earmark check {path})")
        corridors.update(contract.corridors)
    return corridors


def build_hub_app(config: HubConfig, clock: Callable[[], float] = time.time) -> web.Application:
    """The application: the hub's operations plus /healthz, /metrics, /openapi.json, /docs."""
    return service_app(HubService(config, clock), Metrics(ROLE), {
        "role": ROLE, "name": config.name, "key": config.key.participant})


async def serve_hub(config: HubConfig, ready: asyncio.Event | None = None) -> None:
    """Serve until SIGTERM or SIGINT, then let the requests in flight finish and stop."""
    await serve_app(build_hub_app(config), config.host, config.port, f"hub {config.name}",
                    ready)
