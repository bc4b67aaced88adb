"""docs/ledger.md states the ledger's result codes and limits; these tests hold it to the code.

Method: parse the page's tables and compare them with `engine.errors.ResultCode` (in order) and
with the named constants of the engine.
"""

from __future__ import annotations

import re
from pathlib import Path

from engine import encoding, notary, validate
from engine.errors import ResultCode

PAGE = (Path(__file__).parents[2] / "docs" / "ledger.md").read_text(encoding="utf-8")


def test_the_result_codes_table_lists_every_code_in_validation_order() -> None:
    """Row n of the table is the n-th `ResultCode`: the documented precedence is the code's."""
    rows = re.findall(r"^\| (\d+) \| `([a-z_]+)` \|", PAGE, flags=re.MULTILINE)
    assert [code for _, code in rows] == [code.value for code in ResultCode]
    assert [int(number) for number, _ in rows] == list(range(1, len(ResultCode) + 1))


def test_the_limits_table_gives_each_constant_its_value() -> None:
    """Every limit the page names has the value the engine enforces."""
    values = {
        "`INPUTS_MAX`, `OUTPUTS_MAX`": f"{encoding.INPUTS_MAX}",
        "`ENCODED_BYTES_MAX`": f"{encoding.ENCODED_BYTES_MAX // 1024} KiB",
        "`TEXT_CHARS_MAX`": f"{encoding.TEXT_CHARS_MAX}",
        "`INTEGER_MAX`": "2⁶³\N{MINUS SIGN}1",
        "`SIGNATURES_MAX`": f"{validate.SIGNATURES_MAX}",
        "`BATCH_SIZE_MAX`": f"{notary.BATCH_SIZE_MAX}",
        "`ENDORSEMENTS_MAX`": f"{notary.ENDORSEMENTS_MAX}",
    }
    assert encoding.OUTPUTS_MAX == encoding.INPUTS_MAX
    assert encoding.INTEGER_MAX == 2**63 - 1
    for name, value in values.items():
        assert f"| {name} | {value} |" in PAGE, name
    assert f"`CLOCK_SKEW_MAX_S` ({validate.CLOCK_SKEW_MAX_S} s)" in PAGE
