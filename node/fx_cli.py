"""`earmark fx init|run|quote`: configure and run an FX provider, and ask one for a quote."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console

from dsl.money import MoneyError, format_minor, to_minor
from engine.keys import KeyPair
from node.client import ClientError
from node.config import write
from node.errors import NodeError
from node.fx_messages import QuoteRequest, QuoteWire
from node.fx_provider import serve_fx
from node.fx_provider_config import (
    CorridorConfig,
    FxProviderConfig,
    TierConfig,
    fresh_fx_provider,
    load_fx_provider,
)
from node.fx_quotes import Fixed
from node.http_service import run_service
from node.quote_selection import QUOTE_TIMEOUT_S, FxClient

fx_app = typer.Typer(help="Run an FX provider and ask providers for quotes.",
                     no_args_is_help=True)
_out = Console(highlight=False, soft_wrap=True, markup=False)
_err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def _fail(message: str, code: int = 1) -> NoReturn:
    _err.print(f"error: {message}")
    raise typer.Exit(code)


def _tiers(written: list[str]) -> list[TierConfig]:
    """`FROM_MINOR:IMPROVEMENT_PERCENT` options as tiers."""
    tiers = []
    for text in written:
        start, _, improvement = text.partition(":")
        if not start.strip().isdigit() or not improvement:
            _fail(f"--tier {text!r}: write FROM_MINOR:IMPROVEMENT_PERCENT, e.g. 50000000:0.2", 2)
        tiers.append(TierConfig(from_minor=int(start), improvement_percent=improvement.strip()))
    return tiers


@fx_app.command("init")
def fx_init(  # noqa: PLR0917 - Typer maps each option to one parameter
    name: Annotated[str, typer.Option(help="The provider's name, e.g. acleda-fx.")],
    port: Annotated[int, typer.Option(help="The TCP port it serves on.")],
    source: Annotated[str, typer.Option("--from", help="The corridor's source currency.")],
    destination: Annotated[str, typer.Option("--to", help="The destination currency.")],
    reference_rate: Annotated[str, typer.Option(
        help="Destination per source, major units, e.g. 0.00875.")],
    spread: Annotated[str, typer.Option(help="Base spread in percent, e.g. 0.5.")],
    fee: Annotated[str, typer.Option(help="Fee in percent of the source, e.g. 0.3.")],
    liquidity_minor: Annotated[int, typer.Option(
        help="The provider's liquidity in the destination currency, minor units.")],
    fee_minimum_minor: Annotated[int, typer.Option(help="The least fee, source minor units.")] = 0,
    tier: Annotated[list[str] | None, typer.Option(
        help="FROM_MINOR:IMPROVEMENT_PERCENT (repeatable).")] = None,
    quote_valid_s: Annotated[int, typer.Option(help="How long a quote binds.")] = 30,
    hub_key: Annotated[list[str] | None, typer.Option(
        help="64 hex digits: a hub this provider serves (repeatable).")] = None,
    directory: Annotated[Path, typer.Option("--dir", help="Where to write NAME.toml.")] = Path(
        "."),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a provider's configuration with one corridor and a fresh key (add more corridors
    as further [[corridors]] tables)."""
    path = directory / f"{name}.toml"
    if path.exists() and not force:
        _fail(f"{path} exists; it holds a provider's key (--force overwrites it)")
    try:
        corridor = CorridorConfig(
            source=source, destination=destination, reference_rate=reference_rate,
            spread_percent=spread, fee_percent=fee, fee_minimum_minor=fee_minimum_minor,
            tiers=_tiers(tier or []), quote_valid_s=quote_valid_s)
        config = fresh_fx_provider(name, port, [corridor], {destination: liquidity_minor},
                                   hub_keys=hub_key)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        _fail(f"{'.'.join(map(str, first['loc']))}: {first['msg']}".lstrip(": "), 2)
    directory.mkdir(parents=True, exist_ok=True)
    write(config, path)
    _out.print(f"wrote {path} (readable by you alone: it holds the provider's key)")
    _out.print(f"public key: {config.key.participant}")


@fx_app.command("run")
def fx_run(config: Annotated[Path, typer.Option("--config", help="The provider's TOML file.")],
           ) -> None:
    """Serve quotes until SIGTERM or Ctrl-C."""
    try:
        loaded: FxProviderConfig = load_fx_provider(config)
    except NodeError as error:
        _fail(error.problem.detail)
    run_service(serve_fx(loaded))


@fx_app.command("quote")
def fx_quote(  # noqa: PLR0917 - Typer maps each option to one parameter
    url: Annotated[str, typer.Option(help="The provider's URL.")],
    source: Annotated[str, typer.Option("--from", help="The currency debited.")],
    destination: Annotated[str, typer.Option("--to", help="The currency credited.")],
    key_seed: Annotated[str, typer.Option(
        help="64 hex digits: sign as this hub's key (a provider quotes to its hubs only).")],
    send: Annotated[str | None, typer.Option(
        help="Fix the amount debited, e.g. '1_000_000' (in --from).")] = None,
    receive: Annotated[str | None, typer.Option(
        help="Fix the amount credited, e.g. '8_500' (in --to).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the quote as JSON.")] = False,
    timeout_s: Annotated[float, typer.Option(help="Wait this long.")] = QUOTE_TIMEOUT_S,
) -> None:
    """Ask a provider for a quote and print what the sender would see."""
    if (send is None) == (receive is None):
        _fail("give exactly one of --send and --receive", 2)
    fixed, amount, currency = ((Fixed.SOURCE, send, source) if send is not None
                               else (Fixed.DESTINATION, receive, destination))
    try:
        request = QuoteRequest(source_currency=source, destination_currency=destination,
                               fixed=fixed, amount_minor=to_minor(amount or "", currency))
        key = KeyPair.from_seed(bytes.fromhex(key_seed))
    except (MoneyError, ValidationError, ValueError) as error:
        _fail(str(error), 2)
    quote = _ask(url, key, request, timeout_s)
    if as_json:
        _out.print(quote.model_dump_json(indent=2))
        return
    for line in quote.lines():
        _out.print(line)


def _ask(url: str, key: KeyPair, request: QuoteRequest, timeout_s: float) -> QuoteWire:
    async def ask() -> QuoteWire:
        async with FxClient(url, key, timeout_s=timeout_s) as client:
            return await client.quote(request)

    try:
        return asyncio.run(ask())
    except ClientError as error:
        amount = format_minor(request.amount_minor, request.source_currency
                              if request.fixed is Fixed.SOURCE else request.destination_currency)
        _fail(f"no quote for {amount}: {error.code}: {error.detail}")
