"""The hub's quote selection (`node.quote_selection`): gathering, judging, choosing.

Quotes come from real providers (`node.fx_provider`): priced directly by the service where only
the judging matters, and over HTTP from in-process providers (aiohttp TestServer) where the
gathering does, with one provider that sleeps past the timeout. The corridor and the spent token
are the shipped contracts `khr_thb_corridor` and `jpy_stablecoin_remittance`, compiled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from dsl.facts import Party
from dsl.phases import CompiledContract
from engine.keys import KeyPair
from node.fx_messages import QuoteRequest, QuoteWire
from node.fx_provider import FxProviderService, build_fx_app
from node.fx_provider_config import CorridorConfig, FxProviderConfig, fresh_fx_provider
from node.fx_quotes import Fixed
from node.fx_settlement_store import Settlement
from node.processes import free_port
from node.quote_selection import (
    FxClient,
    Gathered,
    Judge,
    NoQuoteAllowed,
    ProviderEndpoint,
    Skipped,
    SpentToken,
    choose,
    select_quote,
)
from node.settlement_messages import LegStatus

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
KHR_THB = CompiledContract.from_file(CONTRACTS / "khr_thb_corridor.earmark")
REMITTANCE = CompiledContract.from_file(CONTRACTS / "jpy_stablecoin_remittance.earmark")
HUB = KeyPair.from_seed(b"\x21" * 32)
NOW_S = 1_780_000_000
TIMEOUT_S = 0.5
SLOW_PROVIDER_S = 5.0  # far past the timeout: the slow provider never answers in time


def corridor(source: str, destination: str, reference: str, spread: str,
             valid_s: int = 30) -> CorridorConfig:
    """A corridor with a 0.25 % fee (at least 1 minor unit) and no tiers."""
    return CorridorConfig(source=source, destination=destination, reference_rate=reference,
                          spread_percent=spread, fee_percent="0.25", fee_minimum_minor=1,
                          quote_valid_s=valid_s)


def config(tmp_path: Path, name: str, *corridors: CorridorConfig) -> FxProviderConfig:
    """A provider of `corridors` for the hub, with ample liquidity in every destination."""
    liquidity = {c.destination: 10**15 for c in corridors}
    return fresh_fx_provider(name, 0, list(corridors), liquidity, hub_keys=[HUB.participant],
                             database=f"sqlite:///{tmp_path / name}.db")


def khr_thb(tmp_path: Path, name: str, spread: str, valid_s: int = 30) -> FxProviderConfig:
    """A KHR -> THB provider at 1 KHR = 0.00875 THB less `spread` %."""
    return config(tmp_path, name, corridor("KHR", "THB", "0.00875", spread, valid_s))


def quote_from(provider: FxProviderConfig, request: QuoteRequest,
               clock: Callable[[], float] = lambda: NOW_S) -> QuoteWire:
    """The quote `provider` gives for `request`, priced by its service without HTTP."""
    service = FxProviderService(provider, clock)
    try:
        return service.price(request)
    finally:
        service.engine.dispose()


def request(source: str, destination: str, amount_minor: int,
            fixed: Fixed = Fixed.SOURCE) -> QuoteRequest:
    """A quote request."""
    return QuoteRequest(source_currency=source, destination_currency=destination, fixed=fixed,
                        amount_minor=amount_minor)


def jpyc_holder() -> SpentToken:
    """A JPYC holder spending a note issued at the start of the day."""
    return SpentToken(REMITTANCE.policy("JPYC"), Party(id="holder", kyc=2), NOW_S - 3_600)


@asynccontextmanager
async def served(app: web.Application) -> AsyncIterator[str]:
    """Serve `app` in-process; yields its base URL."""
    server = TestServer(app)
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def slow_provider() -> web.Application:
    """A provider that takes far longer than the hub waits."""
    async def quote(_request: web.Request) -> web.Response:
        await asyncio.sleep(SLOW_PROVIDER_S)
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/quotes", quote)
    return app


async def endpoint(stack: AsyncExitStack, name: str, url: str,
                   key: str | None = None) -> ProviderEndpoint:
    """The hub's endpoint for the provider at `url`, its connection open until `stack` closes."""
    return ProviderEndpoint(name, await stack.enter_async_context(FxClient(url, HUB)), key)


async def endpoints(stack: AsyncExitStack, providers: list[FxProviderConfig],
                    ) -> list[ProviderEndpoint]:
    """Serve each provider in-process until `stack` closes; their endpoints, keys known."""
    found = []
    for provider in providers:
        url = await stack.enter_async_context(served(build_fx_app(provider, lambda: NOW_S)))
        found.append(await endpoint(stack, provider.name, url, provider.key.participant))
    return found


def test_the_best_of_two_quotes_is_chosen(tmp_path: Path) -> None:
    """Over HTTP, kbank-fx's narrower spread credits more for a fixed source and costs less for
    a fixed destination, so it wins both; nothing is refused or skipped."""
    providers = [khr_thb(tmp_path, "acleda-fx", "0.5"), khr_thb(tmp_path, "kbank-fx", "0.4")]
    judge = Judge(corridor=KHR_THB.corridors[("KHR", "THB")])

    async def scenario() -> None:
        async with AsyncExitStack() as stack:
            found = await endpoints(stack, providers)
            by_source = await select_quote(found, request("KHR", "THB", 100_000_000), judge,
                                           NOW_S + 5)
            by_destination = await select_quote(
                found, request("KHR", "THB", 868_013, Fixed.DESTINATION), judge, NOW_S + 5)
        assert by_source.chosen.provider == "kbank-fx"
        # (100 000 000 - 250 000) x 0.008715 = 869 321.25 -> 869 321
        assert by_source.chosen.destination.amount_minor == 869_321
        assert (by_source.refused, by_source.skipped) == ((), ())
        assert by_destination.chosen.provider == "kbank-fx"
        acleda = quote_from(providers[0], request("KHR", "THB", 868_013, Fixed.DESTINATION))
        assert by_destination.chosen.source.amount_minor < acleda.source.amount_minor

    asyncio.run(scenario())


def test_a_provider_whose_liquidity_is_held_gives_way_to_the_next(tmp_path: Path) -> None:
    """kbank-fx quotes best, but the payments it accepted hold all its baht: it refuses the
    firm quote (`liquidity_exceeded`) and is reported skipped, and acleda-fx's quote, the next
    best, is chosen: the hub never offers a quote whose provider cannot accept it now."""
    best = khr_thb(tmp_path, "kbank-fx", "0.4")
    providers = [khr_thb(tmp_path, "acleda-fx", "0.5"), best]
    held = Settlement(payment_id="a" * 32, quote_id="b" * 32, requester=HUB.participant,
                      status=LegStatus.ACCEPTED, source_currency="KHR", source_minor=1,
                      destination_currency="THB", reserved_minor=best.liquidity_minor["THB"],
                      accepted_at_s=NOW_S, source_deadline_s=NOW_S + 3_600, request=b"{}")

    async def scenario() -> None:
        async with AsyncExitStack() as stack:
            found = await endpoints(stack, providers)
            service = FxProviderService(best, lambda: NOW_S)
            try:
                await service.settlement.book.reserve(held, best.liquidity_minor["THB"], 1)
            finally:
                await service.close()
            selection = await select_quote(found, request("KHR", "THB", 100_000_000), Judge(),
                                           NOW_S)
        assert selection.chosen.provider == "acleda-fx"
        assert [(s.provider, s.why) for s in selection.skipped] == [("kbank-fx", "error")]
        assert selection.skipped[0].detail.startswith("liquidity_exceeded: ")

    asyncio.run(scenario())


def test_the_corridor_refuses_a_provider_it_does_not_list(tmp_path: Path) -> None:
    """street-exchange offers the best rate, but the corridor lists only acleda-fx and
    kbank-fx: refused by rule "providers" of khr_thb_corridor, and acleda-fx is chosen."""
    asked = request("KHR", "THB", 100_000_000)
    quotes = (quote_from(khr_thb(tmp_path, "street-exchange", "0.1"), asked),
              quote_from(khr_thb(tmp_path, "acleda-fx", "0.5"), asked))
    judge = Judge(corridor=KHR_THB.corridors[("KHR", "THB")])
    selection = choose(Gathered(quotes, ()), asked, judge, NOW_S + 5)
    assert selection.chosen.provider == "acleda-fx"
    [refusal] = selection.refused
    assert (refusal.quote.provider, refusal.rule, refusal.contract) == (
        "street-exchange", "providers", "khr_thb_corridor")
    assert "street-exchange is not a provider" in refusal.reason


def test_the_spent_tokens_convert_rules_refuse_a_provider(tmp_path: Path) -> None:
    """Converting JPYC to dollars (no corridor for JPY -> USD): airport-exchange's better
    quote is refused by the token's policy (closed by default), sbi-remit-fx's is chosen."""
    asked = request("JPY", "USD", 100_000)
    quotes = (quote_from(config(tmp_path, "airport-exchange",
                                corridor("JPY", "USD", "0.0067", "0.2")), asked),
              quote_from(config(tmp_path, "sbi-remit-fx",
                                corridor("JPY", "USD", "0.0067", "0.6")), asked))
    selection = choose(Gathered(quotes, ()), asked, Judge(token=jpyc_holder()), NOW_S + 5)
    assert selection.chosen.provider == "sbi-remit-fx"
    [refusal] = selection.refused
    assert (refusal.quote.provider, refusal.rule, refusal.contract) == (
        "airport-exchange", "policy JPYC", "jpy_stablecoin_remittance")
    assert "closed by default" in refusal.reason


def test_a_token_deny_rule_refuses_every_quote_above_its_cap(tmp_path: Path) -> None:
    """1 200 000 JPY is above JPYC's single-payment cap: the `deny convert` rule refuses the
    only quote, and the error carries the rule's own words."""
    asked = request("JPY", "USD", 1_200_000)
    quotes = (quote_from(config(tmp_path, "sbi-remit-fx",
                                corridor("JPY", "USD", "0.0067", "0.6")), asked),)
    with pytest.raises(NoQuoteAllowed) as none:
        choose(Gathered(quotes, ()), asked, Judge(token=jpyc_holder()), NOW_S + 5)
    [refusal] = none.value.refusals
    assert (refusal.rule, refusal.reason) == ("deny convert", "above the single-payment cap")


def test_a_provider_past_the_timeout_is_skipped_while_another_serves(tmp_path: Path) -> None:
    """A provider that sleeps past the timeout, one that is not listening and one that answers
    under another name are skipped and reported; the remaining provider's quote is chosen
    within about the timeout."""
    provider = khr_thb(tmp_path, "acleda-fx", "0.5")
    impostor = khr_thb(tmp_path, "street-exchange", "0.1")

    async def scenario() -> None:
        async with AsyncExitStack() as stack:
            [served_one, street] = await endpoints(stack, [provider, impostor])
            slow = await stack.enter_async_context(served(slow_provider()))
            found = [await endpoint(stack, "slow-fx", slow), served_one,
                     await endpoint(stack, "gone-fx", f"http://127.0.0.1:{free_port()}"),
                     await endpoint(stack, "kbank-fx", street.client.base_url)]
            started = time.monotonic()
            selection = await select_quote(found, request("KHR", "THB", 100_000_000), Judge(),
                                           NOW_S, timeout_s=TIMEOUT_S)
            elapsed = time.monotonic() - started
        assert selection.chosen.provider == "acleda-fx"
        assert [(s.provider, s.why) for s in selection.skipped] == [
            ("slow-fx", "timeout"), ("gone-fx", "error"), ("kbank-fx", "error")]
        assert selection.skipped[2].detail == "it answered as street-exchange"
        assert elapsed < SLOW_PROVIDER_S / 2

    asyncio.run(scenario())


def test_when_every_quote_is_refused_the_error_names_every_reason(tmp_path: Path) -> None:
    """On the JPY -> KHR corridor, an unlisted provider, a spread over 1 % and a provider that
    did not answer in time: no quote is allowed, and the error lists all three."""
    asked = request("JPY", "KHR", 100_000)
    quotes = (quote_from(config(tmp_path, "airport-exchange",
                                corridor("JPY", "KHR", "27.5", "0.2")), asked),
              quote_from(config(tmp_path, "soramitsu-fx",
                                corridor("JPY", "KHR", "27.5", "1.5")), asked))
    late = Skipped("sbi-remit-fx", "timeout", f"no quote within {TIMEOUT_S} s")
    judge = Judge(corridor=REMITTANCE.corridors[("JPY", "KHR")], token=jpyc_holder())
    with pytest.raises(NoQuoteAllowed) as none:
        choose(Gathered(quotes, (late,)), asked, judge, NOW_S + 5)
    assert [(r.quote.provider, r.rule) for r in none.value.refusals] == [
        ("airport-exchange", "providers"), ("soramitsu-fx", "max spread")]
    assert [(s.provider, s.why) for s in none.value.skipped] == [("sbi-remit-fx", "timeout")]
    problem = none.value.problem
    assert (problem.status, problem.code) == (422, "no_quote_allowed")
    assert len(problem.extra["reasons"]) == 3
    for words in ("airport-exchange is not a provider", "the spread 1.5 % is over",
                  "no quote within"):
        assert words in problem.detail


def test_ties_go_to_the_earliest_expiry_then_the_provider_name(tmp_path: Path) -> None:
    """Three equal quotes: the two that expire first tie again, and the name decides."""
    asked = request("KHR", "THB", 100_000_000)
    quotes = tuple(quote_from(khr_thb(tmp_path, name, "0.5", valid_s), asked)
                   for name, valid_s in (("a-fx", 30), ("c-fx", 20), ("b-fx", 20)))
    selection = choose(Gathered(quotes, ()), asked, Judge(), NOW_S)
    assert selection.chosen.provider == "b-fx"


def test_tampered_expired_and_stale_quotes_are_refused(tmp_path: Path) -> None:
    """A quote whose amounts were changed, one whose signature no longer matches, one past its
    own expiry and one older than the corridor allows are each refused by their check."""
    provider = khr_thb(tmp_path, "acleda-fx", "0.5", valid_s=60)
    asked = request("KHR", "THB", 100_000_000)
    honest = quote_from(provider, asked)
    inflated = honest.model_copy(update={"destination": honest.destination.model_copy(
        update={"amount_minor": 868_014})})
    narrowed = honest.model_copy(update={"spread_percent": "0.1"})
    keys = {"acleda-fx": provider.key.participant}
    corridor_judge = Judge(corridor=KHR_THB.corridors[("KHR", "THB")], provider_keys=keys)
    cases = [(inflated, NOW_S, "request"), (narrowed, NOW_S, "signature"),
             (honest, NOW_S + 60, "expired"), (honest, NOW_S + 45, "quote valid")]
    for quote, now_s, rule in cases:
        with pytest.raises(NoQuoteAllowed) as refused:
            choose(Gathered((quote,), ()), asked, corridor_judge, now_s)
        assert refused.value.refusals[0].rule == rule
    assert choose(Gathered((honest,), ()), asked, corridor_judge, NOW_S + 30).chosen == honest
