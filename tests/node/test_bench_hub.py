"""`earmark bench hub` starts the devnet, pays the PromptPay merchant through the hub and
reports consistent figures (no speed is asserted: the machine is shared)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from node.errors import NodeError
from node.hub_bench import HubBenchPlan, check_plan

REPO_ROOT = Path(__file__).resolve().parents[2]
EARMARK = REPO_ROOT / ".venv" / "bin" / "earmark"
BENCH_TIMEOUT_S = 240
PAYMENTS = 20
RATE_PER_S = 20.0
SENDERS = 4


def test_bench_hub_completes_every_payment_and_reports_consistent_figures(
        tmp_path: Path) -> None:
    """A small run (20 payments offered at 20/s to 4 senders) in a kept folder ends every
    payment ACCC, stops every piece, and prints figures that agree with each other."""
    folder = tmp_path / "devnet"
    done = subprocess.run(
        [str(EARMARK), "bench", "hub", "--payments", str(PAYMENTS), "--rate", str(RATE_PER_S),
         "--senders", str(SENDERS), "--dir", str(folder), "--json"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=BENCH_TIMEOUT_S, check=False)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["outcomes"] == {"ACCC": PAYMENTS}
    assert (figures["payments"], figures["completed"]) == (PAYMENTS, PAYMENTS)
    assert (figures["offered_per_s"], figures["senders"]) == (RATE_PER_S, SENDERS)
    assert figures["debit_minor"] > 0 and figures["destination_minor"] == 10_000
    # The last payment arrives at (n - 1) / rate, and finishes after it.
    assert figures["seconds"] > (PAYMENTS - 1) / RATE_PER_S
    # Both figures are rounded (seconds to 0.001, the rate to 0.01): the rate must lie within
    # what the seconds' rounding allows, plus its own.
    seconds = figures["seconds"]
    assert (PAYMENTS / (seconds + 0.0005) - 0.005 <= figures["payments_per_s"]
            <= PAYMENTS / (seconds - 0.0005) + 0.005)
    assert 0 < figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]
    assert figures["max_wait_ms"] <= figures["max_ms"]
    # Each payment's time from its sender starting it is part of its time from arrival.
    assert 0 < figures["service_p50_ms"] <= figures["p50_ms"]
    assert figures["service_p99_ms"] <= figures["p99_ms"]
    assert abs(figures["p99_ratio_to_target"] * figures["target_p99_ms"]
               - figures["p99_ms"]) <= 1
    assert abs(figures["ratio_to_target"] * figures["target_per_s"]
               - figures["payments_per_s"]) <= 0.1
    # Every process's CPU is counted, the bench's own (with the chain and the bridge) too,
    # and the total bounds the rate on this machine's cores.
    shares = figures["cpu_ms_per_payment_by_process"]
    assert {"hub", "aba", "khr-central", "acleda-fx", "promptpay-th"} <= set(shares)
    assert "jpy-bridge" not in shares and any(name.startswith("bench") for name in shares)
    assert shares["hub"] > 0 and shares["khr-central"] > 0
    assert abs(sum(shares.values()) - figures["cpu_ms_per_payment"]) <= 0.05
    assert abs(figures["cpu_bound_per_s"] * figures["cpu_ms_per_payment"]
               - figures["cores"] * 1000) <= figures["cpu_ms_per_payment"]
    # Earmark's own share leaves out the senders' process and the switch stand-in.
    outside = sum(ms for name, ms in shares.items()
                  if name.startswith("bench") or name == "promptpay-th")
    assert abs(figures["earmark_cpu_ms_per_payment"]
               - (figures["cpu_ms_per_payment"] - outside)) <= 0.05
    assert 0 < figures["earmark_cpu_ms_per_payment"] < figures["cpu_ms_per_payment"]
    assert figures["earmark_cpu_bound_per_s"] > figures["cpu_bound_per_s"]
    assert json.loads((folder / "devnet.json").read_text())["starts"] == 1
    for name in ("hub", "aba", "acleda-fx", "promptpay-th"):
        assert "stopping" in (folder / f"{name}.log").read_text().lower(), (
            f"{name} was not stopped by SIGTERM")


def test_a_plan_outside_the_limits_is_refused() -> None:
    """No payments, no senders or a rate of zero is refused before anything starts."""
    for plan in (HubBenchPlan(0, 1.0, 1), HubBenchPlan(1, 0.0, 1), HubBenchPlan(1, 1.0, 0)):
        with pytest.raises(NodeError) as refused:
            check_plan(plan)
        assert refused.value.problem.code == "bench_plan_invalid"
