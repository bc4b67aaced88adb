"""The `earmark` command line: the composition root of the packages.

Diagnostics go to stderr in the compiler layout of `dsl.render`; summaries and answers to stdout.
Exit codes: 0 success (warnings allowed), 1 errors in the input, 2 wrong usage of the command.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import tomllib
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, Protocol, TypeVar

import tomli_w
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError

from bridges.evm import ChainError
from bridges.qr.cli import qr_app
from dsl import errors
from dsl.evaluate import Decision
from dsl.fact_text import build_question
from dsl.format import format_source
from dsl.money import MoneyError, format_minor, to_minor
from dsl.phases import CompiledContract
from dsl.render import render, render_all
from engine.keys import KeyPair
from engine.store import SqlStore
from engine.verify import verify
from node import benchmarks, evm_peer_bench, http_bench, http_floor, hub_bench, ledger_bench
from node import config as node_config
from node.bridge_cli import bridge_app
from node.client import ClientError, Expected, NodeClient, check_prepared
from node.config import CentralLink
from node.devnet_cli import devnet
from node.errors import NodeError
from node.fx_cli import fx_app
from node.hub_config import HubConfig, fresh_hub, load_hub
from node.messages import (
    PAGE_SIZE_MAX,
    BalanceList,
    Page,
    ParticipantWire,
    PaymentList,
    PaymentRequest,
    PaymentWire,
    PayTo,
    RegisterParticipant,
    ReserveDeposit,
    ReserveWire,
    TokenWire,
)
from node.partner_switch_cli import partner_switch_app

app = typer.Typer(
    help="Earmark: purpose-bound money contracts, a two-tier ledger and a cross-border hub.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(help="Measure Earmark's speed on this machine.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
ledger_app = typer.Typer(help="Inspect a ledger database.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")
app.add_typer(qr_app, name="qr")
app.add_typer(bridge_app, name="bridge")
app.add_typer(partner_switch_app, name="partner-switch")
app.add_typer(fx_app, name="fx")
app.command("devnet")(devnet)

# Markup is off by default: paths, facts and reasons are the user's text and print as written.
_out = Console(highlight=False, soft_wrap=True, markup=False)
_err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)

T = TypeVar("T")
PathsArgument = Annotated[list[Path], typer.Argument(help="Contract files or folders.")]


def _contract_files(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(path.rglob("*.earmark"))
        elif path.exists():
            yield path
        else:
            _err.print(f"error: {path}: no such file or folder")
            raise typer.Exit(1)


def _load(path: Path) -> CompiledContract | None:
    try:
        return CompiledContract.from_file(path)
    except (OSError, UnicodeDecodeError) as problem:
        _err.print(f"error: {path}: cannot read it: {problem}")
        return None


@app.command()
def check(paths: PathsArgument) -> None:
    """Check contracts and run their examples; exit 1 if any has an error."""
    contracts = examples_passed = examples_failed = 0
    failed = False
    for path in _contract_files(paths):
        contract = _load(path)
        contracts += 1
        if contract is None:
            failed = True
            continue
        if contract.diagnostics:
            sys.stderr.write(render_all(contract.diagnostics, contract.text, str(path)) + "\n\n")
        failed = failed or not contract.ok
        examples_passed += sum(result.passed for result in contract.example_results)
        examples_failed += sum(not result.passed for result in contract.example_results)
    if contracts == 0:
        _err.print("error: no .earmark files found")
        raise typer.Exit(1)
    _out.print(f"checked {contracts} contracts, {examples_passed} examples passed, "
               f"{examples_failed} failed")
    if failed:
        raise typer.Exit(1)


@app.command()
def fmt(
    paths: PathsArgument,
    check_only: Annotated[bool, typer.Option("--check", help="Change nothing; exit 1 if a file "
                                             "is not formatted.")] = False,
) -> None:
    """Rewrite contracts in the one canonical layout."""
    unformatted = broken = 0
    for path in _contract_files(paths):
        text = path.read_text(encoding="utf-8")
        try:
            formatted = format_source(text)
        except errors.ContractError as problem:
            sys.stderr.write(render_all(problem.diagnostics, text, str(path)) + "\n\n")
            broken += 1
            continue
        if formatted == text:
            continue
        unformatted += 1
        if check_only:
            _err.print(f"would reformat {path}")
        else:
            path.write_text(formatted, encoding="utf-8")
            _err.print(f"reformatted {path}")
    verb = "need formatting" if check_only else "reformatted"
    _out.print(f"{unformatted} files {verb}, {broken} could not be read as contracts")
    if broken or (check_only and unformatted):
        raise typer.Exit(1)


@app.command()
def explain(  # noqa: PLR0917 - Typer maps each option to one parameter
    file: Annotated[Path, typer.Argument(help="The contract.")],
    token: Annotated[str, typer.Option(help="The token whose policy decides.")],
    op: Annotated[str, typer.Option(help="The operation: purchase, transfer, convert, …")],
    amount: Annotated[str, typer.Option(help='The amount, e.g. "12_500 KZT".')],
    fact: Annotated[list[str] | None, typer.Option(
        help="A fact NAME=VALUE, e.g. receiver.mcc=5912 (repeatable).")] = None,
    usage: Annotated[list[str] | None, typer.Option(
        help='Usage so far, e.g. "wallet.month=4_000 KZT" (repeatable).')] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Would this transaction be allowed, and why? Exit 0 for a decision either way."""
    contract = _load(file)
    if contract is None:
        raise typer.Exit(1)
    try:
        policy = contract.policy(token)
        question = build_question(policy, op, amount, fact or [], usage or [])
    except errors.ContractError as problem:
        sys.stderr.write(render_all(problem.diagnostics, contract.text, str(file)) + "\n")
        raise typer.Exit(1) from None
    except errors.InputError as problem:
        _err.print(f"error: {problem}")
        raise typer.Exit(1) from None
    decision = policy.decide(question.facts, question.usage)
    if as_json:
        _out.print_json(json.dumps(decision_json(decision)))
    else:
        _print_decision(decision, file)


def decision_json(decision: Decision) -> dict[str, object]:
    """The `--json` form of a decision."""
    return {
        "decision": "allowed" if decision.allowed else "denied",
        "ground": decision.ground.value,
        "rule": decision.rule.name if decision.rule else None,
        "line": decision.rule.line if decision.rule else None,
        "reason": decision.reason,
        "release": decision.release,
        "trace": [{"rule": e.rule, "line": e.line, "outcome": e.outcome} for e in decision.trace],
    }


def _print_decision(decision: Decision, file: Path) -> None:
    verdict = "[green]allowed[/]" if decision.allowed else "[red]denied[/]"
    where = f" by `{decision.rule.name}` ({file}:{decision.rule.line})" if decision.rule else ""
    _out.print(f"{verdict}{escape(where)}", markup=True)
    _out.print(f"reason: {decision.reason}")
    if decision.release:
        _out.print("the receiver gets plain money: the earmark ends here")
    if decision.trace:
        _out.print("trace:")
        for entry in decision.trace:
            _out.print(f"  {entry.rule} (line {entry.line}): {entry.outcome}")


@ledger_app.command("verify")
def ledger_verify(
    db: Annotated[str, typer.Option(help="Database URL, e.g. sqlite:///ledger.db.")],
) -> None:
    """Replay the journal of committed transactions, compare it with the tables and audit the
    money: central-bank money, every token's supply, bridged tokens and the supply cap."""
    try:
        store = SqlStore(db)
    except SQLAlchemyError as problem:
        _err.print(f"error: cannot open {db}: {problem}")
        raise typer.Exit(1) from None
    report = verify(store)
    store.close()
    for line in report.lines():
        _out.print(line)
    for violation in report.mismatches:
        _err.print(f"violation {violation}")
    if not report.ok:
        _err.print(f"{len(report.mismatches)} violations: the ledger does not verify")
        raise typer.Exit(1)
    _out.print("the ledger verifies: the journal and the tables agree, and so does the money")


class BenchResult(Protocol):
    """What every benchmark answers: its figures as lines, or as one JSON object."""

    def lines(self) -> list[str]:
        """The figures, one line each."""

    def as_dict(self) -> dict[str, object]:
        """The figures as JSON."""


def _print_result(result: BenchResult, as_json: bool) -> None:
    if as_json:
        _out.print_json(json.dumps(result.as_dict()))
        return
    for line in result.lines():
        _out.print(line)


@bench_app.command("ledger")
def bench_ledger(
    db: Annotated[str | None, typer.Option(help="Database URL; default a new SQLite file.")] = None,
    transactions: Annotated[int, typer.Option(min=100, help="How many purchases.")] = 10_000,
    contract: Annotated[Path, typer.Option(help="The health_benefit contract.")] = Path(
        "contracts/health_benefit.earmark"),
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Signed purchases through full validation and durable commits, against raw verification."""
    with tempfile.TemporaryDirectory() as scratch:
        database = db or f"sqlite:///{Path(scratch) / 'bench.db'}"
        result = ledger_bench.run(database, contract, transactions,
                                  _err.print)
    _print_result(result, as_json)


@bench_app.command("dsl")
def bench_dsl(
    contract: Annotated[Path, typer.Option(help="The contract to evaluate.")] = Path(
        "contracts/health_benefit.earmark"),
    decisions: Annotated[int, typer.Option(min=1_000, help="How many decisions.")] = 400_000,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Decisions per second on one core for a mix of allowed and denied purchases."""
    compiled = _load(contract)
    if compiled is None:
        raise typer.Exit(1)
    try:
        result = benchmarks.dsl_decisions(compiled, decisions)
    except errors.ContractError as problem:
        sys.stderr.write(render(problem.diagnostics[0], compiled.text, str(contract)) + "\n")
        raise typer.Exit(1) from None
    _print_result(result, as_json)


@bench_app.command("http")
def bench_http(
    payments: Annotated[int, typer.Option(min=1, max=http_bench.PAYMENTS_MAX,
                                          help="How many payments.")] = 5_000,
    clients: Annotated[int, typer.Option(min=1, max=http_bench.CLIENTS_MAX,
                                         help="Concurrent clients, one payer each.")] = 32,
    database_dir: Annotated[Path | None, typer.Option(
        help="Keep the nodes' SQLite files, configurations and logs here (an empty folder); "
             "default a temporary one.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Customer payments per second and their latency through a bank and the central bank,
    both running as real processes on 127.0.0.1."""
    try:
        result = http_bench.run(payments, clients, database_dir, _err.print)
    except NodeError as error:
        _input_error(f"{error.problem.code}: {error.problem.detail or error.problem.title}")
    _print_result(result, as_json)


@bench_app.command("http-floor-server", hidden=True)
def bench_http_floor_server(
    port: Annotated[int, typer.Option(min=1, max=65_535, help="Port on 127.0.0.1.")],
) -> None:
    """Serve the floor of `earmark bench http` (which starts and stops it)."""
    http_floor.serve(port)


@bench_app.command("hub")
def bench_hub(
    payments: Annotated[int, typer.Option(min=1, max=hub_bench.PAYMENTS_MAX,
                                          help="How many payments.")] = 1_000,
    rate: Annotated[float, typer.Option(min=0.001, max=hub_bench.RATE_MAX_PER_S,
                                        help="Offered payments per second.")] = 100.0,
    senders: Annotated[int, typer.Option(min=1, max=hub_bench.SENDERS_MAX,
                                         help="Senders, each paying one at a time.")
                 ] = hub_bench.SENDERS_DEFAULT,
    directory: Annotated[Path | None, typer.Option(
        "--dir", help="Run the devnet here (an empty or devnet folder, wiped first); default "
                      "a temporary one.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Cross-border payments per second and their latency, arrival to final status, through
    the whole devnet (ledgers, switch, FX providers, hub) running as real processes."""
    try:
        result = hub_bench.run(hub_bench.HubBenchPlan(payments, rate, senders), directory,
                               _err.print)
    except NodeError as error:
        _input_error(f"{error.problem.code}: {error.problem.detail or error.problem.title}")
    _print_result(result, as_json)


@bench_app.command("evm-peer")
def bench_evm_peer(
    rpc_url: Annotated[str | None, typer.Option(
        help="A JSON-RPC node to use as the EVM peer; default the embedded chain.")] = None,
    payments: Annotated[int, typer.Option(min=1, max=evm_peer_bench.PAYMENTS_MAX,
                                          help="How many payments on each side.")] = 150,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """The same purpose-bound voucher as a Vyper contract on the EVM and as an Earmark contract
    on the ledger: payments per second on each, one at a time, and their ratio."""
    try:
        result = evm_peer_bench.run(payments, rpc_url, _err.print)
    except ChainError as error:
        _input_error(f"EVM peer: {error}")
    _print_result(result, as_json)

# ---- nodes ------------------------------------------------------------------------------------

node_app = typer.Typer(help="Set up, start and administer central bank and commercial bank "
                            "nodes.", no_args_is_help=True)
app.add_typer(node_app, name="node")
wallet_app = typer.Typer(help="A customer's wallet: its key, payments, balances, history.",
                         no_args_is_help=True)
app.add_typer(wallet_app, name="wallet")
ConfigOption = Annotated[Path, typer.Option("--config", help="The node's TOML file.")]


class NodeRole(StrEnum):
    """The roles a node can take."""

    CENTRAL = "central"
    BANK = "bank"
    HUB = "hub"


class ParticipantRoleChoice(StrEnum):
    """The roles the central bank registers."""

    BANK = "bank"
    AGENCY = "agency"
    FX_PROVIDER = "fx_provider"


_ROLES: dict[NodeRole, node_config.Role] = {NodeRole.CENTRAL: "central", NodeRole.BANK: "bank"}


def _usage_error(message: str) -> NoReturn:
    _err.print(f"error: {message}")
    raise typer.Exit(2)


def _input_error(message: str) -> NoReturn:
    _err.print(f"error: {message}")
    raise typer.Exit(1)


def _validation_message(error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    where = ".".join(map(str, first["loc"]))
    return f"{where}: {first['msg']}" if where else str(first["msg"])


def _central_link(role: NodeRole, url: str | None, key: str | None) -> CentralLink | None:
    if role is NodeRole.CENTRAL:
        if url or key:
            _usage_error("--central-url and --central-key are for a bank's node")
        return None
    if not (url and key):
        _usage_error("a bank's node needs --central-url and --central-key")
    try:
        return CentralLink(url=url, key=key)
    except ValidationError as error:
        _usage_error(f"--central-key: {_validation_message(error)}")


@node_app.command("init")
def node_init(  # noqa: PLR0917 - Typer maps each option to one parameter
    role: Annotated[NodeRole, typer.Option(help="What the node is.")],
    name: Annotated[str, typer.Option(help="The node's name, e.g. aba or national-bank.")],
    port: Annotated[int, typer.Option(help="The TCP port it serves on.")],
    currency: Annotated[list[str] | None, typer.Option(
        help="A currency it serves (repeatable; not for a hub).")] = None,
    directory: Annotated[Path, typer.Option("--dir", help="Where to write NAME.toml.")] = Path(
        "."),
    database: Annotated[str | None, typer.Option(
        help="Database URL; default sqlite:///NAME.db beside the file.")] = None,
    central_url: Annotated[str | None, typer.Option(help="A bank's central node URL.")] = None,
    central_key: Annotated[str | None, typer.Option(
        help="The central node's public key (a bank's node).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a node's configuration with a fresh key; print the key and the file."""
    path = directory / f"{name}.toml"
    if path.exists() and not force:
        _input_error(f"{path} exists; it holds a node's key (--force overwrites it)")
    try:
        config = _fresh_config(role, name, port, currency or [], database=database,
                               central=(central_url, central_key))
    except ValidationError as error:
        _usage_error(_validation_message(error))
    except NodeError as error:
        _input_error(error.problem.detail)
    directory.mkdir(parents=True, exist_ok=True)
    node_config.write(config, path)
    _out.print(f"wrote {path} (readable by you alone: it holds the node's key)")
    _out.print(f"public key: {config.key.participant}")


def _fresh_config(role: NodeRole, name: str, port: int, currencies: list[str], *,
                  database: str | None, central: tuple[str | None, str | None]
                  ) -> node_config.NodeConfig | HubConfig:
    """A new configuration of `role`: a hub's registry starts empty (docs/hub.md)."""
    if role is NodeRole.HUB:
        if currencies or any(central):
            _usage_error("a hub serves no currency of its own and has no central node")
        return fresh_hub(name, port, database=database)
    link = _central_link(role, *central)
    return node_config.fresh(_ROLES[role], name, port, currencies, database=database,
                             central=link)


def _load_config(path: Path) -> node_config.NodeConfig:
    try:
        return node_config.load(path)
    except NodeError as error:
        _input_error(error.problem.detail)


@node_app.command("start")
def node_start(config: ConfigOption) -> None:
    """Serve the node until SIGTERM or Ctrl-C."""
    if _declared_role(config) == NodeRole.HUB:
        _serve_hub(config)
        return
    loaded = _load_config(config)
    from node import server  # noqa: PLC0415 - loads both services only to serve

    server.run(loaded)


def _declared_role(path: Path) -> str | None:
    """The `role` a configuration file declares (its model is chosen by it)."""
    try:
        role = tomllib.loads(path.read_text(encoding="utf-8")).get("role")
    except (OSError, tomllib.TOMLDecodeError) as error:
        _input_error(f"{path}: {error}")
    return role if isinstance(role, str) else None


def _serve_hub(path: Path) -> None:
    try:
        config = load_hub(path)
    except NodeError as error:
        _input_error(error.problem.detail)
    from node.http_service import run_service  # noqa: PLC0415 - as the hub
    from node.hub import serve_hub  # noqa: PLC0415 - loads the hub only to serve it

    run_service(serve_hub(config))


def _central_url(config: node_config.NodeConfig, url: str | None) -> str:
    """Where the central node listens, as seen from this node's configuration."""
    if url:
        return url
    if config.central is not None:
        return config.central.url
    return f"http://{config.host}:{config.port}"


def _call(work: Coroutine[Any, Any, T]) -> T:
    """Run one client conversation; a problem or an unreachable node ends the command (1)."""
    try:
        return asyncio.run(work)
    except ClientError as error:
        _print_problem(error)
        raise typer.Exit(1) from None


def _print_problem(error: ClientError) -> None:
    status = f" (HTTP {error.status})" if error.status else ""
    _err.print(f"error: {error.code}{status}: {error.detail}")
    rule = error.rule
    if rule is not None:
        _err.print(f"rule: {rule.get('name')} (contract {rule.get('contract')}, "
                   f"line {rule.get('line')})")
    if error.reason and error.reason != error.detail:
        _err.print(f"reason: {error.reason}")
    for item in error.extra.get("errors", []):
        _err.print(f"  {'.'.join(map(str, item.get('location', [])))}: {item.get('message')}")


@node_app.command("register")
def node_register(
    config: ConfigOption,
    *,
    role: Annotated[ParticipantRoleChoice, typer.Option(help="The participant's role.")],
    name: Annotated[str, typer.Option(help="The participant's name.")],
    key: Annotated[str, typer.Option(help="The participant's public key (64 hex digits).")],
    url: Annotated[str | None, typer.Option(help="The central node's URL; default the "
                                            "address in the file.")] = None,
    bridged: Annotated[list[str] | None, typer.Option(
        help="FX providers: a currency it may issue bridged tokens in (repeat for more).")
    ] = None,
) -> None:
    """Register a bank, agency or FX provider at the central bank (signed by its key)."""
    loaded = _load_config(config)
    if loaded.role != "central":
        _usage_error(f"{config} is a {loaded.role}'s node; registering needs the central bank's")
    try:
        request = RegisterParticipant(name=name, role=role.value, key=key,
                                      bridged=bridged or [])
    except ValidationError as error:
        _usage_error(_validation_message(error))

    async def register() -> ParticipantWire:
        async with NodeClient(_central_url(loaded, url), loaded.key) as client:
            return await client.register_participant(request)

    registered = _call(register())
    allowed = f" (bridged {', '.join(registered.bridged)})" if registered.bridged else ""
    _out.print(f"registered {registered.role} {registered.name}: {registered.key}{allowed}")


def _amount(text: str) -> tuple[int, str]:
    """`"12.50 KHR"` → (1250, "KHR"); a wrong amount is a usage error."""
    number, _, currency = text.strip().rpartition(" ")
    try:
        return to_minor(number.strip(), currency), currency
    except MoneyError as error:
        _usage_error(f"--amount {text!r}: {error} (write it as \"12.50 KHR\")")


@node_app.command("reserves")
def node_reserves(
    config: ConfigOption,
    bank: Annotated[str, typer.Option(help="The bank whose reserves these are.")],
    deposit: Annotated[str | None, typer.Option(
        help='Credit this amount, e.g. "1_000_000 KHR" (the central bank).')] = None,
    currency: Annotated[str | None, typer.Option(help="Show the reserves in it.")] = None,
) -> None:
    """Credit a bank's reserves (--deposit) or show them (--currency)."""
    if (deposit is None) == (currency is None):
        _usage_error("give exactly one of --deposit AMOUNT or --currency CODE")
    loaded = _load_config(config)
    credit = None
    if deposit is not None:
        amount_minor, code = _amount(deposit)
        try:
            credit = ReserveDeposit(bank=bank, currency=code, amount_minor=amount_minor)
        except ValidationError as error:
            _usage_error(_validation_message(error))

    async def reserves() -> ReserveWire:
        async with NodeClient(_central_url(loaded, None), loaded.key) as client:
            if credit is None:
                return await client.reserves(bank, currency or "")
            return await client.deposit_reserves(credit)

    answer = _call(reserves())
    _out.print(f"{answer.bank}: {format_minor(answer.amount_minor, answer.currency)}")


# ---- wallets ----------------------------------------------------------------------------------

KeyOption = Annotated[Path, typer.Option("--key", help="The wallet's key file.")]
BankOption = Annotated[str, typer.Option("--bank", help="The bank node's URL.")]
AccountOption = Annotated[str, typer.Option("--account", help="The wallet's account, name@bank.")]


@wallet_app.command("new")
def wallet_new(
    out: Annotated[Path, typer.Option("--out", help="The key file to create.")],
) -> None:
    """Create a wallet key (a file readable by you alone) and print its public key."""
    key = KeyPair.generate()
    data = {"key_seed": key.signing_key.encode().hex(), "public_key": key.participant}
    try:
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        _input_error(f"{out} exists; a wallet key is never overwritten")
    except OSError as error:
        _input_error(f"cannot create {out}: {error.strerror}")
    with os.fdopen(descriptor, "wb") as file:
        tomli_w.dump(data, file)
    _out.print(f"wrote {out} (readable by you alone: it is the wallet's spend key)")
    _out.print(f"public key: {key.participant}")


def _wallet_key(path: Path) -> KeyPair:
    try:
        seed = tomllib.loads(path.read_text(encoding="utf-8")).get("key_seed", "")
        return KeyPair.from_seed(bytes.fromhex(seed))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        _input_error(f"cannot read the wallet key {path}: {error}")
    except (ValueError, TypeError):
        _input_error(f"{path} holds no wallet key (key_seed, 64 hex digits)")


def _pay_to(account: str | None, phone: str | None, qr: str | None) -> PayTo:
    named = [value for value in (account, phone, qr) if value is not None]
    if len(named) != 1:
        _usage_error("name the payee with exactly one of --to ACCOUNT, --phone or --qr")
    return PayTo(account=account, phone=phone, qr=qr)


def _token(text: str | None) -> TokenWire | None:
    if text is None:
        return None
    contract, _, name = text.partition("/")
    return TokenWire(contract=contract, token=name)


@wallet_app.command("pay")
def wallet_pay(  # noqa: PLR0917 - Typer maps each option to one parameter
    key: KeyOption,
    bank: BankOption,
    amount: Annotated[str, typer.Option(help='What to pay, e.g. "12.50 KHR".')],
    to: Annotated[str | None, typer.Option("--to", help="The payee's account.")] = None,
    phone: Annotated[str | None, typer.Option(help="The payee's phone, +E.164.")] = None,
    qr: Annotated[str | None, typer.Option(help="The merchant's QR payload.")] = None,
    token: Annotated[str | None, typer.Option(
        help="Pay with earmarked money: CONTRACT_HASH/TOKEN.")] = None,
) -> None:
    """Pay from the wallet: the bank prepares, the wallet checks, signs, and shows the outcome."""
    wallet = _wallet_key(key)
    amount_minor, currency = _amount(amount)
    try:
        request = PaymentRequest(to=_pay_to(to, phone, qr), currency=currency,
                                 amount_minor=amount_minor, token=_token(token))
    except ValidationError as error:
        _usage_error(_validation_message(error))
    payment = _call(_pay(bank, wallet, request))
    where = f"payment {payment.payment_id}, transaction {payment.tx_id}"
    if payment.status != "committed":
        _err.print(f"{payment.status}: {payment.code}: {payment.reason} ({where})")
        raise typer.Exit(1)
    _out.print(f"committed: {where}")


async def _pay(bank: str, wallet: KeyPair, request: PaymentRequest) -> PaymentWire:
    async with NodeClient(bank, wallet) as client:
        prepared = await client.prepare_payment(request)
        transaction = check_prepared(prepared, Expected(
            request.amount_minor, request.currency, request.token, wallet.participant,
            request.operation))
        to = request.to
        payee = to.account or to.phone or to.participant or "the QR code's payee"
        _out.print(f"debit {format_minor(prepared.debit_minor, prepared.currency)} to "
                   f"{prepared.payee} ({payee}) by {transaction.operation}")
        return await client.sign_prepared(prepared)


@wallet_app.command("balance")
def wallet_balance(key: KeyOption, bank: BankOption, account: AccountOption) -> None:
    """What the wallet holds, by currency and token."""
    wallet = _wallet_key(key)

    async def balances() -> BalanceList:
        async with NodeClient(bank, wallet) as client:
            return await client.customer_balances(account)

    answer = _call(balances())
    if not answer.balances:
        _out.print("nothing held")
    for balance in answer.balances:
        token = f" {balance.token.contract[:12]}…/{balance.token.token}" if balance.token else ""
        _out.print(f"{format_minor(balance.amount_minor, balance.currency)}{token} "
                   f"in {balance.notes} notes")


@wallet_app.command("history")
def wallet_history(
    key: KeyOption, bank: BankOption, account: AccountOption,
    limit: Annotated[int, typer.Option(min=1, max=PAGE_SIZE_MAX, help="How many.")] = 20,
) -> None:
    """The wallet's payments, newest first."""
    wallet = _wallet_key(key)

    async def history() -> PaymentList:
        async with NodeClient(bank, wallet) as client:
            return await client.customer_payments(account, Page(limit=limit))

    answer = _call(history())
    if not answer.items:
        _out.print("no payments")
    for item in answer.items:
        when = datetime.fromtimestamp(item.created_at_s, UTC).strftime("%Y-%m-%d %H:%M")
        outcome = item.status + (f" {item.code}" if item.status == "refused" else "")
        _out.print(f"{when}  {item.kind:<12} {format_minor(item.amount_minor, item.currency):>20}"
                   f"  {item.counterparty}  {outcome}")


if __name__ == "__main__":
    app()
