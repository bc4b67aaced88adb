"""The codes the bridge reads and writes: ISO 20022 code lists and the external code sets it uses.

Code lists inside the XSD (`ChargeBearerType1Code`, `SettlementMethod1Code`) are complete here.
External code sets are published apart from the schemas, which only bound their length (1 to 4
characters); the bridge takes the subset that Earmark emits or acts on, and refuses any other code
when reading (error I0303), so that an unknown status is never mistaken for a known one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NewType

PurposeCode = NewType("PurposeCode", str)  # ExternalPurpose1Code, e.g. GDDS, SALA, SUPP


class ChargeBearer(StrEnum):
    """Who bears the charges of a credit transfer (`ChrgBr`, ChargeBearerType1Code)."""

    DEBTOR = "DEBT"  # all charges, the creditor agent's included, are borne by the debtor
    CREDITOR = "CRED"  # all charges are borne by the creditor
    SHARED = "SHAR"  # each side bears the charges of its own agent
    SERVICE_LEVEL = "SLEV"  # as the service level or scheme rules say


class SettlementMethod(StrEnum):
    """How the instructing and instructed agents settle (`SttlmMtd`, SettlementMethod1Code)."""

    INSTRUCTED_AGENT = "INDA"  # on an account the instructed agent keeps for the instructing one
    INSTRUCTING_AGENT = "INGA"  # on an account the instructing agent keeps for the instructed one
    COVER = "COVE"  # through a separate cover payment (pacs.009)
    CLEARING_SYSTEM = "CLRG"  # through a clearing system, here the Earmark hub


class TransactionStatus(StrEnum):
    """Status of one transaction (`TxSts`, ExternalPaymentTransactionStatus1Code, a subset)."""

    ACCEPTED_CREDITOR_SETTLEMENT_COMPLETED = "ACCC"  # credited to the creditor's account
    ACCEPTED_SETTLEMENT_COMPLETED = "ACSC"  # debited from the debtor's account
    ACCEPTED_SETTLEMENT_IN_PROCESS = "ACSP"  # checks passed, settlement under way
    ACCEPTED_TECHNICAL_VALIDATION = "ACTC"  # syntax and semantics valid
    ACCEPTED_WITHOUT_POSTING = "ACWP"  # accepted, but not yet posted to the creditor's account
    BLOCKED = "BLCK"  # held: the funds are frozen, not returned
    PENDING = "PDNG"  # further checks before a final status
    REJECTED = "RJCT"  # refused; the funds do not move


# Statuses that must say why (at least one `StsRsnInf` with a code).
STATUSES_NEEDING_REASON = frozenset({TransactionStatus.REJECTED, TransactionStatus.BLOCKED})


class ReasonCode(StrEnum):
    """Why a status or a verification result is what it is (a subset of ExternalStatusReason1Code,
    also used as ExternalVerificationReason1Code in acmt.024)."""

    TIMEOUT_CREDITOR_AGENT = "AB05"
    TIMEOUT_INSTRUCTED_AGENT = "AB06"
    INCORRECT_ACCOUNT_NUMBER = "AC01"
    INVALID_CREDITOR_ACCOUNT_NUMBER = "AC03"
    CLOSED_ACCOUNT_NUMBER = "AC04"
    BLOCKED_ACCOUNT = "AC06"
    TRANSACTION_FORBIDDEN = "AG01"
    TRANSACTION_NOT_SUPPORTED = "AG03"
    NOT_ALLOWED_AMOUNT = "AM02"
    INSUFFICIENT_FUNDS = "AM04"
    DUPLICATION = "AM05"
    WRONG_AMOUNT = "AM09"
    INCONSISTENT_WITH_END_CUSTOMER = "BE01"
    ACCOUNT_PROXY_INVALID = "BE23"
    DUPLICATE_PAYMENT = "DUPL"
    INVALID_FILE_FORMAT = "FF01"
    FRAUD = "FR01"
    NOT_SPECIFIED_AGENT_GENERATED = "MS03"
    NARRATIVE = "NARR"
    BANK_IDENTIFIER_INCORRECT = "RC01"
    REGULATORY_REASON = "RR04"


class ProxyType(StrEnum):
    """What kind of alias a proxy is (`Prxy/Tp/Cd`, ExternalProxyAccountType1Code, a subset)."""

    MOBILE_NUMBER = "MBNO"
    TELEPHONE_NUMBER = "TELE"
    EMAIL_ADDRESS = "EMAL"
    NATIONAL_IDENTITY_NUMBER = "NIDN"
    CERTIFICATE_OF_INCORPORATION_NUMBER = "CINC"
    E_WALLET = "EWAL"
