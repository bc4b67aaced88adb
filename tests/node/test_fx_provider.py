"""The FX provider's service (`node.fx_provider`) in-process, and `earmark fx run` for real.

Each in-process test serves the provider with aiohttp's TestServer on a fresh SQLite file and
talks to it through the signed `FxClient`, checking the quotes' numbers against the hand-worked
examples of test_fx_quotes, the refusals' codes, and that issued quotes survive a restart. The
last test starts `python -m node.cli fx run` as a process, asks it for a quote with
`earmark fx quote`, and stops it with SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from engine.keys import KeyPair, verify
from node.client import ClientError
from node.config import write
from node.database import open_database
from node.fx_messages import QuoteRequest, quote_signing_bytes
from node.fx_provider import QUOTE_RETENTION_S, build_fx_app
from node.fx_provider_config import (
    QUOTE_VALID_S_MAX,
    SOURCE_DEADLINE_S_MAX,
    CorridorConfig,
    FxProviderConfig,
    TierConfig,
    fresh_fx_provider,
    load_fx_provider,
)
from node.fx_quotes import Fixed
from node.processes import free_port
from node.quote_selection import FxClient
from node.tables import FX_QUOTES

REPO_ROOT = Path(__file__).resolve().parents[2]
HUB_SEED = b"\x11" * 32
HUB = KeyPair.from_seed(HUB_SEED)
STRANGER = KeyPair.from_seed(b"\x12" * 32)
NOW_S = 1_780_000_000
PROCESS_READY_S = 30.0
PROCESS_STOP_S = 20.0


def khr_thb() -> CorridorConfig:
    """The KHR -> THB corridor of test_fx_quotes' hand-worked examples, with a tier."""
    return CorridorConfig(source="KHR", destination="THB", reference_rate="0.00875",
                          spread_percent="0.5", fee_percent="0.3", fee_minimum_minor=1_000,
                          tiers=[TierConfig(from_minor=500_000_000, improvement_percent="0.2")],
                          quote_valid_s=30)


def provider_config(tmp_path: Path, name: str = "acleda-fx", port: int = 0) -> FxProviderConfig:
    """A provider serving KHR -> THB to the hub with 100 000.00 THB of liquidity."""
    return fresh_fx_provider(name, port, [khr_thb()], {"THB": 10_000_000},
                             hub_keys=[HUB.participant],
                             database=f"sqlite:///{tmp_path / name}.db")


@asynccontextmanager
async def provider(config: FxProviderConfig,
                   clock: Callable[[], float] = lambda: NOW_S) -> AsyncIterator[str]:
    """Serve `config` in-process; yields its base URL."""
    server = TestServer(build_fx_app(config, clock))
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run one async scenario to its end."""
    asyncio.run(scenario())


def source_fixed(amount_minor: int, source: str = "KHR", destination: str = "THB",
                 ) -> QuoteRequest:
    """A request fixing the amount debited."""
    return QuoteRequest(source_currency=source, destination_currency=destination,
                        fixed=Fixed.SOURCE, amount_minor=amount_minor)


def test_a_quote_for_a_fixed_source(tmp_path: Path) -> None:
    """1 000 000.00 KHR credit 8 680.13 THB, signed by the provider, valid 30 s on its clock,
    and the sender's disclosure names every amount."""
    config = provider_config(tmp_path)

    async def scenario() -> None:
        async with provider(config) as url, FxClient(url, HUB) as client:
            quote = await client.quote(source_fixed(100_000_000))
        assert (quote.source.amount_minor, quote.destination.amount_minor) == (
            100_000_000, 868_013)
        assert (quote.rate, quote.reference_rate, quote.spread_percent) == (
            "0.00870625", "0.00875", "0.5")
        assert [(f.kind, f.amount_minor, f.currency) for f in quote.fees] == [
            ("provider", 300_000, "KHR")]
        assert (quote.fee_percent, quote.effective_rate) == ("0.3", "0.00868013")
        assert (quote.created_at_s, quote.expires_at_s) == (NOW_S, NOW_S + 30)
        assert quote.provider == "acleda-fx" and quote.provider_key == config.key.participant
        assert verify(config.key.participant, quote_signing_bytes(quote),
                      bytes.fromhex(quote.signature))
        assert quote.lines()[:4] == [
            "debited: 1_000_000.00 KHR", "credited: 8_680.13 THB",
            "effective rate: 1 KHR = 0.00868013 THB", "fee (provider): 3_000.00 KHR"]

    run(scenario)


def test_a_quote_for_a_fixed_destination_and_the_tier(tmp_path: Path) -> None:
    """8 680.13 THB cost 999 999.86 KHR; 5 000 000.00 KHR reach the tier (spread 0.3 %)."""
    config = provider_config(tmp_path)
    wanted = QuoteRequest(source_currency="KHR", destination_currency="THB",
                          fixed=Fixed.DESTINATION, amount_minor=868_013)

    async def scenario() -> None:
        async with provider(config) as url, FxClient(url, HUB) as client:
            fixed_destination = await client.quote(wanted)
            tiered = await client.quote(source_fixed(500_000_000))
        assert fixed_destination.fixed is Fixed.DESTINATION
        assert (fixed_destination.source.amount_minor,
                fixed_destination.destination.amount_minor) == (99_999_986, 868_013)
        assert tiered.spread_percent == "0.3"
        assert tiered.rate == "0.00872375"  # 0.00875 x 0.997

    run(scenario)


@pytest.mark.parametrize(("request_body", "status", "code"), [
    ({"source_currency": "THB", "destination_currency": "KHR", "fixed": "source",
      "amount_minor": 100_000}, 422, "corridor_unknown"),
    ({"source_currency": "KHR", "destination_currency": "THB", "fixed": "source",
      "amount_minor": 2_000_000_000}, 422, "liquidity_exceeded"),
    ({"source_currency": "KHR", "destination_currency": "THB", "fixed": "destination",
      "amount_minor": 10_000_001}, 422, "liquidity_exceeded"),
    ({"source_currency": "KHR", "destination_currency": "THB", "fixed": "source",
      "amount_minor": 900}, 422, "amount_too_small"),
    ({"source_currency": "KHR", "destination_currency": "THB", "fixed": "source",
      "amount_minor": 0}, 400, "invalid_request"),
    ({"source_currency": "KHR", "destination_currency": "THB", "fixed": "destination",
      "amount_minor": -5}, 400, "invalid_request"),
])
def test_refusals_are_problems_with_stable_codes(tmp_path: Path, request_body: dict[str, Any],
                                                 status: int, code: str) -> None:
    """Unknown corridors, amounts beyond the liquidity, amounts that do not cover the fee and
    non-positive amounts are refused as problem+json with their codes."""
    config = provider_config(tmp_path)
    # model_construct: the client would refuse a non-positive amount before sending it.
    body = QuoteRequest.model_construct(**{**request_body, "fixed": Fixed(request_body["fixed"])})

    async def scenario() -> None:
        async with provider(config) as url, FxClient(url, HUB) as client:
            with pytest.raises(ClientError) as refused:
                await client.quote(body)
        assert (refused.value.status, refused.value.code) == (status, code)

    run(scenario)


def test_a_quote_request_must_be_signed(tmp_path: Path) -> None:
    """An unsigned POST /quotes is refused as unauthenticated; the rate sheet is public."""
    config = provider_config(tmp_path)

    async def scenario() -> None:
        async with provider(config) as url, aiohttp.ClientSession() as session:
            body = source_fixed(100_000_000).model_dump_json()
            async with session.post(f"{url}/quotes", data=body,
                                    headers={"Idempotency-Key": "k1"}) as unsigned:
                problem = await unsigned.json(content_type=None)
            async with session.get(f"{url}/rates") as rates:
                sheet = await rates.json()
        assert (unsigned.status, problem["code"]) == (401, "auth_missing")
        corridor = sheet["corridors"][0]
        assert (sheet["provider"], corridor["base_rate"], corridor["liquidity_minor"]) == (
            "acleda-fx", "0.00870625", 10_000_000)

    run(scenario)


def test_a_stranger_gets_no_firm_quote(tmp_path: Path) -> None:
    """A signed caller that is not a hub the provider serves is refused a firm quote with 403
    `caller_not_accepted`, and nothing is kept for it; the hub is served."""
    config = provider_config(tmp_path)

    async def scenario() -> None:
        async with provider(config) as url, FxClient(url, STRANGER) as stranger:
            with pytest.raises(ClientError) as refused:
                await stranger.quote(source_fixed(100_000_000))
            async with FxClient(url, HUB) as hub:
                served = await hub.quote(source_fixed(100_000_000))
        assert (refused.value.status, refused.value.code) == (403, "caller_not_accepted")
        assert served.destination.amount_minor == 868_013
        assert kept_quotes(config) == [served.id]

    run(scenario)


def kept_quotes(config: FxProviderConfig) -> list[str]:
    """The ids of the quotes the provider's database holds."""
    engine = open_database(config.database)
    try:
        with engine.connect() as db:
            return list(db.scalars(select(FX_QUOTES.c.id)))
    finally:
        engine.dispose()


class MovingClock:
    """The provider's clock, which a test moves."""

    def __init__(self, now_s: float) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


def test_quotes_are_pruned_after_their_retention(tmp_path: Path) -> None:
    """The finding of issue 21: one key's quotes grew by 81 rows a second and were never
    pruned. A quote is stored for `QUOTE_RETENTION_S` (longer than any quote binds plus the
    furthest source deadline, while a hub may accept it again), then a later quote's store
    prunes it; a younger one stays."""
    assert QUOTE_RETENTION_S > QUOTE_VALID_S_MAX + SOURCE_DEADLINE_S_MAX
    config, clock = provider_config(tmp_path), MovingClock(NOW_S)

    async def scenario() -> None:
        async with provider(config, clock) as url, FxClient(url, HUB) as hub:
            old = await hub.quote(source_fixed(100_000_000))
            clock.now_s += QUOTE_RETENTION_S - 100
            young = await hub.quote(source_fixed(100_000_000))
            assert sorted(kept_quotes(config)) == sorted([old.id, young.id])
            clock.now_s += 101  # `old` is past its retention, `young` is not
            new = await hub.quote(source_fixed(100_000_000))
        assert sorted(kept_quotes(config)) == sorted([young.id, new.id])

    run(scenario)


def test_issued_quotes_survive_a_restart_and_stay_private(tmp_path: Path) -> None:
    """A quote issued before a restart is read back by its id after it; another caller and an
    unknown id get the same 404."""
    config = provider_config(tmp_path)

    async def scenario() -> None:
        async with provider(config) as url, FxClient(url, HUB) as client:
            issued = await client.quote(source_fixed(100_000_000))
        async with provider(config, clock=lambda: NOW_S + 600) as url:
            async with FxClient(url, HUB) as client:
                found = await client.quote_by_id(issued.id)
            async with FxClient(url, STRANGER) as stranger:
                with pytest.raises(ClientError) as hidden:
                    await stranger.quote_by_id(issued.id)
            async with FxClient(url, HUB) as client:
                with pytest.raises(ClientError) as unknown:
                    await client.quote_by_id("0" * 32)
        assert found == issued
        assert (hidden.value.status, hidden.value.code) == (404, "not_found")
        assert (unknown.value.status, unknown.value.code) == (404, "not_found")

    run(scenario)


def test_the_openapi_document_describes_the_quote_operations(tmp_path: Path) -> None:
    """/openapi.json lists the rate sheet and both quote operations with their models."""
    config = provider_config(tmp_path)

    async def scenario() -> None:
        async with (provider(config) as url, aiohttp.ClientSession() as session,
                    session.get(f"{url}/openapi.json") as answer):
            document = await answer.json()
        assert set(document["paths"]) == {"/rates", "/quotes", "/quotes/{id}", "/acceptances",
                                          "/legs/{payment_id}", "/legs/{payment_id}/source",
                                          "/legs/{payment_id}/release"}
        assert {"QuoteRequest", "QuoteWire", "RateSheetWire"} <= set(
            document["components"]["schemas"])
        # A quote is an offer: asking again issues another, so it takes no Idempotency-Key;
        # an acceptance reserves liquidity, so it does.
        assert [_headers(document, "/quotes"), _headers(document, "/acceptances")] == [
            [], ["Idempotency-Key"]]

    run(scenario)


def _headers(document: dict[str, Any], path: str) -> list[str]:
    return [parameter["name"] for parameter in document["paths"][path]["post"]["parameters"]
            if parameter["in"] == "header"]


def test_a_config_file_round_trips_and_refuses_float_rates(tmp_path: Path) -> None:
    """The file written for a provider loads back equal; a rate written as a TOML float is
    refused with the field named."""
    config = provider_config(tmp_path)
    path = tmp_path / "acleda-fx.toml"
    write(config, path)
    assert load_fx_provider(path) == config
    path.write_text(path.read_text().replace('reference_rate = "0.00875"',
                                             "reference_rate = 0.00875"))
    with pytest.raises(Exception, match=r"corridors\.0\.reference_rate"):
        load_fx_provider(path)


# ---- the real process ------------------------------------------------------------------------


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + PROCESS_READY_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"earmark fx run exited: {log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    pytest.fail(f"earmark fx run did not answer within {PROCESS_READY_S} s")


def test_earmark_fx_run_serves_a_quote_until_sigterm(tmp_path: Path) -> None:
    """`earmark fx run` on 127.0.0.1 answers `earmark fx quote --json` with the hand-worked
    quote, then stops cleanly (exit 0) on SIGTERM."""
    config = provider_config(tmp_path, port=free_port())
    path = tmp_path / "acleda-fx.toml"
    write(config, path)
    url = f"http://127.0.0.1:{config.port}"
    log = tmp_path / "fx.log"
    with log.open("wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "node.cli", "fx", "run", "--config",
                                    str(path)], cwd=REPO_ROOT, stdout=output,
                                   stderr=subprocess.STDOUT)
    try:
        _wait_ready(process, url, log)
        asked = subprocess.run(
            [sys.executable, "-m", "node.cli", "fx", "quote", "--url", url, "--from", "KHR",
             "--to", "THB", "--send", "1_000_000", "--key-seed", HUB_SEED.hex(), "--json"],
            cwd=REPO_ROOT,
            capture_output=True, text=True, timeout=PROCESS_READY_S, check=False)
    finally:
        process.send_signal(signal.SIGTERM)
        status = process.wait(timeout=PROCESS_STOP_S)
    assert asked.returncode == 0, asked.stderr
    quote = json.loads(asked.stdout)
    assert (quote["destination"]["amount_minor"], quote["provider"]) == (868_013, "acleda-fx")
    assert status == 0, log.read_text()
