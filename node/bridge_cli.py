"""`earmark bridge run|status|reconcile`: operate an EVM bridge from its configuration file."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from bridges.evm.chain import Chain
from bridges.evm.errors import ChainError
from node.bridge_config import BridgeConfig, load_bridge
from node.bridge_reconcile import Reconciliation, reconcile
from node.bridge_service import serve_bridge
from node.bridge_store import BridgeStore
from node.client import ClientError, NodeClient
from node.errors import NodeError
from node.evm_bridge import EvmBridge
from node.http_service import run_loop

bridge_app = typer.Typer(help="Run and check an EVM stablecoin bridge.", no_args_is_help=True)
BridgeConfigOption = Annotated[Path, typer.Option("--config", help="The bridge's TOML file.")]
_out, _err = Console(), Console(stderr=True)
T = TypeVar("T")


@asynccontextmanager
async def open_bridge(config: BridgeConfig, chain: Chain | None = None) -> AsyncIterator[
        EvmBridge]:
    """The bridge of `config`, connected to its chain (or `chain`), ledger and database."""
    store = BridgeStore(config.database)
    try:
        async with NodeClient(config.central_url, config.key) as client:
            yield EvmBridge(config, chain or Chain.connect(config.chain), client, store)
    finally:
        store.close()


def _with_bridge(path: Path, work: Callable[[EvmBridge], Awaitable[T]]) -> T:
    """Load `path`, open its bridge and run `work`; a bad file or an outage exits 1 with why."""
    try:
        config = load_bridge(path)
    except NodeError as error:
        _err.print(f"error: {error.problem.detail}")
        raise typer.Exit(1) from None
    if config.chain.rpc_url is None:
        _err.print("error: the embedded chain lives inside one process; a bridge run from the "
                   "command line needs `chain.rpc_url` in its file")
        raise typer.Exit(1)

    async def run() -> T:
        async with open_bridge(config) as bridge:
            return await work(bridge)

    try:
        return run_loop(run())
    except (ChainError, ClientError) as error:
        _err.print(f"error: {error}")
        raise typer.Exit(1) from None


@bridge_app.command("run")
def bridge_run(config: BridgeConfigOption) -> None:
    """Credit deposits, pay withdrawals and run swaps until SIGTERM or Ctrl-C; with a `port`,
    serve the bridge's API beside them."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    async def serve(bridge: EvmBridge) -> None:
        config = bridge.config
        _err.print(f"bridge {config.name}: vault {config.vault} on chain "
                   f"{bridge.chain.chain_id}, {config.confirmations} confirmations")
        if config.port:
            await serve_bridge(bridge, config.host, config.port)
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await bridge.run(stop)

    _with_bridge(config, serve)


@bridge_app.command("status")
def bridge_status(config: BridgeConfigOption) -> None:
    """The chain cursor, the work in flight, and the reconciliation."""

    async def status(bridge: EvmBridge) -> None:
        totals = await asyncio.to_thread(bridge.store.totals)
        cursor = await asyncio.to_thread(bridge.store.cursor, 0)
        head = await asyncio.to_thread(bridge.chain.block_number)
        _out.print(f"chain {bridge.chain.chain_id}: head {head}, deposits taken in through "
                   f"block {cursor}")
        for (table, state), (count, total) in sorted(totals.items()):
            _out.print(f"  {table:<9} {state:<10} {count:>6}  {total:>14} "
                       f"{bridge.config.currency} minor units")
        _print_reconciliation(await reconcile(bridge), bridge.config.currency)

    _with_bridge(config, status)


@bridge_app.command("reconcile")
def bridge_reconcile(config: BridgeConfigOption) -> None:
    """Compare the vault with the bridged supply and the work in flight; exit 1 on a
    mismatch."""
    found = _with_bridge(config, reconcile)
    currency = load_bridge(config).currency
    _print_reconciliation(found, currency)
    if not found.ok:
        raise typer.Exit(1)


def _print_reconciliation(found: Reconciliation, currency: str) -> None:
    rows = [("vault backing", found.vault_minor), ("ledger supply", found.supply_minor),
            ("deposits in flight", found.deposits_in_flight_minor),
            ("payouts in flight", found.payouts_in_flight_minor),
            ("expected in vault", found.expected_minor)]
    _out.print(f"at block {found.block} ({currency} minor units):")
    for name, amount in rows:
        _out.print(f"  {name:<19} {amount:>14}")
    _out.print("reconciled" if found.ok else
               f"MISMATCH: the vault holds {found.vault_minor - found.expected_minor:+} "
               f"more than expected")
