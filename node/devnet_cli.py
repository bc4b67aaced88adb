"""`earmark devnet [--dir DIR] [--fresh]`: start the whole cross-border network on this machine
(`node.devnet`), print its pieces, and run until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

from node.devnet import DEFAULT_DIRECTORY, Devnet
from node.errors import NodeError
from node.garbage_collection import collect_rarely

_out = Console(highlight=False, soft_wrap=True, markup=False)
_err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def devnet(
    directory: Annotated[Path, typer.Option("--dir", help="Where the configurations, "
                                            "databases and logs live.")] = DEFAULT_DIRECTORY,
    fresh: Annotated[bool, typer.Option("--fresh", help="Wipe the folder first and set "
                                        "everything up anew.")] = False,
) -> None:
    """Start three ledgers, a PromptPay switch, two FX providers, an EVM chain with its bridge,
    and the hub; a second run over the same folder reuses it. Ctrl-C stops it all."""
    try:
        network = Devnet.open(directory, fresh=fresh)
    except NodeError as error:
        _err.print(f"error: {error.problem.detail}")
        raise typer.Exit(1) from None
    first = not network.manifest.provisioned
    _out.print(f"{'setting up' if first else 'starting'} the devnet in {network.directory} "
               "(about 20 s)")
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, _setter(stop))
    collect_rarely()  # this process hosts the embedded chain and the bridge, a service too
    try:
        network.start()
    except NodeError as error:
        _err.print(f"error: {error.problem.detail}")
        raise typer.Exit(1) from None
    try:
        _print(network)
        stop.wait()
    finally:
        _out.print("stopping the devnet")
        network.stop()


def _setter(stop: threading.Event) -> Callable[[int, FrameType | None], None]:
    """A signal handler that asks the devnet to stop (the main thread waits for it)."""

    def handler(_number: int, _frame: FrameType | None) -> None:
        stop.set()
    return handler


def _print(network: Devnet) -> None:
    """The pieces as a table of fixed columns (never cut: keys and URLs are copied from it)."""
    _out.print(f"{'piece':<13}{'kind':<12}{'url':<24}{'public key':<65}config / log")
    for piece in network.manifest.pieces:
        _out.print(f"{piece.name:<13}{piece.kind:<12}{piece.url:<24}{piece.key or '-':<65}"
                   f"{piece.config} / {piece.log}")
    chain = network.manifest.chain
    if chain is not None:
        _out.print(f"chain {chain.name} (id {chain.chain_id}): stablecoin {chain.stablecoin}, "
                   f"vault {chain.vault}, HTLC {chain.htlc}; bridged token "
                   f"{chain.token.token} {chain.token.contract}")
    _out.print(f"files in {network.directory}; the manifest is devnet.json")
    _out.print(network.manifest.note)
    _out.print("Ctrl-C stops the devnet")
