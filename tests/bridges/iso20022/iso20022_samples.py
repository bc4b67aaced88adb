"""Sample messages of one cross-border payment, Cambodia to Thailand through the Earmark hub.

The same objects feed the tests and the examples of `docs/iso20022.md`: the docs test builds each
one and compares it with the XML block of the same name, so the page cannot drift from the code.
Run this file to print every example as the page shows it.

The story: Sok Dara's PSP in Phnom Penh asks the Thai proxy directory who is behind
+66-812345678 (acmt.023); the directory answers with Somchai Jaidee's account (acmt.024); the hub
sends the Thai leg, 697.00 THB for 82,000.00 KHR at 0.0085 (pacs.008); the Thai PSP credits the
account (pacs.002 ACCC). A second payment, sent by the Cambodian PSP to the hub, would break the
sender's monthly limit: the ledger refuses it, and the hub answers with a pacs.002 RJCT (AM02).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

from bridges.iso20022 import (
    Account,
    Assignment,
    Charge,
    ChargeBearer,
    CreditTransfer,
    FinancialInstitution,
    Party,
    PartyAndAccount,
    Proxy,
    ProxyType,
    PurposeCode,
    ReasonCode,
    TransactionStatus,
    Verification,
    VerificationRequest,
    VerificationResult,
    build_credit_transfer,
    build_status_report,
    build_verification_report,
    build_verification_request,
    money,
    rejection,
    status_report_for,
    verification_report_for,
)
from dsl.evaluate import RuleRef
from engine.errors import Refusal, ResultCode

SENDER_PSP = FinancialInstitution(bic="EXKHKHPP", name="Example Bank Cambodia")
HUB = FinancialInstitution(bic="EMRKSGSG", name="Earmark Hub")
RECIPIENT_PSP = FinancialInstitution(bic="EXTHTHBK", name="Example Bank Thailand")
THAI_DIRECTORY = FinancialInstitution(other_id="TH-PROXY-DIRECTORY", country="TH")
SENDER = Party(name="Sok Dara", country_of_residence="KH")
RECIPIENT = Party(name="Somchai Jaidee", country_of_residence="TH")
RECIPIENT_PROXY = Proxy(ProxyType.MOBILE_NUMBER, "+66-812345678")
RECIPIENT_ACCOUNT = Account(number="1234567890", name="Somchai J.", currency="THB")
MORNING = datetime(2026, 3, 2, 2, 15, tzinfo=UTC)


def proxy_lookup() -> VerificationRequest:
    """The acmt.023: who is behind +66-812345678?"""
    return VerificationRequest(
        assignment=Assignment(message_id="KH-ACMT023-0001", created_at=MORNING,
                              creator=SENDER, first_agent=SENDER_PSP,
                              assigner=SENDER_PSP, assignee=THAI_DIRECTORY),
        verifications=(Verification("V1", PartyAndAccount(account=Account(
            proxy=RECIPIENT_PROXY))),),
    )


def proxy_found() -> VerificationResult:
    """The directory's answer: verified, with the account, full name and display name."""
    return VerificationResult(
        original_identification="V1",
        verified=True,
        original=PartyAndAccount(account=Account(proxy=RECIPIENT_PROXY)),
        updated=PartyAndAccount(party=RECIPIENT, account=RECIPIENT_ACCOUNT,
                                agent=RECIPIENT_PSP),
    )


def proxy_unknown() -> VerificationResult:
    """The directory's answer for a number that no account is registered under."""
    return VerificationResult(original_identification="V1", verified=False,
                              reason=ReasonCode.ACCOUNT_PROXY_INVALID)


def credit_transfer() -> CreditTransfer:
    """The pacs.008 of the Thai leg: 697.00 THB for 82,000.00 KHR, charges shared."""
    return CreditTransfer(
        message_id="EMRK-PACS008-0001",
        created_at=datetime(2026, 3, 2, 2, 16, 5, tzinfo=UTC),
        end_to_end_id="KH-E2E-20260302-0001",
        transaction_id="EMRK-TX-0001",
        uetr=UUID("1c8f1d2e-6b5a-4f3e-9d7c-2a1b0c9d8e7f"),
        settlement_amount=money(69_700, "THB"),
        settlement_date=date(2026, 3, 2),
        instructed_amount=money(8_200_000, "KHR"),
        exchange_rate=Decimal("0.0085"),
        charge_bearer=ChargeBearer.SHARED,
        charges=(Charge(money(40_000, "KHR"), SENDER_PSP),),
        instructing_agent=HUB,
        instructed_agent=RECIPIENT_PSP,
        debtor=SENDER,
        debtor_account=Account(number="000123456789"),
        debtor_agent=SENDER_PSP,
        creditor_agent=RECIPIENT_PSP,
        creditor=RECIPIENT,
        creditor_account=Account(number="1234567890"),
        purpose=PurposeCode("GIFT"),
        remittance_information="Birthday gift",
    )


def refused_transfer() -> CreditTransfer:
    """The pacs.008 of a second payment's first leg, from the Cambodian PSP to the hub."""
    return CreditTransfer(
        message_id="EXKH-PACS008-0002",
        created_at=datetime(2026, 3, 2, 9, 40, tzinfo=UTC),
        end_to_end_id="KH-E2E-20260302-0002",
        uetr=UUID("5d0c7a9b-3e2f-4a1b-8c6d-7e8f9a0b1c2d"),
        settlement_amount=money(8_200_000, "KHR"),
        settlement_date=date(2026, 3, 2),
        charge_bearer=ChargeBearer.SHARED,
        instructing_agent=SENDER_PSP,
        instructed_agent=HUB,
        debtor=SENDER,
        debtor_agent=SENDER_PSP,
        creditor_agent=RECIPIENT_PSP,
        creditor=RECIPIENT,
    )


LIMIT_REFUSAL = Refusal(
    ResultCode.LIMIT_EXCEEDED,
    "82,000.00 KHR would bring this month's total to 2,050,000.00 KHR; the limit is 2,000,000.00",
    RuleRef("remittance.earmark", "limit per wallet per month", 12, 5),
)


def samples() -> dict[str, Callable[[], bytes]]:
    """Each example of the docs page by name, as a function that builds its XML."""
    request = proxy_lookup()
    transfer = credit_transfer()
    status, reasons = rejection(LIMIT_REFUSAL)
    return {
        "acmt023-proxy-lookup": lambda: build_verification_request(request),
        "acmt024-proxy-found": lambda: build_verification_report(verification_report_for(
            request, message_id="TH-ACMT024-0001",
            created_at=datetime(2026, 3, 2, 2, 15, 1, tzinfo=UTC), results=(proxy_found(),))),
        "acmt024-proxy-unknown": lambda: build_verification_report(verification_report_for(
            request, message_id="TH-ACMT024-0002",
            created_at=datetime(2026, 3, 2, 2, 15, 1, tzinfo=UTC), results=(proxy_unknown(),))),
        "pacs008-thai-leg": lambda: build_credit_transfer(transfer),
        "pacs002-accc": lambda: build_status_report(status_report_for(
            transfer, message_id="EXTH-PACS002-0001",
            created_at=datetime(2026, 3, 2, 2, 16, 7, tzinfo=UTC),
            status=TransactionStatus.ACCEPTED_CREDITOR_SETTLEMENT_COMPLETED,
            acceptance_at=datetime(2026, 3, 2, 2, 16, 6, tzinfo=UTC))),
        "pacs002-rjct-limit": lambda: build_status_report(status_report_for(
            refused_transfer(), message_id="EMRK-PACS002-0002",
            created_at=datetime(2026, 3, 2, 9, 40, 1, tzinfo=UTC),
            status=status, reasons=reasons)),
    }


if __name__ == "__main__":
    for name, build in samples().items():
        print(f"<!-- example: {name} -->\n```xml\n{build().decode('utf-8')}```\n")
