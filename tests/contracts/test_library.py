"""The shipped contract library: every contract checks clean and every example in it passes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dsl.format import format_source
from dsl.model import ExampleSpec, ExpectSpec
from dsl.phases import CompiledContract

REPO = Path(__file__).parents[2]
CONTRACTS_DIR = REPO / "contracts"
CONTRACT_FILES = sorted(CONTRACTS_DIR.glob("*.earmark"))
REQUIRED = {
    "health_benefit", "school_meals", "disaster_relief", "farm_subsidy", "loan_repayment",
    "khr_thb_corridor", "jpy_stablecoin_remittance", "purpose_bound_voucher",
}


def _load(path: Path) -> CompiledContract:
    return CompiledContract.from_file(path)


def _expectations(example: ExampleSpec) -> list[ExpectSpec]:
    return [step for step in example.steps if isinstance(step, ExpectSpec)]


@pytest.fixture(params=CONTRACT_FILES, ids=[path.stem for path in CONTRACT_FILES])
def contract(request: pytest.FixtureRequest) -> CompiledContract:
    path: Path = request.param
    return _load(path)


def test_required_contracts_exist() -> None:
    """Every contract the library promises is shipped: compare file names and contract names."""
    assert {path.stem for path in CONTRACT_FILES} >= REQUIRED
    names = set()
    for path in CONTRACT_FILES:
        checked = _load(path).checked
        assert checked is not None, path
        assert checked.name == path.stem, f"{path.name} declares contract {checked.name}"
        names.add(checked.name)
    assert names >= REQUIRED


def test_contract_has_no_diagnostics(contract: CompiledContract) -> None:
    """A shipped contract is clean: load it and expect neither errors nor warnings."""
    assert contract.diagnostics == (), [d.message for d in contract.diagnostics]
    assert contract.ok


def test_contract_has_header_description(contract: CompiledContract) -> None:
    """Each contract says what it is for: read the header's version and description."""
    checked = contract.checked
    assert checked is not None
    assert checked.version == 1
    assert checked.description.strip()


def test_every_example_passes(contract: CompiledContract) -> None:
    """Examples are the contract's own tests: run them and expect each one to pass."""
    results = contract.example_results
    assert results, "the contract has no examples"
    assert contract.checked is not None
    assert len(results) == len(contract.checked.examples)
    failed = [(r.title, r.failure.message if r.failure else "") for r in results if not r.passed]
    assert failed == []


def test_examples_show_both_allowed_and_denied(contract: CompiledContract) -> None:
    """A contract shows what it admits and what it refuses: find both kinds of expectation."""
    checked = contract.checked
    assert checked is not None
    expects = [expect for example in checked.examples for expect in _expectations(example)]
    assert any(expect.allowed for expect in expects), "no example expects `allowed`"
    assert any(not expect.allowed for expect in expects), "no example expects `denied`"


def test_every_example_judges_something(contract: CompiledContract) -> None:
    """No example is vacuous: check that each one ends its steps with an expectation."""
    checked = contract.checked
    assert checked is not None
    for example in checked.examples:
        assert example.steps, example.title
        assert isinstance(example.steps[-1], ExpectSpec), example.title


def test_cli_check_passes_on_the_library() -> None:
    """`earmark check contracts/` accepts the library: run the real CLI and read its summary."""
    total = 0
    for path in CONTRACT_FILES:
        checked = _load(path).checked
        assert checked is not None
        total += len(checked.examples)
    completed = subprocess.run(
        [sys.executable, "-m", "node.cli", "check", str(CONTRACTS_DIR)],
        capture_output=True, text=True, cwd=REPO, check=False, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    last_line = completed.stdout.strip().splitlines()[-1]
    assert last_line == (
        f"checked {len(CONTRACT_FILES)} contracts, {total} examples passed, 0 failed"
    )
    assert len(CONTRACT_FILES) == len(REQUIRED)


def test_contract_is_in_canonical_layout(contract: CompiledContract) -> None:
    """The shipped contracts are examples to copy: each is already what `earmark fmt` writes."""
    assert format_source(contract.text) == contract.text
