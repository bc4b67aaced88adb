"""An FX provider's service: its rate sheet, firm quotes on request, and the quotes it issued.

`GET /rates` publishes the provider's corridors, prices and accounts (unsigned: it is public).
`POST /quotes` prices a conversion (`node.fx_quotes`), checks it against what the accepted
payments leave of the provider's liquidity in the destination currency, signs it with the
provider's key and keeps it durably before answering, so a quote that left the provider can
later be honoured or refused by its id, even after a restart (`GET /quotes/{id}`, visible to
the caller that asked for it alone), for `QUOTE_RETENTION_S`. Requests are signed by the
caller's key as on every Earmark node (`node.request_signing`); firm quotes and acceptances are
for the hubs the provider serves (`hub_keys`) alone. The hub accepts a quote for a payment and
reports its legs to the settlement desk (`node.fx_settlement`), which reserves liquidity, locks
the destination and claims the source.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from typing import Final

from aiohttp import web
from sqlalchemy import (
    Engine,
    bindparam,
    select,
)

from engine.lookup import Lookup
from node.api import Api, Call
from node.database import Writer, open_database, read
from node.errors import not_found, unprocessable
from node.fx_messages import (
    CorridorRatesWire,
    FeeWire,
    MoneyWire,
    QuoteRequest,
    QuoteWire,
    RateSheetWire,
    TierWire,
    decimal_text,
    quote_signing_bytes,
)
from node.fx_provider_config import CorridorConfig, FxProviderConfig
from node.fx_quotes import (
    Fixed,
    Priced,
    Pricing,
    effective_rate,
    fee_percent,
    price_destination,
    price_source,
    rate_at,
)
from node.fx_settlement import SettlementDesk, served_hub
from node.fx_settlement_store import SettlementBook
from node.http_service import serve_app, service_app
from node.idempotency import IdempotencyStore
from node.metrics import Metrics
from node.pruning import AgePruning
from node.recent import Recent
from node.tables import FX_QUOTES as QUOTES

API_VERSION: Final = "1.0.0"
ROLE: Final = "fx_provider"
QUOTE_ID_BYTES: Final = 16  # 128 random bits: an id nobody can guess
_UNSIGNED: Final = "0" * 128  # the signature field's place-holder while the quote is signed

QUOTES_KEPT_MAX: Final = 10_000  # quotes issued lately, kept in memory by id
# How long an issued quote is stored, from its creation; then it is pruned (`node.pruning`). Far
# longer than a quote binds (QUOTE_VALID_S_MAX) plus the furthest source deadline of a payment
# (SOURCE_DEADLINE_S_MAX), while which a hub may send its acceptance again.
QUOTE_RETENTION_S: Final = 2 * 24 * 3600
_FIND: Final = select(QUOTES.c.body, QUOTES.c.requester).where(
    QUOTES.c.id == bindparam("quote_id"))
_INSERT: Final = QUOTES.insert()


class QuoteBook:
    """The quotes the provider issued, by id, with the caller that asked for each, for
    `QUOTE_RETENTION_S`: storing one also prunes the oldest past it, in bounded batches.

    The quotes issued lately are kept in memory too (`QUOTES_KEPT_MAX`): a quote never changes,
    and the one a hub accepts was issued moments before."""

    def __init__(self, engine: Engine, writer: Writer) -> None:
        self._engine = engine
        self._writer = writer
        self._find = Lookup(engine, _FIND)
        self._kept: Recent[str, tuple[QuoteWire, str]] = Recent(QUOTES_KEPT_MAX)
        self._pruning = AgePruning(QUOTES, QUOTES.c.created_at_s, (QUOTES.c.id,),
                                   retention_s=QUOTE_RETENTION_S)

    async def keep(self, quote: QuoteWire, requester: str) -> None:
        """Store `quote` durably; returns once it is committed."""
        values = {"id": quote.id, "requester": requester, "created_at_s": quote.created_at_s,
                  "expires_at_s": quote.expires_at_s,
                  "body": quote.model_dump_json().encode()}
        await self._pruning.write(self._writer, lambda db: db.execute(_INSERT, values).rowcount,
                                  quote.created_at_s)
        self._kept.keep(quote.id, (quote, requester))

    async def find(self, quote_id: str, requester: str) -> QuoteWire | None:
        """The quote `quote_id` if `requester` asked for it; None otherwise."""
        found = await self._kept.read_through(quote_id, lambda: self._read(quote_id))
        return found[0] if found is not None and found[1] == requester else None

    async def _read(self, quote_id: str) -> tuple[QuoteWire, str] | None:
        row = await read(self._engine, self._find.first, quote_id=quote_id)
        if row is None:
            return None
        return QuoteWire.model_validate_json(row["body"]), row["requester"]


class FxProviderService:
    """The provider's operations, its quote book and its request machinery."""

    def __init__(self, config: FxProviderConfig,
                 clock: Callable[[], float] = time.time) -> None:
        """`clock`: the provider's clock in seconds (tests move it)."""
        self.config = config
        self.key = config.key
        self.engine = open_database(config.database)
        self._writer = Writer(self.engine)
        self.quotes = QuoteBook(self.engine, self._writer)
        self.idempotency = IdempotencyStore(self.engine, self._writer)
        self._clock = clock
        self._pricing = {(c.source, c.destination): c.pricing() for c in config.corridors}
        self.settlement = SettlementDesk(config, SettlementBook(self.engine, self._writer),
                                         self.quotes, clock)
        self.api = Api(f"Earmark FX provider {config.name}", API_VERSION,
                       "An FX provider's rates, firm quotes and their settlement (docs/fx.md).")
        self._declare()
        self.settlement.declare(self.api)

    async def start(self) -> None:
        """Open the ledgers and start the settlement loop."""
        await self.settlement.start()

    async def close(self) -> None:
        """Stop the settlement loop, commit what is queued and release the database."""
        await self.settlement.close()
        await asyncio.to_thread(self._writer.close)
        self.engine.dispose()

    def _declare(self) -> None:
        route = self.api.route
        route("GET", "/rates", summary="The provider's corridors, prices and accounts",
              tag="rates", response=RateSheetWire, signed=False)(self.rates)
        route("POST", "/quotes", summary="A firm quote for one conversion", tag="quotes",
              body=QuoteRequest, response=QuoteWire, status=201, repeatable=True)(self.quote)
        route("GET", "/quotes/{id}", summary="A quote this caller was given", tag="quotes",
              response=QuoteWire)(self.quote_by_id)

    async def rates(self, _call: Call) -> RateSheetWire:
        """GET /rates: the published rate sheet."""
        return RateSheetWire(provider=self.config.name, provider_key=self.key.participant,
                             accounts=dict(self.config.accounts),
                             corridors=[self._corridor_rates(c) for c in self.config.corridors])

    async def quote(self, call: Call) -> QuoteWire:
        """POST /quotes: price, check liquidity, sign and keep a quote (for a hub it serves)."""
        requester = served_hub(self.config, call)
        quote = self.price(call.body(QuoteRequest))
        await self._require_free(quote.destination)
        await self.quotes.keep(quote, requester)
        return quote

    async def _require_free(self, credit: MoneyWire) -> None:
        """`liquidity_exceeded` unless `credit` fits beside the reservations holding its
        currency now. A quote the provider could not accept would fail the hub's order, while
        refused here it lets the hub choose the next provider's."""
        liquidity = self.config.liquidity_minor.get(credit.currency, 0)
        reserved = await self.settlement.book.reserved(credit.currency, int(self._clock()))
        if credit.amount_minor > liquidity - reserved:
            raise unprocessable("liquidity_exceeded", f"{self.config.name} cannot credit "
                                f"{credit.amount_minor} minor units of {credit.currency} "
                                f"beside the payments it has accepted")

    def price(self, request: QuoteRequest) -> QuoteWire:
        """A signed quote for `request` (not kept, its liquidity not checked), or a refusal
        with its code."""
        pair = (request.source_currency, request.destination_currency)
        pricing = self._pricing.get(pair)
        if pricing is None:
            raise unprocessable("corridor_unknown", f"{self.config.name} does not convert "
                                f"{pair[0]} to {pair[1]}")
        priced = (price_source(pricing, request.amount_minor) if request.fixed is Fixed.SOURCE
                  else price_destination(pricing, request.amount_minor))
        return self._signed(self._quote_of(pricing, priced))

    async def quote_by_id(self, call: Call) -> QuoteWire:
        """GET /quotes/{id}: a quote issued to the caller (others learn nothing of it)."""
        found = await self.quotes.find(call.path("id"), call.signed_by())
        if found is None:
            raise not_found("quote")
        return found

    def _quote_of(self, pricing: Pricing, priced: Priced) -> QuoteWire:
        now_s = int(self._clock())
        source, destination = pricing.source, pricing.destination
        valid_s = self._corridor(source, destination).quote_valid_s
        return QuoteWire(
            id=secrets.token_hex(QUOTE_ID_BYTES), provider=self.config.name,
            provider_key=self.key.participant,
            source=MoneyWire(currency=source, amount_minor=priced.source_minor),
            destination=MoneyWire(currency=destination, amount_minor=priced.destination_minor),
            fixed=priced.fixed, rate=decimal_text(priced.rate),
            reference_rate=decimal_text(pricing.reference_rate),
            spread_percent=decimal_text(priced.spread_percent),
            fees=[FeeWire(kind="provider", amount_minor=priced.fee_minor, currency=source)],
            fee_percent=decimal_text(fee_percent(priced.fee_minor, priced.source_minor)),
            effective_rate=decimal_text(effective_rate(
                priced.source_minor, source, priced.destination_minor, destination)),
            created_at_s=now_s, expires_at_s=now_s + valid_s, signature=_UNSIGNED)

    def _signed(self, quote: QuoteWire) -> QuoteWire:
        signature = self.key.sign(quote_signing_bytes(quote)).hex()
        return quote.model_copy(update={"signature": signature})

    def _corridor(self, source: str, destination: str) -> CorridorConfig:
        corridor = self.config.corridor(source, destination)
        if corridor is None:
            raise unprocessable("corridor_unknown", f"no corridor {source} -> {destination}")
        return corridor

    def _corridor_rates(self, corridor: CorridorConfig) -> CorridorRatesWire:
        pricing = corridor.pricing()
        base = rate_at(pricing.reference_rate, pricing.spread_percent)
        return CorridorRatesWire(
            source_currency=corridor.source, destination_currency=corridor.destination,
            reference_rate=corridor.reference_rate, spread_percent=corridor.spread_percent,
            base_rate=decimal_text(base),
            tiers=[TierWire(from_minor=t.from_minor, improvement_percent=t.improvement_percent)
                   for t in corridor.tiers],
            fee_percent=corridor.fee_percent, fee_minimum_minor=corridor.fee_minimum_minor,
            quote_valid_s=corridor.quote_valid_s,
            liquidity_minor=self.config.liquidity_minor.get(corridor.destination, 0))


def build_fx_app(config: FxProviderConfig,
                 clock: Callable[[], float] = time.time) -> web.Application:
    """The application: the provider's operations plus /healthz, /metrics, /openapi.json, /docs."""
    return fx_app(FxProviderService(config, clock))


def fx_app(service: FxProviderService) -> web.Application:
    """The application serving `service` (tests keep the service to drive its settlement)."""
    config = service.config
    return service_app(service, Metrics(ROLE), {
        "role": ROLE, "name": config.name, "key": config.key.participant})


async def serve_fx(config: FxProviderConfig) -> None:
    """Serve until SIGTERM or SIGINT, then let the requests in flight finish and stop."""
    await serve_app(build_fx_app(config), config.host, config.port,
                    f"FX provider {config.name}")
