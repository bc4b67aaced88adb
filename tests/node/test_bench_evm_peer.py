"""`earmark bench evm-peer` on the embedded chain: both sides pay, both refuse an off-list
merchant, and the command prints the ratio (no speed is asserted)."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from node import evm_peer_bench
from node.cli import app


def test_both_sides_pay_and_refuse_a_merchant_off_the_whitelist() -> None:
    """A run of 20 payments on the embedded chain: read the returned figures for positive rates
    on both sides and each side's reason for refusing the off-list merchant."""
    progress: list[str] = []
    result = evm_peer_bench.run(20, None, progress.append)
    assert result.peer == evm_peer_bench.EMBEDDED and result.payments == 20
    assert result.evm.payments == result.ledger.payments == 20
    assert result.evm.per_s > 0 and result.ledger.per_s > 0
    assert result.ratio == result.ledger.per_s / result.evm.per_s
    assert result.evm.refusal == "merchant not allowed"
    assert "no rule allows purchase of VOUCHER" in result.ledger.refusal
    assert progress, "the run reports its phases"


def test_the_command_prints_both_rates_and_the_ratio() -> None:
    """Invoke `bench evm-peer --payments 5` in process and read the ratio line it prints."""
    done = CliRunner().invoke(app, ["bench", "evm-peer", "--payments", "5"])
    assert done.exit_code == 0, done.output
    assert "peer: embedded, 5 payments each side" in done.output
    assert re.search(r"EVM \(Vyper PurposeBoundVoucher\): [\d,.]+ payments/s", done.output)
    assert re.search(r"ledger \(purpose_bound_voucher\): [\d,.]+ payments/s", done.output)
    assert re.search(r"ratio ledger/EVM: \d+\.\d\d", done.output)


def test_a_bad_rpc_url_is_a_clean_error() -> None:
    """Point the command at a URL that is not http(s): it exits 1 with an error, no traceback."""
    done = CliRunner().invoke(app, ["bench", "evm-peer", "--rpc-url", "ftp://nowhere",
                                    "--payments", "1"])
    assert done.exit_code == 1
    assert "error: EVM peer:" in done.output
