"""How a refusal of the Earmark ledger reads in a pacs.002: status RJCT and a reason code.

Every `engine.errors.ResultCode` maps to one ISO reason code (the test suite checks that the map is
total). The ISO code is what a bank's system acts on; the Earmark code and its explanation travel
along as additional information, so nothing is lost in translation.
"""

from __future__ import annotations

from bridges.iso20022.codes import ReasonCode, TransactionStatus
from bridges.iso20022.limits import REASON_LINE_CHARACTERS_MAX
from bridges.iso20022.pacs002 import StatusReason
from engine.errors import Refusal, ResultCode

REFUSAL_REASONS: dict[ResultCode, ReasonCode] = {
    # The transaction cannot be decoded or checked as a whole.
    ResultCode.MALFORMED: ReasonCode.INVALID_FILE_FORMAT,
    # ISO has no status reason for a failed transaction signature that banks agree on.
    ResultCode.BAD_SIGNATURE: ReasonCode.NOT_SPECIFIED_AGENT_GENERATED,
    # The notes to spend do not exist, or no longer: for the debtor, the funds are not there.
    ResultCode.NOTE_UNKNOWN: ReasonCode.INSUFFICIENT_FUNDS,
    ResultCode.NOTE_ALREADY_SPENT: ReasonCode.INSUFFICIENT_FUNDS,
    ResultCode.NOT_AUTHORISED: ReasonCode.TRANSACTION_FORBIDDEN,
    # A party registered nowhere: whom to pay (or who pays) is no account the scheme knows.
    ResultCode.PARTY_UNREGISTERED: ReasonCode.INCORRECT_ACCOUNT_NUMBER,
    # The facts stated of a party are not its registration.
    ResultCode.FACTS_NOT_ATTESTED: ReasonCode.INCONSISTENT_WITH_END_CUSTOMER,
    # Outputs do not add up to inputs in some currency.
    ResultCode.NOT_CONSERVED: ReasonCode.WRONG_AMOUNT,
    ResultCode.SUPPLY_CAP_EXCEEDED: ReasonCode.NOT_ALLOWED_AMOUNT,
    ResultCode.TOKEN_CHANGE_NOT_ALLOWED: ReasonCode.TRANSACTION_NOT_SUPPORTED,
    ResultCode.CONTRACT_UNKNOWN: ReasonCode.TRANSACTION_NOT_SUPPORTED,
    # The token's contract forbids this spend: expired, wrong purpose, or over a limit.
    ResultCode.NOTE_EXPIRED: ReasonCode.TRANSACTION_FORBIDDEN,
    ResultCode.PURPOSE_NOT_ALLOWED: ReasonCode.TRANSACTION_FORBIDDEN,
    ResultCode.LIMIT_EXCEEDED: ReasonCode.NOT_ALLOWED_AMOUNT,
}


def rejection(refusal: Refusal) -> tuple[TransactionStatus, tuple[StatusReason, ...]]:
    """The pacs.002 status and reason for a transaction that the ledger refused.

    The reason's additional information is the Earmark result code, then the refusal's own
    explanation and the deciding contract rule, each cut to one 105-character line.
    """
    lines = [refusal.code.value, refusal.reason]
    if refusal.rule is not None:
        rule = refusal.rule
        lines.append(f'rule "{rule.name}" of {rule.contract}, line {rule.line}')
    kept = tuple(line[:REASON_LINE_CHARACTERS_MAX] for line in lines if line)
    reason = StatusReason(REFUSAL_REASONS[refusal.code], kept)
    return TransactionStatus.REJECTED, (reason,)
