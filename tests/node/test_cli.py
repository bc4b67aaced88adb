"""The `earmark` command line, run for real as a subprocess from the repository root.

Each test starts `python -m node.cli` with arguments and checks the exit code and what was
printed. The design page's health benefit contract is written to a temporary file so that line
numbers and counts stay fixed while the shipped library grows.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from engine.keys import KeyPair
from node import config as node_config

REPO_ROOT = Path(__file__).resolve().parents[2]
CLI_TIMEOUT_S = 120

HEALTH_BENEFIT = (Path(__file__).parents[1] / "data" / "design_health_benefit.earmark").read_text()
OFFLINE_CAP_REASON = "offline payments from benefits are capped at 20 000 KZT"


def earmark(*arguments: str | Path) -> subprocess.CompletedProcess[str]:
    """Run the CLI with `arguments` and capture its output; never raises on a non-zero exit."""
    return subprocess.run(
        [sys.executable, "-m", "node.cli", *map(str, arguments)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False,
    )


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    """Neither stream shows a Python traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    assert "Traceback" not in result.stdout, result.stdout


@pytest.fixture
def health(tmp_path: Path) -> Path:
    """The design page's health benefit contract in a fresh file."""
    path = tmp_path / "health_benefit.earmark"
    path.write_text(HEALTH_BENEFIT, encoding="utf-8")
    return path


def explain(contract: Path, amount: str, *facts: str, usage: tuple[str, ...] = (),
            as_json: bool = True, op: str = "purchase",
            token: str = "HEALTH") -> subprocess.CompletedProcess[str]:
    """`earmark explain` for one transaction, by default a purchase of HEALTH as JSON."""
    arguments: list[str | Path] = ["explain", contract, "--token", token, "--op", op,
                                   "--amount", amount]
    for fact in facts:
        arguments += ["--fact", fact]
    for used in usage:
        arguments += ["--usage", used]
    if as_json:
        arguments.append("--json")
    return earmark(*arguments)


# ---- check -----------------------------------------------------------------------------------


def test_check_good_contract(health: Path) -> None:
    """`check` on a clean contract exits 0 and ends with the summary line of its three examples."""
    result = earmark("check", health)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        "checked 1 contracts, 3 examples passed, 0 failed")
    assert result.stderr == ""


def test_check_shipped_library() -> None:
    """`check contracts/` passes on the shipped library: exit 0 and no failed example."""
    result = earmark("check", "contracts")
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("checked ")
    assert last.endswith(" 0 failed")
    assert_no_traceback(result)


def test_check_contract_with_errors(tmp_path: Path) -> None:
    """`check` on a contract with two errors exits 1 and prints a compiler block for each."""
    broken = tmp_path / "broken.earmark"
    broken.write_text(HEALTH_BENEFIT.replace("amount <= 200_000 KZT", "amount <= 200_000 USD")
                      .replace("allow distribute", "allow distribut"), encoding="utf-8")
    result = earmark("check", broken)
    assert result.returncode == 1
    assert f"{broken}:14:9: error[E0209]: unknown operation `distribut`" in result.stderr
    assert f"{broken}:15:74: error[E0203]: cannot compare KZT with USD" in result.stderr
    assert "this is USD; the token HEALTH is KZT" in result.stderr
    assert " 15 |   allow purchase when" in result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        "checked 1 contracts, 0 examples passed, 0 failed")
    assert_no_traceback(result)


def test_check_failing_example(tmp_path: Path) -> None:
    """A contract whose example fails does not pass: exit 1, E0501 and the failure counted."""
    failing = tmp_path / "failing.earmark"
    failing.write_text(HEALTH_BENEFIT.replace("expect denied by limit", "expect allowed"),
                       encoding="utf-8")
    result = earmark("check", failing)
    assert result.returncode == 1
    assert "error[E0501]" in result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        "checked 1 contracts, 2 examples passed, 1 failed")


def test_check_missing_path(tmp_path: Path) -> None:
    """`check` on a path that does not exist exits 1 and says so, without a traceback."""
    missing = tmp_path / "nowhere.earmark"
    result = earmark("check", missing)
    assert result.returncode == 1
    assert "no such file or folder" in result.stderr
    assert_no_traceback(result)


def test_check_folder_without_contracts(tmp_path: Path) -> None:
    """`check` on a folder without `.earmark` files exits 1 rather than reporting success."""
    result = earmark("check", tmp_path)
    assert result.returncode == 1
    assert "no .earmark files found" in result.stderr


# ---- explain ---------------------------------------------------------------------------------


def test_explain_clinic_purchase_allowed(health: Path) -> None:
    """A hospital purchase is allowed by the purchase rule on line 15, and the earmark ends."""
    result = explain(health, "12_500 KZT", "receiver.mcc=8062")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) >= {"decision", "rule", "line", "reason", "trace"}
    assert answer["decision"] == "allowed"
    assert (answer["rule"], answer["line"]) == ("allow purchase", 15)
    assert answer["reason"] == "allowed by `allow purchase` (line 15)"
    assert answer["release"] is True
    assert answer["trace"] == [
        {"rule": "expires", "line": 10, "outcome": "not expired"},
        {"rule": "deny purchase", "line": 17, "outcome": "no match"},
        {"rule": "allow purchase", "line": 15, "outcome": "matched"},
        {"rule": "limit per wallet per month", "line": 19, "outcome": "within"},
    ]


def test_explain_grocery_denied(health: Path) -> None:
    """A grocery purchase is denied by default: the policy whose rules did not allow it is
    cited with its line, and the reason says so."""
    answer = json.loads(explain(health, "3_000 KZT", "receiver.mcc=5411").stdout)
    assert answer["decision"] == "denied"
    assert (answer["rule"], answer["line"]) == ("policy HEALTH", 13)
    assert answer["reason"] == "no rule allows purchase of HEALTH here (closed by default)"


def test_explain_offline_purchase_over_cap(health: Path) -> None:
    """An offline purchase over 20 000 KZT is refused by line 17 with its `because` text."""
    result = explain(health, "30_000 KZT", "receiver.mcc=8062", "channel=offline")
    answer = json.loads(result.stdout)
    assert answer["decision"] == "denied"
    assert (answer["rule"], answer["line"]) == ("deny purchase", 17)
    assert answer["reason"] == OFFLINE_CAP_REASON
    assert answer["trace"][-1] == {"rule": "deny purchase", "line": 17, "outcome": "matched"}


def test_explain_monthly_limit_from_usage(health: Path) -> None:
    """Usage given on the command line counts: 450 000 KZT used leaves no room for 60 000."""
    answer = json.loads(explain(health, "60_000 KZT", "receiver.mcc=8062",
                                usage=("wallet.month=450_000 KZT",)).stdout)
    assert answer["decision"] == "denied"
    assert (answer["rule"], answer["line"]) == ("limit per wallet per month", 19)


def test_explain_text_output(health: Path) -> None:
    """Without `--json` the verdict, the rule with file and line, the reason and trace print."""
    allowed = explain(health, "12_500 KZT", "receiver.mcc=5912", as_json=False)
    assert allowed.returncode == 0
    lines = allowed.stdout.splitlines()
    assert lines[0] == f"allowed by `allow purchase` ({health}:15)"
    assert lines[1] == "reason: allowed by `allow purchase` (line 15)"
    assert "  allow purchase (line 15): matched" in lines
    denied = explain(health, "30_000 KZT", "receiver.mcc=8062", "channel=offline", as_json=False)
    assert denied.stdout.splitlines()[:2] == [
        f"denied by `deny purchase` ({health}:17)", f"reason: {OFFLINE_CAP_REASON}"]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        pytest.param({"token": "HEALTHY"}, "has no token 'HEALTHY' (tokens: HEALTH)",
                     id="unknown-token"),
        pytest.param({"amount": "12.345 KZT"}, "KZT has 2 decimals; 12.345 has more",
                     id="too-many-decimals"),
        pytest.param({"amount": "12 USD"}, "expected an amount in KZT such as `12_500 KZT`",
                     id="wrong-currency"),
        pytest.param({"facts": ("receiver.mccc=5912",)}, "did you mean `receiver.mcc`?",
                     id="unknown-fact"),
        pytest.param({"facts": ("receiver.mcc=abc",)},
                     "--fact receiver.mcc: expected a whole number", id="bad-fact-value"),
        pytest.param({"facts": ("receiver.mcc",)}, "--fact takes NAME=VALUE",
                     id="fact-without-value"),
        pytest.param({"usage": ("wallet.year=5 KZT",)},
                     "unknown usage 'wallet.year'; expected one of wallet.day", id="bad-usage"),
        pytest.param({"usage": ("wallet.month=5",)},
                     "--usage wallet.month: expected an amount in KZT", id="usage-without-unit"),
        pytest.param({"op": "purchse"}, "did you mean `purchase`?", id="unknown-operation"),
        pytest.param({"facts": ("[/x]=5",)}, "unknown fact '[/x]'", id="markup-in-fact-name"),
        pytest.param({"amount": "1 KZT - 2 KZT"}, "--amount", id="negative-amount"),
        pytest.param({"usage": ("wallet.month=1 KZT - 900_000 KZT",)}, "--usage",
                     id="negative-usage"),
    ],
)
def test_explain_bad_input(health: Path, arguments: dict[str, object], expected: str) -> None:
    """Bad input exits 1 with a one-line message saying what was expected, never a traceback."""
    facts = arguments.get("facts", ("receiver.mcc=8062",))
    usage = arguments.get("usage", ())
    assert isinstance(facts, tuple)
    assert isinstance(usage, tuple)
    result = explain(health, str(arguments.get("amount", "12 KZT")), *facts, usage=usage,
                     op=str(arguments.get("op", "purchase")),
                     token=str(arguments.get("token", "HEALTH")))
    assert_no_traceback(result)
    assert result.returncode == 1, result.stdout
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert expected in result.stderr


def test_explain_absurd_token_age(health: Path) -> None:
    """A note older than the calendar is refused on expiry or as bad input, never a traceback."""
    result = explain(health, "12 KZT", "receiver.mcc=8062", "token.age=100_000_000_000 days")
    assert_no_traceback(result)
    if result.returncode == 0:
        answer = json.loads(result.stdout)
        assert (answer["decision"], answer["ground"]) == ("denied", "expiry")
    else:
        assert result.returncode == 1
        assert result.stderr.startswith("error: ")


def test_explain_contract_with_errors(tmp_path: Path) -> None:
    """Explaining against a broken contract exits 1 and shows its diagnostics instead."""
    broken = tmp_path / "broken.earmark"
    broken.write_text(HEALTH_BENEFIT.replace("200_000 KZT", "200_000 USD"), encoding="utf-8")
    result = explain(broken, "12 KZT", "receiver.mcc=8062")
    assert result.returncode == 1
    assert "error[E0203]" in result.stderr
    assert_no_traceback(result)


def test_explain_missing_contract(tmp_path: Path) -> None:
    """Explaining against a missing file exits 1 with a message, not a traceback."""
    result = explain(tmp_path / "nowhere.earmark", "12 KZT")
    assert result.returncode == 1
    assert "cannot read it" in result.stderr
    assert_no_traceback(result)


# ---- bench -----------------------------------------------------------------------------------


def test_bench_dsl_json(health: Path) -> None:
    """`bench dsl` runs the decisions asked for and reports a positive rate (speed not judged)."""
    result = earmark("bench", "dsl", "--contract", health, "--decisions", "20000", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["decisions"] == 20_000
    assert report["decisions_per_s"] > 0
    assert report["allowed"] + report["denied"] == 20_000
    assert 0 < report["allowed"] < 20_000
    assert report["token"] == "HEALTH"


# ---- node and wallet --------------------------------------------------------------------------


def test_node_init_writes_config_and_prints_key(tmp_path: Path) -> None:
    """`node init` writes DIR/NAME.toml readable by its owner only, printing the key it holds;
    a second init refuses to overwrite it (exit 1, file unchanged) unless --force."""
    folder = tmp_path / "net"
    arguments = ("node", "init", "--role", "central", "--name", "national-bank", "--port",
                 "8700", "--currency", "KHR", "--dir", folder)
    result = earmark(*arguments)
    assert result.returncode == 0, result.stderr
    path = folder / "national-bank.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = node_config.load(path)
    assert (loaded.role, loaded.port, loaded.currencies) == ("central", 8700, ["KHR"])
    assert f"public key: {loaded.key.participant}" in result.stdout
    before = path.read_bytes()
    again = earmark(*arguments)
    assert again.returncode == 1
    assert "exists" in again.stderr
    assert path.read_bytes() == before
    forced = earmark(*arguments, "--force")
    assert forced.returncode == 0, forced.stderr
    assert path.read_bytes() != before
    assert_no_traceback(again)


def test_node_init_bank_needs_its_central(tmp_path: Path) -> None:
    """A bank's node without the central bank's URL and key is a usage error (exit 2)."""
    result = earmark("node", "init", "--role", "bank", "--name", "aba", "--port", "8701",
                     "--currency", "KHR", "--dir", tmp_path)
    assert result.returncode == 2
    assert "--central-url" in result.stderr
    assert not (tmp_path / "aba.toml").exists()
    linked = earmark("node", "init", "--role", "bank", "--name", "aba", "--port", "8701",
                     "--currency", "KHR", "--dir", tmp_path, "--central-url",
                     "http://127.0.0.1:8700", "--central-key", "ab" * 32)
    assert linked.returncode == 0, linked.stderr
    central = node_config.load(tmp_path / "aba.toml").central
    assert central is not None
    assert central.key == "ab" * 32


def test_wallet_new_writes_a_private_key(tmp_path: Path) -> None:
    """`wallet new` writes a key file of mode 0600 whose key is the one printed; never twice."""
    path = tmp_path / "alice.key"
    result = earmark("wallet", "new", "--out", path)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    seed = tomllib.loads(path.read_text())["key_seed"]
    public = KeyPair.from_seed(bytes.fromhex(seed)).participant
    assert f"public key: {public}" in result.stdout
    again = earmark("wallet", "new", "--out", path)
    assert again.returncode == 1
    assert tomllib.loads(path.read_text())["key_seed"] == seed


def test_wallet_pay_usage_and_unreachable_bank(tmp_path: Path) -> None:
    """A wrong amount or two payees: exit 2; a bank that does not answer: exit 1, `unreachable`,
    no traceback."""
    key = tmp_path / "alice.key"
    assert earmark("wallet", "new", "--out", key).returncode == 0
    pay = ("wallet", "pay", "--key", key, "--bank", "http://127.0.0.1:1")
    decimals = earmark(*pay, "--to", "bob@aba", "--amount", "12.505 KHR")
    assert decimals.returncode == 2
    assert "KHR has 2 decimals" in decimals.stderr
    two = earmark(*pay, "--to", "bob@aba", "--phone", "+85512345678", "--amount", "1 KHR")
    assert two.returncode == 2
    unreachable = earmark(*pay, "--to", "bob@aba", "--amount", "12.50 KHR")
    assert unreachable.returncode == 1
    assert "unreachable" in unreachable.stderr
    assert_no_traceback(unreachable)
