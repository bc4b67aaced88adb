"""ISO 20022 messages for Earmark's bridges: build and parse pacs.008, pacs.002, acmt.023/024.

Each message is a frozen dataclass; `build_*` returns UTF-8 XML bytes that validate against the
official XSD shipped in `schemas/`, and `parse_*` validates bytes before returning the dataclass.
Everything this package raises is an `Iso20022Error` with a stable code (see `errors.py`).
"""

from __future__ import annotations

from bridges.iso20022.acmt import (
    Assignment,
    Role,
    Verification,
    VerificationReport,
    VerificationRequest,
    VerificationResult,
    build_verification_report,
    build_verification_request,
    parse_verification_report,
    parse_verification_request,
    verification_report_for,
)
from bridges.iso20022.amounts import Money, money
from bridges.iso20022.codes import (
    ChargeBearer,
    ProxyType,
    PurposeCode,
    ReasonCode,
    SettlementMethod,
    TransactionStatus,
)
from bridges.iso20022.errors import CATALOGUE, Iso20022Error
from bridges.iso20022.pacs002 import (
    PaymentStatusReport,
    StatusReason,
    build_status_report,
    parse_status_report,
    status_report_for,
)
from bridges.iso20022.pacs008 import (
    Charge,
    CreditTransfer,
    build_credit_transfer,
    parse_credit_transfer,
)
from bridges.iso20022.parties import Account, FinancialInstitution, Party, PartyAndAccount, Proxy
from bridges.iso20022.refusals import rejection
from bridges.iso20022.schemas import MESSAGES, MessageDefinition

__all__ = [
    "CATALOGUE",
    "MESSAGES",
    "Account",
    "Assignment",
    "Charge",
    "ChargeBearer",
    "CreditTransfer",
    "FinancialInstitution",
    "Iso20022Error",
    "MessageDefinition",
    "Money",
    "Party",
    "PartyAndAccount",
    "PaymentStatusReport",
    "Proxy",
    "ProxyType",
    "PurposeCode",
    "ReasonCode",
    "Role",
    "SettlementMethod",
    "StatusReason",
    "TransactionStatus",
    "Verification",
    "VerificationReport",
    "VerificationRequest",
    "VerificationResult",
    "build_credit_transfer",
    "build_status_report",
    "build_verification_report",
    "build_verification_request",
    "money",
    "parse_credit_transfer",
    "parse_status_report",
    "parse_verification_report",
    "parse_verification_request",
    "rejection",
    "status_report_for",
    "verification_report_for",
]
