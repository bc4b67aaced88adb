"""Hypothesis strategies for the typed ISO 20022 messages, within what their XSDs allow.

Texts use any Unicode character that XML 1.0 carries unchanged (no control characters, no
surrogates, no non-characters), so a round trip is exact; lengths stay within the XSD's MaxNText
types. Amounts cover currencies with 0, 2 and 3 decimals and the extremes of the amount range.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import TypeVar

from hypothesis import strategies as st

from bridges.iso20022 import (
    Account,
    Assignment,
    Charge,
    ChargeBearer,
    CreditTransfer,
    FinancialInstitution,
    Money,
    Party,
    PartyAndAccount,
    PaymentStatusReport,
    Proxy,
    ProxyType,
    PurposeCode,
    ReasonCode,
    SettlementMethod,
    StatusReason,
    TransactionStatus,
    Verification,
    VerificationReport,
    VerificationRequest,
    VerificationResult,
    money,
)
from bridges.iso20022.codes import STATUSES_NEEDING_REASON
from bridges.iso20022.limits import AMOUNT_MINOR_MAX

# Yen, riel and dinar: 0, 2 and 3 decimals; then the currencies of the corridors.
CURRENCIES = ("JPY", "KHR", "KWD", "USD", "THB", "SGD", "BHD", "VND", "KRW", "EUR")
_XML_TEXT = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Cn"))


def texts(max_size: int) -> st.SearchStrategy[str]:
    """A MaxNText: 1 to `max_size` characters that XML carries unchanged."""
    return st.text(_XML_TEXT, min_size=1, max_size=max_size)


def codes(max_size: int) -> st.SearchStrategy[str]:
    """A short code (external code sets allow 1 to 4 or 5 characters)."""
    return st.text(st.characters(min_codepoint=ord("A"), max_codepoint=ord("Z")),
                   min_size=1, max_size=max_size)


bics = st.from_regex(r"\A[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?\Z")
ibans = st.from_regex(r"\A[A-Z]{2}[0-9]{2}[a-zA-Z0-9]{1,30}\Z")
countries = st.from_regex(r"\A[A-Z]{2}\Z")
_offsets = st.sampled_from([UTC, timezone(timedelta(hours=7)),
                            timezone(timedelta(hours=-9, minutes=-30))])
moments = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1),
                       timezones=_offsets)
days = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 1, 1))
amounts_minor = st.one_of(st.integers(0, 10**9), st.sampled_from([0, 1, AMOUNT_MINOR_MAX]),
                          st.integers(0, AMOUNT_MINOR_MAX))
amounts: st.SearchStrategy[Money] = st.builds(money, amounts_minor, st.sampled_from(CURRENCIES))
# BaseOneRate: at most 11 significant digits, at most 10 of them after the point.
rates = st.builds(lambda digits, places: Decimal(digits).scaleb(-places),
                  st.integers(1, 10**11 - 1), st.integers(0, 10))


T = TypeVar("T")


def _optional(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    return st.one_of(st.none(), strategy)


@st.composite
def _institutions(draw: st.DrawFn) -> FinancialInstitution:
    member_id = draw(_optional(texts(35)))
    return FinancialInstitution(
        bic=draw(_optional(bics)),
        member_id=member_id,
        clearing_system=None if member_id is None else draw(_optional(codes(5))),
        name=draw(_optional(texts(140))),
        country=draw(_optional(countries)),
        other_id=draw(_optional(texts(35))),
    )


institutions = _institutions()
parties = st.builds(Party, name=_optional(texts(140)),
                    country_of_residence=_optional(countries))
proxies = st.builds(Proxy, st.sampled_from(list(ProxyType)), texts(2048))


@st.composite
def accounts(draw: st.DrawFn, identified: bool) -> Account:
    """An account; `identified` ones have an IBAN or a number (pacs.008 needs one)."""
    choices = ["iban", "number"] if identified else ["iban", "number", "none"]
    chosen = draw(st.sampled_from(choices))
    return Account(
        iban=draw(ibans) if chosen == "iban" else None,
        number=draw(texts(34)) if chosen == "number" else None,
        currency=draw(_optional(st.sampled_from(CURRENCIES))),
        name=draw(_optional(texts(70))),
        proxy=draw(_optional(proxies)),
    )


charges = st.builds(Charge, amounts, institutions)

credit_transfers = st.builds(
    CreditTransfer,
    message_id=texts(35), created_at=moments, end_to_end_id=texts(35),
    uetr=st.uuids(version=4), settlement_amount=amounts, settlement_date=days,
    charge_bearer=st.sampled_from(list(ChargeBearer)), debtor=parties,
    debtor_agent=institutions, creditor_agent=institutions, creditor=parties,
    settlement_method=st.sampled_from(list(SettlementMethod)),
    instruction_id=_optional(texts(35)), transaction_id=_optional(texts(35)),
    instructed_amount=_optional(amounts), exchange_rate=_optional(rates),
    charges=st.lists(charges, max_size=3).map(tuple),
    instructing_agent=_optional(institutions), instructed_agent=_optional(institutions),
    debtor_account=_optional(accounts(identified=True)),
    creditor_account=_optional(accounts(identified=True)),
    purpose=_optional(codes(4).map(PurposeCode)), remittance_information=_optional(texts(140)),
)

status_reasons = st.builds(StatusReason, st.sampled_from(list(ReasonCode)),
                           st.lists(texts(105), max_size=3).map(tuple))


def _reasons_for(status: TransactionStatus) -> st.SearchStrategy[tuple[StatusReason, ...]]:
    minimum = 1 if status in STATUSES_NEEDING_REASON else 0
    return st.lists(status_reasons, min_size=minimum, max_size=3).map(tuple)


status_reports = st.sampled_from(list(TransactionStatus)).flatmap(lambda status: st.builds(
    PaymentStatusReport,
    message_id=texts(35), created_at=moments, original_message_id=texts(35),
    original_message_name=texts(35), original_end_to_end_id=texts(35),
    original_uetr=st.uuids(version=4), status=st.just(status), reasons=_reasons_for(status),
    original_created_at=_optional(moments), original_transaction_id=_optional(texts(35)),
    acceptance_at=_optional(moments), effective_settlement_date=_optional(days),
    charges=st.lists(charges, max_size=2).map(tuple),
    instructing_agent=_optional(institutions), instructed_agent=_optional(institutions),
    original_settlement_amount=_optional(amounts), original_settlement_date=_optional(days),
))

roles = st.one_of(parties, institutions)
subjects = st.builds(PartyAndAccount, _optional(parties), _optional(accounts(identified=False)),
                     _optional(institutions))
assignments = st.builds(Assignment, message_id=texts(35), created_at=moments, assigner=roles,
                        assignee=roles, creator=_optional(roles),
                        first_agent=_optional(institutions))
verification_requests = st.builds(
    VerificationRequest, assignments,
    st.lists(st.builds(Verification, texts(35), subjects), min_size=1, max_size=3).map(tuple))
verification_results = st.one_of(
    st.builds(VerificationResult, texts(35), st.just(True), st.none(), _optional(subjects),
              _optional(subjects)),
    st.builds(VerificationResult, texts(35), st.just(False), st.sampled_from(list(ReasonCode)),
              _optional(subjects), _optional(subjects)),
)
verification_reports = st.builds(
    VerificationReport, assignments,
    st.lists(verification_results, min_size=1, max_size=3).map(tuple),
    original_message_id=_optional(texts(35)), original_created_at=_optional(moments))
