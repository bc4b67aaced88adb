"""`earmark bench http` starts real nodes, pays through them and reports consistent figures (no
speed is asserted: the machine is shared)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
EARMARK = REPO_ROOT / ".venv" / "bin" / "earmark"
BENCH_TIMEOUT_S = 300


def run_bench(*arguments: str) -> subprocess.CompletedProcess[str]:
    """`earmark bench http ARGUMENTS` as a user runs it, from the repository's root."""
    return subprocess.run([str(EARMARK), "bench", "http", *arguments], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=BENCH_TIMEOUT_S, check=False)


def test_bench_http_commits_every_payment_and_reports_consistent_figures(tmp_path: Path) -> None:
    """A small run (40 payments, 4 clients) with its databases kept in a folder commits every
    payment, stops both nodes and the floor's server, and prints rates, percentiles, CPU and
    floor figures that agree with each other."""
    folder = tmp_path / "bench"
    done = run_bench("--payments", "40", "--clients", "4", "--json",
                     "--database-dir", str(folder))
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert (figures["payments"], figures["committed"], figures["refused"]) == (40, 40, 0)
    assert figures["clients"] == 4
    assert figures["payments_per_s"] > 0 and figures["seconds"] > 0
    assert figures["p99_ms"] >= figures["p50_ms"] > 0
    assert figures["requests_per_s"] >= figures["payments_per_s"] * 2 - 1  # rounding
    # The ratios are the figures over the targets, up to rounding.
    assert abs(figures["ratio_to_target"] * figures["target_per_s"]
               - figures["payments_per_s"]) <= 2
    assert abs(figures["p99_ratio_to_target"] * figures["target_p99_ms"]
               - figures["p99_ms"]) <= 0.1
    # CPU per payment is the sum of the processes' shares, and bounds the rate on this machine.
    shares = figures["cpu_ms_per_payment_by_process"]
    assert set(shares) == {"bench clients", "bench-bank", "bench-central"}
    assert abs(sum(shares.values()) - figures["cpu_ms_per_payment"]) <= 0.01
    assert abs(figures["cpu_bound_per_s"] * figures["cpu_ms_per_payment"]
               - figures["cores"] * 1000) <= figures["cpu_ms_per_payment"]
    assert figures["target_cpu_ms_per_payment"] == round(
        figures["cores"] * 1000 / figures["target_per_s"], 3)
    # The floor ran: two signed round trips per payment, each costing some CPU.
    assert abs(figures["floor_round_trips_per_s"] - 2 * figures["floor_payments_per_s"]) <= 1
    assert figures["floor_cpu_ms_per_payment"] > 0
    assert abs(figures["floor_ratio"] * figures["floor_payments_per_s"]
               - figures["payments_per_s"]) <= 2
    assert {p.name for p in folder.glob("*.db")} == {"bench-central.db", "bench-bank.db"}
    for log in folder.glob("*.log"):
        assert "stopping" in log.read_text(), f"{log.name}: the node was not stopped by SIGTERM"


def test_bench_http_refuses_a_folder_of_an_earlier_run(tmp_path: Path) -> None:
    """A second run into the same folder exits 1 naming the databases, and starts nothing."""
    (tmp_path / "bench-central.db").write_bytes(b"")
    done = run_bench("--payments", "1", "--clients", "1", "--database-dir", str(tmp_path))
    assert done.returncode == 1
    assert "database_exists" in done.stderr and "bench-central.db" in done.stderr
    assert not list(tmp_path.glob("*.log"))
