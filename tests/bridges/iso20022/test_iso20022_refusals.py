"""Every refusal of the ledger has a pacs.002 reading, and that reading makes a valid message.

Method: the map from `engine.errors.ResultCode` to ISO reason codes is checked for totality (a new
result code must be given an ISO reading here before it can cross the bridge); each refusal is
turned into a rejection report about a sample transfer, built, and parsed back.
"""

from __future__ import annotations

import pytest
from iso20022_samples import LIMIT_REFUSAL, refused_transfer

from bridges.iso20022 import (
    ReasonCode,
    TransactionStatus,
    build_status_report,
    parse_status_report,
    rejection,
    status_report_for,
)
from bridges.iso20022.limits import REASON_LINE_CHARACTERS_MAX
from bridges.iso20022.refusals import REFUSAL_REASONS
from engine.errors import Refusal, ResultCode


def test_every_result_code_has_a_reason_code() -> None:
    assert set(REFUSAL_REASONS) == set(ResultCode)


@pytest.mark.parametrize("code", list(ResultCode))
def test_each_refusal_reads_as_a_valid_rejection(code: ResultCode) -> None:
    status, reasons = rejection(Refusal(code, f"why {code.value} happened"))
    assert status is TransactionStatus.REJECTED
    assert [reason.code for reason in reasons] == [REFUSAL_REASONS[code]]
    assert reasons[0].additional_information == (code.value, f"why {code.value} happened")
    report = status_report_for(refused_transfer(), message_id="EMRK-RJCT",
                               created_at=refused_transfer().created_at, status=status,
                               reasons=reasons)
    assert parse_status_report(build_status_report(report)) == report


def test_the_deciding_rule_and_a_long_reason_fit_the_lines() -> None:
    _, reasons = rejection(LIMIT_REFUSAL)
    lines = reasons[0].additional_information
    assert reasons[0].code is ReasonCode.NOT_ALLOWED_AMOUNT
    assert lines[0] == "limit_exceeded"
    assert lines[2] == 'rule "limit per wallet per month" of remittance.earmark, line 12'
    long = rejection(Refusal(ResultCode.PURPOSE_NOT_ALLOWED, "x" * 500))[1][0]
    assert all(len(line) <= REASON_LINE_CHARACTERS_MAX for line in long.additional_information)
