"""The partner QR switch stand-in as an operator runs it: `earmark partner-switch` as processes.

The configuration is written by `partner-switch init`, the switch is served by
`partner-switch run` on 127.0.0.1, paid through the typed client, stopped with SIGTERM, and its
balances read back with `partner-switch accounts`.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from test_partner_switch import TEA_SHOP, credit_to

from bridges.iso20022 import TransactionStatus
from node.partner_switch_client import PartnerSwitchClient
from node.processes import READY_TIMEOUT_S, STOP_TIMEOUT_S, free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
COMMAND_TIMEOUT_S = 60


def earmark(*arguments: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m node.cli` with `arguments`, capturing its output."""
    return subprocess.run([sys.executable, "-m", "node.cli", *arguments], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S,
                          check=False)


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    """Return once `url`/healthz answers; fail if the process exits or takes too long."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, "the switch exited before it was ready"
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise AssertionError(f"the switch did not answer within {READY_TIMEOUT_S} s")


def test_run_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    """A real `partner-switch run` process credits a merchant, exits 0 on SIGTERM, and the
    credit is in the database that `partner-switch accounts` reads afterwards."""
    port = free_port()
    assert earmark("partner-switch", "init", "--dir", str(tmp_path), "--port",
                   str(port)).returncode == 0
    config = tmp_path / "promptpay-switch.toml"
    with (tmp_path / "switch.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "partner-switch", "run", "--config", str(config)],
            cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, process)

        async def pay() -> TransactionStatus:
            async with PartnerSwitchClient(url) as client:
                return (await client.credit(credit_to(TEA_SHOP, 69_700))).status
        assert asyncio.run(pay()) == TransactionStatus.ACCEPTED_CREDITOR_SETTLEMENT_COMPLETED
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=STOP_TIMEOUT_S) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    listed = earmark("partner-switch", "accounts", "--config", str(config))
    assert listed.returncode == 0, listed.stderr
    tea_shop = next(line for line in listed.stdout.splitlines() if TEA_SHOP in line)
    assert "69700" in tea_shop
