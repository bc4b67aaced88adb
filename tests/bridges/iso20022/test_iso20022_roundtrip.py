"""Round trips: every typed message, built and parsed back, equals itself, and its XML is valid.

Method: hypothesis draws messages across what the XSDs allow (texts in any Unicode that XML
carries, amounts from 0 to 10**18 - 1 in currencies with 0, 2 and 3 decimals, timestamps with
several UTC offsets). Each is built, checked against its official XSD by xmlschema directly (not
through the bridge's own reader), and parsed back. Worked amounts pin the decimals per currency.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from iso20022_samples import credit_transfer
from iso20022_strategies import (
    credit_transfers,
    status_reports,
    verification_reports,
    verification_requests,
)

from bridges.iso20022 import (
    CreditTransfer,
    PaymentStatusReport,
    VerificationReport,
    VerificationRequest,
    build_credit_transfer,
    build_status_report,
    build_verification_report,
    build_verification_request,
    money,
    parse_credit_transfer,
    parse_status_report,
    parse_verification_report,
    parse_verification_request,
)
from bridges.iso20022.limits import AMOUNT_MINOR_MAX
from bridges.iso20022.schemas import (
    ACMT_023,
    ACMT_024,
    PACS_002,
    PACS_008,
    MessageDefinition,
    schema,
)

ROUND_TRIPS = settings(max_examples=30, deadline=None,
                       suppress_health_check=[HealthCheck.too_slow])


def assert_valid(message: MessageDefinition, data: bytes) -> None:
    """`data` validates against the official XSD of `message`, asked of xmlschema directly."""
    errors = list(schema(message).iter_errors(data))
    assert not errors, errors[0]


@ROUND_TRIPS
@given(credit_transfers)
def test_credit_transfer_round_trip(transfer: CreditTransfer) -> None:
    data = build_credit_transfer(transfer)
    assert_valid(PACS_008, data)
    assert parse_credit_transfer(data) == transfer


@ROUND_TRIPS
@given(status_reports)
def test_status_report_round_trip(report: PaymentStatusReport) -> None:
    data = build_status_report(report)
    assert_valid(PACS_002, data)
    assert parse_status_report(data) == report


@ROUND_TRIPS
@given(verification_requests)
def test_verification_request_round_trip(request: VerificationRequest) -> None:
    data = build_verification_request(request)
    assert_valid(ACMT_023, data)
    assert parse_verification_request(data) == request


@ROUND_TRIPS
@given(verification_reports)
def test_verification_report_round_trip(report: VerificationReport) -> None:
    data = build_verification_report(report)
    assert_valid(ACMT_024, data)
    assert parse_verification_report(data) == report


AMOUNTS = [
    # (minor units, currency, as written): 0 decimals, 2 decimals (riel too), 3 decimals.
    (150_000, "JPY", "150000"),
    (150_000, "KHR", "1500.00"),
    (150_000, "USD", "1500.00"),
    (150_000, "KWD", "150.000"),
    (5, "KWD", "0.005"),
    (7, "KHR", "0.07"),
    (0, "JPY", "0"),
    (AMOUNT_MINOR_MAX, "JPY", "999999999999999999"),
    (AMOUNT_MINOR_MAX, "KWD", "999999999999999.999"),
]


@pytest.mark.parametrize(("amount_minor", "currency", "written"), AMOUNTS)
def test_amounts_carry_exactly_the_decimals_of_their_currency(
    amount_minor: int, currency: str, written: str
) -> None:
    transfer = replace(credit_transfer(), settlement_amount=money(amount_minor, currency))
    data = build_credit_transfer(transfer)
    assert f'<IntrBkSttlmAmt Ccy="{currency}">{written}</IntrBkSttlmAmt>'.encode() in data
    assert parse_credit_transfer(data).settlement_amount == money(amount_minor, currency)


@pytest.mark.parametrize(("written", "currency", "amount_minor"), [
    ("1500.5", "KHR", 150_050), ("1500", "KHR", 150_000), (".5", "USD", 50),
    ("150.2", "KWD", 150_200), ("42", "KWD", 42_000), ("0", "JPY", 0),
])
def test_fewer_decimals_than_the_currency_has_are_read_exactly(
    written: str, currency: str, amount_minor: int
) -> None:
    data = build_credit_transfer(credit_transfer()).replace(
        b'<IntrBkSttlmAmt Ccy="THB">697.00</IntrBkSttlmAmt>',
        f'<IntrBkSttlmAmt Ccy="{currency}">{written}</IntrBkSttlmAmt>'.encode())
    assert parse_credit_transfer(data).settlement_amount == money(amount_minor, currency)
