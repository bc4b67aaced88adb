"""`make demo`: the main job on the embedded default, as a person would run it by hand.

First the contract language's story: each step prints the `earmark` command it runs and then its
real output (check every shipped contract, ask whether a few payments would be allowed and why,
measure). Then the domestic story on real nodes: a central bank and two commercial banks start as
`earmark node start` processes on 127.0.0.1 with SQLite files, and the white paper's scenario runs
through their HTTP APIs (`node.domestic_story`), each step checked. Last the cross-border story
on a fresh devnet (docs/hub.md): a buyer in Cambodia pays a Thai merchant's PromptPay QR code
and a Japanese seller in yen stablecoin through the hub (`node.cross_border_story`), each step
checked. Exit 0 only if all went as expected.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from node import cross_border_story, domestic_story
from node.devnet import Devnet
from node.errors import NodeError
from node.local_network import LocalNetwork

_console = Console(highlight=False, soft_wrap=True)
HEALTH = "contracts/health_benefit.earmark"
REMIT = "contracts/jpy_stablecoin_remittance.earmark"


@dataclass(frozen=True, slots=True)
class Step:
    """One command of the story and what it shows."""

    title: str
    arguments: tuple[str, ...]


STEPS = (
    Step("Check every shipped contract and run its examples", ("check", "contracts/")),
    Step("A pharmacy purchase with health-benefit money",
         ("explain", HEALTH, "--token", "HEALTH", "--op", "purchase", "--amount", "12_500 KZT",
          "--fact", "receiver.mcc=5912")),
    Step("The same money at a grocery: refused, closed by default",
         ("explain", HEALTH, "--token", "HEALTH", "--op", "purchase", "--amount", "3_000 KZT",
          "--fact", "receiver.mcc=5411")),
    Step("An offline clinic payment over the offline cap: refused by a rule, with its reason",
         ("explain", HEALTH, "--token", "HEALTH", "--op", "purchase", "--amount", "30_000 KZT",
          "--fact", "receiver.mcc=8062", "--fact", "channel=offline", "--json")),
    Step("A clinic payment that would pass the monthly limit",
         ("explain", HEALTH, "--token", "HEALTH", "--op", "purchase", "--amount", "150_000 KZT",
          "--fact", "receiver.mcc=8062", "--usage", "wallet.month=400_000 KZT")),
    Step("Benefit money 91 days after issue: expired, it can only go back to the ministry",
         ("explain", HEALTH, "--token", "HEALTH", "--op", "purchase", "--amount", "1_000 KZT",
          "--fact", "receiver.mcc=5912", "--fact", "token.age=91 days")),
    Step("A yen stablecoin converted to riel through a listed FX provider",
         ("explain", REMIT, "--token", "JPYC", "--op", "convert", "--amount", "50_000 JPY",
          "--fact", "quote.provider=soramitsu-fx", "--fact", "quote.target=KHR",
          "--fact", "quote.spread=0.8 %")),
    Step("How fast policies decide on one core", ("bench", "dsl", "--decisions", "200000")),
    Step("Signed earmarked purchases through the ledger: validation, notary, durable commits",
         ("bench", "ledger", "--transactions", "1000")),
)


def run(step: Step) -> int:
    """Print the command, run it, return its exit code."""
    _console.rule(f"[bold]{step.title}")
    shown = " ".join(_quoted(argument) for argument in step.arguments)
    _console.print(f"[dim]$ earmark {shown}[/]")
    done = subprocess.run([sys.executable, "-m", "node.cli", *step.arguments], check=False)
    return done.returncode


def _quoted(argument: str) -> str:
    return f'"{argument}"' if " " in argument else argument


def _report(title: str, outcome: str) -> None:
    shown = "\n".join(f"    {escape(line)}" for line in outcome.splitlines())
    _console.print(f"[green]✓[/] [bold]{escape(title)}[/]\n{shown}")


async def domestic_on_nodes(folder: Path) -> None:
    """Start a central node and two banks as processes, run the domestic story, stop them."""
    folder.mkdir()
    network = LocalNetwork.create(folder, [domestic_story.CURRENCY], domestic_story.BANKS)
    _console.rule("[bold]The domestic story on real nodes")
    _console.print(f"[dim]starting {domestic_story.BANKS} and the central bank in {folder}[/]")
    await network.start()
    try:
        for node in (network.central, *network.banks.values()):
            _console.print(f"[dim]{node.config.role} {node.config.name}: {node.url}[/]")
        await domestic_story.run(network, _report)
    finally:
        network.stop()


def cross_border_on_devnet(folder: Path) -> None:
    """Start a fresh devnet in `folder`, run the cross-border story, stop it."""
    _console.rule("[bold]The cross-border story on a devnet")
    _console.print(f"[dim]starting the devnet in {folder} (ledgers, switch, FX providers, "
                   "chain and bridge, hub)[/]")
    devnet = Devnet.open(folder, fresh=True)
    devnet.start()
    try:
        for piece in devnet.manifest.pieces:
            _console.print(f"[dim]{piece.kind} {piece.name}: {piece.url}[/]")
        asyncio.run(cross_border_story.run(devnet, _report))
    finally:
        devnet.stop()


def main() -> None:
    """Run the stories; stop at the first command or step that does not end as expected."""
    for step in STEPS:
        if run(step) != 0:
            _console.print(f"[red]the demo stopped: `{step.title}` failed[/]")
            raise SystemExit(1)
    with tempfile.TemporaryDirectory(prefix="earmark-demo-") as folder:
        try:
            asyncio.run(domestic_on_nodes(Path(folder) / "domestic"))
            cross_border_on_devnet(Path(folder) / "devnet")
        except NodeError as failure:
            _console.print(f"[red]the demo stopped: {escape(str(failure))}[/]")
            raise SystemExit(1) from None
    _console.rule("[bold green]demo complete")


if __name__ == "__main__":
    main()
