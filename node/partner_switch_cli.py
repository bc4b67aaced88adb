"""`earmark partner-switch init|run|accounts`: operate the partner QR switch stand-in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from engine.errors import InvariantViolation
from node.config import write
from node.errors import NodeError
from node.http_service import run_service
from node.partner_switch import PartnerSwitch, serve
from node.partner_switch_config import Scheme, SwitchConfig, load_switch, sample_config
from node.partner_switch_store import SwitchStore

partner_switch_app = typer.Typer(
    help="Run a stand-in of a partner national QR payment system (PromptPay, DuitNow, VietQR).",
    no_args_is_help=True)
SwitchConfigOption = Annotated[Path, typer.Option("--config", help="The switch's TOML file.")]
_out, _err = Console(highlight=False), Console(stderr=True, highlight=False)


def _load(path: Path) -> SwitchConfig:
    try:
        return load_switch(path)
    except NodeError as error:
        _err.print(f"error: {error.problem.detail}", markup=False)
        raise typer.Exit(1) from None


@partner_switch_app.command("init")
def partner_switch_init(
    directory: Annotated[Path, typer.Option("--dir", help="Where to write NAME.toml.")],
    scheme: Annotated[Scheme, typer.Option(help="The QR payment system.")] = Scheme.PROMPTPAY,
    port: Annotated[int, typer.Option(help="The TCP port it serves on.")] = 8480,
    name: Annotated[str | None, typer.Option(help="Default SCHEME-switch.")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a switch's configuration with one FX provider and sample merchants."""
    config = sample_config(scheme, port, name=name)
    path = directory / f"{config.name}.toml"
    if path.exists() and not force:
        _err.print(f"error: {path} exists (--force overwrites it)", markup=False)
        raise typer.Exit(1)
    directory.mkdir(parents=True, exist_ok=True)
    write(config, path)
    _out.print(f"wrote {path}", markup=False)


@partner_switch_app.command("run")
def partner_switch_run(config: SwitchConfigOption) -> None:
    """Serve acmt.023 and pacs.008 until SIGTERM or Ctrl-C."""
    loaded = _load(config)
    run_service(serve(loaded))


@partner_switch_app.command("accounts")
def partner_switch_accounts(config: SwitchConfigOption) -> None:
    """Print every account's balance, read from the switch's database."""
    loaded = _load(config)
    store = SwitchStore(loaded.database, loaded.currency)
    try:
        switch = PartnerSwitch(loaded, store)
        store.seed(switch.seeds())
        table = Table("account", "kind", "holder", "status", f"balance ({loaded.currency} minor)")
        for balance in store.accounts():
            wire = switch.account_wire(balance)
            table.add_row(escape(wire.account), wire.kind, escape(wire.holder),
                          "" if wire.status is None else wire.status.value,
                          str(wire.balance_minor))
        _out.print(table)
        _out.print(f"total {store.audit()} {loaded.currency} minor units", markup=False)
    except InvariantViolation as error:
        _err.print(f"error: the switch's books do not balance: {error}", markup=False)
        raise typer.Exit(1) from None
    finally:
        store.close()
