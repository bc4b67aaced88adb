"""The hub's side of FX: ask several providers for quotes at once, judge them, pick the best.

Each provider gets `timeout_s` to answer; one that is late or fails is skipped and reported, and
the others still count. Every quote is then judged, in this order, and the first check that fails
refuses it with its rule and reason:

1. `request`: it answers the request (currencies, the fixed side's amount) and its numbers add
   up (for a fixed source, destination = floor((source - fees) x rate); for a fixed
   destination, the source less its fees buys at least the destination);
2. `signature`: it is signed by the provider's key, when the hub knows that key;
3. `expired`: the provider's own validity has not run out;
4. the corridor's bounds (`fx SRC -> DST`: providers, max spread, max fee, max amount, quote
   valid), when the hub has a corridor for the pair;
5. the spent token's `convert` rules, when a token is spent.

Of the quotes left, the best credits the most for a fixed source, or costs the least for a fixed
destination; ties go to the earliest expiry, then to the provider's name.

A provider that refused an order's acceptance for want of liquidity (it went between its quote
and the order) rests from that corridor for `PROVIDER_REST_S` (`Withdrawals`): it is not asked,
and is reported skipped, so the sender's next quote comes from the next provider.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final, Literal

from dsl.evaluate import CompiledCorridor, CompiledPolicy, Decision
from dsl.facts import Facts, Party, Quote, Usage, default_receiver
from engine.ids import ParticipantId
from engine.keys import verify
from node.client import ClientError, NodeClient
from node.errors import NodeError
from node.fx_messages import QuoteRequest, QuoteWire, RateSheetWire, quote_signing_bytes
from node.fx_quotes import Fixed, convert_minor
from node.settlement_messages import (
    AcceptanceRequest,
    AcceptanceWire,
    LegWire,
    Release,
    SourceLocked,
)

QUOTE_TIMEOUT_S: Final = 2.0  # how long the hub waits for one provider's quote by default
PROVIDERS_MAX: Final = 32  # providers asked for one conversion
# How long a provider that withdrew a quote at order time is left out of that corridor: long
# enough for the sender's next quote, short enough that its liquidity coming back counts soon.
PROVIDER_REST_S: Final = 60
WITHDRAWN: Final = "liquidity_exceeded"  # the provider's refusal of an acceptance that rests it


class FxClient(NodeClient):
    """A signed connection to one FX provider (`node.fx_provider`'s operations)."""

    async def quote(self, request: QuoteRequest) -> QuoteWire:
        """`POST /quotes`."""
        return await self._call("POST", "/quotes", QuoteWire, body=request)

    async def quote_by_id(self, quote_id: str) -> QuoteWire:
        """`GET /quotes/{id}`."""
        return await self._call("GET", f"/quotes/{quote_id}", QuoteWire)

    async def rates(self) -> RateSheetWire:
        """`GET /rates`."""
        return await self._call("GET", "/rates", RateSheetWire)

    async def accept(self, request: AcceptanceRequest) -> AcceptanceWire:
        """`POST /acceptances`: reserve the quote's credit for one payment."""
        return await self._call("POST", "/acceptances", AcceptanceWire, body=request)

    async def source_locked(self, payment_id: str, report: SourceLocked) -> LegWire:
        """`POST /legs/{id}/source`: the source is locked; verify it and lock your leg."""
        return await self._call("POST", f"/legs/{payment_id}/source", LegWire, body=report)

    async def release(self, payment_id: str, release: Release) -> LegWire:
        """`POST /legs/{id}/release`: a partner switch's outcome, with the preimage on credit."""
        return await self._call("POST", f"/legs/{payment_id}/release", LegWire, body=release)

    async def legs(self, payment_id: str) -> LegWire:
        """`GET /legs/{id}`."""
        return await self._call("GET", f"/legs/{payment_id}", LegWire)


@dataclass(frozen=True, slots=True)
class ProviderEndpoint:
    """One provider the hub asks: its name, the hub's open connection to it (kept open across
    requests, as a connection per quote cost more than the quote), and its key if known."""

    name: str
    client: FxClient
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Skipped:
    """A provider that gave no quote: it was late (`timeout`) or answered an error."""

    provider: str
    why: Literal["timeout", "error"]
    detail: str


@dataclass(frozen=True, slots=True)
class QuoteRefusal:
    """A quote the hub may not use: the rule that refused it and why."""

    quote: QuoteWire
    rule: str
    reason: str
    contract: str | None = None


@dataclass(frozen=True, slots=True)
class Gathered:
    """What the providers answered: their quotes, and who was skipped."""

    quotes: tuple[QuoteWire, ...]
    skipped: tuple[Skipped, ...]


@dataclass(frozen=True, slots=True)
class Selection:
    """The chosen quote, the refused ones with their reasons, and the skipped providers."""

    chosen: QuoteWire
    refused: tuple[QuoteRefusal, ...]
    skipped: tuple[Skipped, ...]


@dataclass(frozen=True, slots=True)
class SpentToken:
    """The token being converted, and what its `convert` rules may read about the spend."""

    policy: CompiledPolicy
    sender: Party
    issued_at_s: int
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True, slots=True)
class Judge:
    """What the hub judges quotes by: the corridor and the spent token, each possibly absent."""

    corridor: CompiledCorridor | None = None
    token: SpentToken | None = None
    provider_keys: Mapping[str, str] = field(default_factory=dict)  # name -> known key


class NoQuoteAllowed(NodeError):
    """No provider offered a quote the hub may use; `refusals` and `skipped` say why."""

    def __init__(self, refused: tuple[QuoteRefusal, ...], skipped: tuple[Skipped, ...]) -> None:
        reasons = [f"{r.quote.provider}: refused by `{r.rule}`: {r.reason}" for r in refused]
        reasons += [f"{s.provider}: skipped ({s.why}): {s.detail}" for s in skipped]
        super().__init__(422, "no_quote_allowed", "No quote allowed",
                         "; ".join(reasons) or "no provider was asked", reasons=reasons)
        self.refusals = refused
        self.skipped = skipped


# ---- gathering -------------------------------------------------------------------------------


async def gather_quotes(endpoints: list[ProviderEndpoint], request: QuoteRequest,
                        timeout_s: float = QUOTE_TIMEOUT_S) -> Gathered:
    """Ask every provider at once; each has `timeout_s` to answer or is skipped."""
    if len(endpoints) > PROVIDERS_MAX:
        raise NodeError(400, "too_many_providers", "Bad request",
                        f"at most {PROVIDERS_MAX} providers are asked at once")
    answers = await asyncio.gather(*(_ask(e, request, timeout_s) for e in endpoints))
    quotes = tuple(a for a in answers if isinstance(a, QuoteWire))
    skipped = tuple(a for a in answers if isinstance(a, Skipped))
    return Gathered(quotes, skipped)


async def _ask(endpoint: ProviderEndpoint, request: QuoteRequest,
               timeout_s: float) -> QuoteWire | Skipped:
    try:
        # The client's own (longer) timeout stays a backstop: this one decides lateness.
        async with asyncio.timeout(timeout_s):
            quote = await endpoint.client.quote(request)
    except TimeoutError:
        return Skipped(endpoint.name, "timeout", f"no quote within {timeout_s} s")
    except ClientError as error:
        return Skipped(endpoint.name, "error", f"{error.code}: {error.detail}")
    if quote.provider != endpoint.name:
        # The corridor and the token judge the name a quote carries: it must be the one asked.
        return Skipped(endpoint.name, "error", f"it answered as {quote.provider}")
    return quote


# ---- judging and choosing --------------------------------------------------------------------


def choose(gathered: Gathered, request: QuoteRequest, judge: Judge, now_s: int) -> Selection:
    """The best allowed quote; raises `NoQuoteAllowed` with every reason when none is."""
    refused: list[QuoteRefusal] = []
    allowed: list[QuoteWire] = []
    for quote in gathered.quotes:
        refusal = judge_quote(quote, request, judge, now_s)
        if refusal is None:
            allowed.append(quote)
        else:
            refused.append(refusal)
    if not allowed:
        raise NoQuoteAllowed(tuple(refused), gathered.skipped)
    best = min(allowed, key=lambda q: _rank(q, request.fixed))
    return Selection(best, tuple(refused), gathered.skipped)


async def select_quote(endpoints: list[ProviderEndpoint], request: QuoteRequest,
                       judge: Judge, now_s: int, *, timeout_s: float = QUOTE_TIMEOUT_S,
                       skipped: tuple[Skipped, ...] = ()) -> Selection:
    """Gather quotes from `endpoints` and choose the best one `judge` allows; `skipped` are
    providers left out beforehand, reported with those skipped while gathering."""
    keys = {e.name: e.key for e in endpoints if e.key is not None}
    judge = Judge(judge.corridor, judge.token, {**keys, **judge.provider_keys})
    gathered = await gather_quotes(endpoints, request, timeout_s)
    return choose(Gathered(gathered.quotes, skipped + gathered.skipped), request, judge, now_s)


class Withdrawals:
    """Providers resting from a corridor since they refused an order's acceptance with
    `WITHDRAWN`: the hub never changes provider after the sender approved a quote, so it
    refuses that order as withdrawn and leaves the provider out of that corridor's quotes for
    `PROVIDER_REST_S`. Entries are providers and currency pairs of quotes the hub offered, so
    the hub's registry bounds them."""

    def __init__(self) -> None:
        self._until_s: dict[tuple[str, str, str], int] = {}  # (provider, source, target)

    def withdrew(self, quote: QuoteWire, now_s: int) -> None:
        """`quote`'s provider refused to accept it for want of liquidity at `now_s`."""
        pair = (quote.source.currency, quote.destination.currency)
        self._until_s[(quote.provider, *pair)] = now_s + PROVIDER_REST_S

    def split(self, endpoints: list[ProviderEndpoint], request: QuoteRequest,
              now_s: int) -> tuple[list[ProviderEndpoint], tuple[Skipped, ...]]:
        """The endpoints to ask for `request`, and those resting from its corridor."""
        pair = (request.source_currency, request.destination_currency)
        resting = {e.name: until_s for e in endpoints
                   if (until_s := self._until_s.get((e.name, *pair), 0)) > now_s}
        skipped = tuple(Skipped(name, "error", f"{WITHDRAWN}: it refused an order's acceptance; "
                                f"not asked for {pair[0]} -> {pair[1]} until {until_s}")
                        for name, until_s in resting.items())
        return [e for e in endpoints if e.name not in resting], skipped


def judge_quote(quote: QuoteWire, request: QuoteRequest, judge: Judge,
                now_s: int) -> QuoteRefusal | None:
    """The first check the quote fails, or None when the hub may use it."""
    mismatch = _mismatch(quote, request)
    if mismatch:
        return QuoteRefusal(quote, "request", mismatch)
    known_key = judge.provider_keys.get(quote.provider)
    if known_key is not None and not _signed_by(quote, known_key):
        return QuoteRefusal(quote, "signature",
                            f"the quote is not signed by {quote.provider}'s key")
    if now_s >= quote.expires_at_s:
        return QuoteRefusal(quote, "expired", f"the quote expired at {quote.expires_at_s}")
    fact = quote_fact(quote, now_s)
    if judge.corridor is not None:
        decision = judge.corridor.decide(quote.source.amount_minor, fact)
        if not decision.allowed:
            return _refusal(quote, decision, "corridor")
    if judge.token is not None:
        decision = judge.token.policy.decide(_convert_facts(quote, judge.token, fact, now_s),
                                             judge.token.usage)
        if not decision.allowed:
            return _refusal(quote, decision, str(decision.ground))
    return None


def quote_fact(quote: QuoteWire, now_s: int) -> Quote:
    """The quote as a contract reads it (`quote.provider`, `.target`, `.rate`, ...)."""
    return Quote(provider=quote.provider, target=quote.destination.currency,
                 rate=Decimal(quote.rate), spread=Decimal(quote.spread_percent),
                 fee=Decimal(quote.fee_percent), age_s=max(0, now_s - quote.created_at_s))


def _convert_facts(quote: QuoteWire, token: SpentToken, fact: Quote, now_s: int) -> Facts:
    receiver = default_receiver("convert", token.policy.issuer, quote.provider)
    return Facts("convert", quote.source.amount_minor, quote.source.currency, token.sender,
                 receiver, now_s=now_s, issued_at_s=token.issued_at_s, quote=fact)


def _refusal(quote: QuoteWire, decision: Decision, fallback_rule: str) -> QuoteRefusal:
    rule = decision.rule
    if rule is None:
        return QuoteRefusal(quote, fallback_rule, decision.reason)
    return QuoteRefusal(quote, rule.name, decision.reason, rule.contract)


def _mismatch(quote: QuoteWire, request: QuoteRequest) -> str:
    """Why the quote does not answer the request, or "" when it does."""
    pair = (quote.source.currency, quote.destination.currency)
    if pair != (request.source_currency, request.destination_currency):
        return f"it converts {pair[0]} to {pair[1]}, not what was asked"
    side = quote.source if request.fixed is Fixed.SOURCE else quote.destination
    if quote.fixed is not request.fixed or side.amount_minor != request.amount_minor:
        return f"it does not fix the {request.fixed} amount at {request.amount_minor}"
    if quote.fee_total_minor(pair[1]) or not _adds_up(quote):
        return "its amounts, fees and rate do not add up"
    return ""


def _adds_up(quote: QuoteWire) -> bool:
    """The credit follows from the debit, its fees and its rate: exactly for a fixed source;
    for a fixed destination the debit buys at least the credit. (Whether it is the least debit
    depends on the provider's tiers, which a quote does not carry; the best quote wins anyway.)"""
    pair = (quote.source.currency, quote.destination.currency)
    rate = Decimal(quote.rate)
    net = quote.source.amount_minor - quote.fee_total_minor(pair[0])
    bought = convert_minor(net, rate, *pair) if net > 0 else 0
    wanted = quote.destination.amount_minor
    if quote.fixed is Fixed.SOURCE:
        return bought == wanted
    return bought >= wanted


def _signed_by(quote: QuoteWire, key: str) -> bool:
    return (quote.provider_key == key
            and verify(ParticipantId(key), quote_signing_bytes(quote),
                       bytes.fromhex(quote.signature)))


def _rank(quote: QuoteWire, fixed: Fixed) -> tuple[int, int, str]:
    """Smaller is better: most credited (fixed source) or least debited (fixed destination)."""
    amount = (-quote.destination.amount_minor if fixed is Fixed.SOURCE
              else quote.source.amount_minor)
    return amount, quote.expires_at_s, quote.provider
