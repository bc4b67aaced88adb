"""`earmark bench ledger` runs end to end and reports its figures (no speed is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_bench_ledger_commits_every_purchase_and_reports_figures(tmp_path: Path) -> None:
    """A small run on a SQLite file commits all its purchases and prints every figure in JSON."""
    done = subprocess.run(
        [sys.executable, "-m", "node.cli", "bench", "ledger", "--transactions", "200",
         "--db", f"sqlite:///{tmp_path / 'bench.db'}", "--json"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["transactions"] == figures["committed"] == 200
    assert figures["transactions_per_s"] > 0 and figures["verify_per_s"] > 0
    assert 0 < figures["p50_commit_ms"] <= figures["p99_commit_ms"]
