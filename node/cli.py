"""The `earmark` command line: the composition root of the packages.

Diagnostics go to stderr in the compiler layout of `dsl.render`; summaries and answers to stdout.
Exit codes: 0 success (warnings allowed), 1 errors in the input, 2 wrong usage of the command.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError

from bridges.qr.cli import qr_app
from dsl import errors
from dsl.evaluate import Decision
from dsl.fact_text import build_question
from dsl.format import format_source
from dsl.money import format_minor
from dsl.phases import CompiledContract
from dsl.render import render, render_all
from engine.store import SqlStore
from engine.verify import verify
from node import benchmarks, ledger_bench

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

# Markup is off by default: paths, facts and reasons are the user's text and print as written.
_out = Console(highlight=False, soft_wrap=True, markup=False)
_err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)

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
    """Replay the journal of committed transactions and compare it with the tables."""
    try:
        store = SqlStore(db)
    except SQLAlchemyError as problem:
        _err.print(f"error: cannot open {db}: {problem}")
        raise typer.Exit(1) from None
    report = verify(store)
    store.close()
    supply = ", ".join(f"{format_minor(v, c)}" for c, v in sorted(report.supply.items()))
    _out.print(f"replayed {report.transactions} transactions, checked "
               f"{report.balances_checked} balances; supply: {supply or 'none'}")
    for mismatch in report.mismatches:
        _err.print(f"mismatch: {mismatch}")
    if not report.ok:
        _err.print(f"{len(report.mismatches)} mismatches: the ledger does not verify")
        raise typer.Exit(1)
    _out.print("the ledger verifies: the journal and the tables agree")


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
    if as_json:
        _out.print_json(json.dumps(result.as_dict()))
        return
    for line in result.lines():
        _out.print(line)


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
    if as_json:
        _out.print_json(json.dumps(result.as_dict()))
        return
    for line in result.lines():
        _out.print(line)


if __name__ == "__main__":
    app()
