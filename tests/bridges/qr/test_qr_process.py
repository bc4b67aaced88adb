"""`earmark qr` as a user runs it: the real process, wired into the `earmark` command.

Method: run `python -m node.cli qr decode` on a published KHQR payload, then on the same payload
with its CRC broken, and read the exit code, stdout and stderr.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from qr_samples import SAMPLES


def _earmark(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "node.cli", *arguments], capture_output=True,
                          text=True, timeout=120, check=False, cwd=Path(__file__).parents[3])


def test_decode_prints_the_khqr_account_and_a_broken_crc_exits_1() -> None:
    """A good payload exits 0 with the Bakong account id in the JSON; the same payload with a
    wrong CRC exits 1 naming the expected and the found value."""
    payload = next(s.payload for s in SAMPLES if "jonhsmith@nbcq" in s.payload)
    good = _earmark("qr", "decode", "--json", payload)
    assert good.returncode == 0, good.stderr
    decoded = json.loads(good.stdout)
    assert decoded["scheme"] == "khqr" and decoded["crc_valid"] is True
    assert decoded["account"]["bakong_account_id"] == "jonhsmith@nbcq"
    broken = _earmark("qr", "decode", payload[:-4] + "0000")
    assert broken.returncode == 1
    assert f"CRC expected {payload[-4:]}, found 0000" in broken.stderr
