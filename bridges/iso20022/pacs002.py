"""pacs.002.001.11, FI to FI payment status report: what became of one credit transfer.

Earmark reports one transaction per message, referring to the pacs.008 by its message id, end to
end id and UETR. A rejected (`RJCT`) or blocked (`BLCK`) status must give at least one reason
code; reading refuses one that does not (I0304), and a status or reason outside the codes in
`codes.py` (I0303).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID
from xml.etree.ElementTree import Element

from bridges.iso20022.amounts import Money, read_money
from bridges.iso20022.codes import STATUSES_NEEDING_REASON, ReasonCode, TransactionStatus
from bridges.iso20022.elements import Node, add, add_optional, finish, format_datetime, start
from bridges.iso20022.errors import REASON_MISMATCH, UNSUPPORTED, refuse
from bridges.iso20022.limits import REASON_LINES_MAX, STATUS_REASONS_MAX
from bridges.iso20022.pacs008 import Charge, CreditTransfer, add_charges, add_money, read_charges
from bridges.iso20022.parties import FinancialInstitution, add_agent, read_agent
from bridges.iso20022.schemas import PACS_002, PACS_008


@dataclass(frozen=True, slots=True)
class StatusReason:
    """Why a transaction has its status: a reason code and up to five lines of free text."""

    code: ReasonCode
    additional_information: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PaymentStatusReport:
    """One pacs.002 message reporting the status of one earlier credit transfer."""

    message_id: str
    created_at: datetime
    original_message_id: str
    original_message_name: str
    original_end_to_end_id: str
    original_uetr: UUID
    status: TransactionStatus
    reasons: tuple[StatusReason, ...] = ()
    original_created_at: datetime | None = None
    original_transaction_id: str | None = None
    acceptance_at: datetime | None = None
    effective_settlement_date: date | None = None
    charges: tuple[Charge, ...] = ()
    instructing_agent: FinancialInstitution | None = None
    instructed_agent: FinancialInstitution | None = None
    original_settlement_amount: Money | None = None
    original_settlement_date: date | None = None


def status_report_for(
    transfer: CreditTransfer, *, message_id: str, created_at: datetime,
    status: TransactionStatus, reasons: tuple[StatusReason, ...] = (),
    acceptance_at: datetime | None = None,
) -> PaymentStatusReport:
    """The status report that the instructed agent sends back about `transfer`.

    It refers to the credit transfer by its ids and UETR, repeats its settlement amount and
    date for reconciliation, and swaps the instructing and instructed agents.
    """
    return PaymentStatusReport(
        message_id=message_id,
        created_at=created_at,
        original_message_id=transfer.message_id,
        original_message_name=PACS_008.identifier,
        original_created_at=transfer.created_at,
        original_end_to_end_id=transfer.end_to_end_id,
        original_transaction_id=transfer.transaction_id,
        original_uetr=transfer.uetr,
        status=status,
        reasons=reasons,
        acceptance_at=acceptance_at,
        instructing_agent=transfer.instructed_agent,
        instructed_agent=transfer.instructing_agent,
        original_settlement_amount=transfer.settlement_amount,
        original_settlement_date=transfer.settlement_date,
    )


def build_status_report(report: PaymentStatusReport) -> bytes:
    """The pacs.002 document of `report`, validated against the official XSD."""
    _check_reasons_present(report.status, report.reasons)
    document, body = start(PACS_002)
    header = add(body, "GrpHdr")
    add(header, "MsgId", report.message_id)
    add(header, "CreDtTm", format_datetime(report.created_at, "created_at"))
    element = add(body, "TxInfAndSts")
    original_group = add(element, "OrgnlGrpInf")
    add(original_group, "OrgnlMsgId", report.original_message_id)
    add(original_group, "OrgnlMsgNmId", report.original_message_name)
    if report.original_created_at is not None:
        add(original_group, "OrgnlCreDtTm",
            format_datetime(report.original_created_at, "original_created_at"))
    add(element, "OrgnlEndToEndId", report.original_end_to_end_id)
    add_optional(element, "OrgnlTxId", report.original_transaction_id)
    add(element, "OrgnlUETR", str(report.original_uetr))
    add(element, "TxSts", report.status.value)
    _add_reasons(element, report.reasons)
    add_charges(element, report.charges)
    _add_settlement(element, report)
    return finish(PACS_002, document)


def _check_reasons_present(status: TransactionStatus, reasons: tuple[StatusReason, ...]) -> None:
    if status in STATUSES_NEEDING_REASON and not reasons:
        raise refuse("reasons", f"status {status.value} needs at least one reason")
    if len(reasons) > STATUS_REASONS_MAX:
        raise refuse("reasons", f"{len(reasons)} reasons; the limit is {STATUS_REASONS_MAX}")


def _add_reasons(parent: Element, reasons: tuple[StatusReason, ...]) -> None:
    for index, reason in enumerate(reasons):
        lines = reason.additional_information
        if len(lines) > REASON_LINES_MAX:
            raise refuse(f"reasons[{index}].additional_information",
                         f"{len(lines)} lines; the limit is {REASON_LINES_MAX}")
        element = add(parent, "StsRsnInf")
        add(add(element, "Rsn"), "Cd", reason.code.value)
        for line in lines:
            add(element, "AddtlInf", line)


def _add_settlement(element: Element, report: PaymentStatusReport) -> None:
    if report.acceptance_at is not None:
        add(element, "AccptncDtTm", format_datetime(report.acceptance_at, "acceptance_at"))
    if report.effective_settlement_date is not None:
        add(add(element, "FctvIntrBkSttlmDt"), "Dt", report.effective_settlement_date.isoformat())
    if report.instructing_agent is not None:
        add_agent(element, "InstgAgt", report.instructing_agent)
    if report.instructed_agent is not None:
        add_agent(element, "InstdAgt", report.instructed_agent)
    amount, day = report.original_settlement_amount, report.original_settlement_date
    if amount is None and day is None:
        return
    reference = add(element, "OrgnlTxRef")
    if amount is not None:
        add_money(reference, "IntrBkSttlmAmt", amount, "original_settlement_amount")
    if day is not None:
        add(reference, "IntrBkSttlmDt", day.isoformat())


def parse_status_report(data: bytes) -> PaymentStatusReport:
    """The status report in a pacs.002 document, once it has passed the XSD and the rules."""
    body = Node.document(PACS_002, data)
    header = body.child("GrpHdr")
    transaction = _only_transaction(body)
    original_group = _required(transaction, "OrgnlGrpInf")
    status = _required(transaction, "TxSts").as_code(TransactionStatus)
    reasons = tuple(_read_reason(node)
                    for node in transaction.children("StsRsnInf", limit=STATUS_REASONS_MAX))
    if status in STATUSES_NEEDING_REASON and not reasons:
        raise transaction.fail(REASON_MISMATCH, f"status {status.value} without a reason")
    reference = transaction.maybe("OrgnlTxRef")
    return PaymentStatusReport(
        message_id=header.text("MsgId"),
        created_at=header.timestamp("CreDtTm"),
        original_message_id=original_group.text("OrgnlMsgId"),
        original_message_name=original_group.text("OrgnlMsgNmId"),
        original_created_at=original_group.maybe_timestamp("OrgnlCreDtTm"),
        original_end_to_end_id=_required(transaction, "OrgnlEndToEndId").value,
        original_transaction_id=transaction.maybe_text("OrgnlTxId"),
        original_uetr=UUID(_required(transaction, "OrgnlUETR").value),
        status=status,
        reasons=reasons,
        acceptance_at=transaction.maybe_timestamp("AccptncDtTm"),
        effective_settlement_date=transaction.optional("FctvIntrBkSttlmDt", _effective_date),
        charges=read_charges(transaction),
        instructing_agent=transaction.optional("InstgAgt", read_agent),
        instructed_agent=transaction.optional("InstdAgt", read_agent),
        original_settlement_amount=None if reference is None
        else reference.optional("IntrBkSttlmAmt", read_money),
        original_settlement_date=None if reference is None
        else reference.maybe_day("IntrBkSttlmDt"),
    )


def _only_transaction(body: Node) -> Node:
    if body.maybe("OrgnlGrpInfAndSts") is not None:
        raise body.fail(UNSUPPORTED, "a status of the whole original group is not modelled")
    transactions = body.children("TxInfAndSts", limit=1)
    if not transactions:
        raise body.fail(UNSUPPORTED, "a status report without TxInfAndSts is not modelled")
    return transactions[0]


def _required(node: Node, tag: str) -> Node:
    # Optional in the XSD, but a report that lacks it cannot be matched to its credit transfer.
    found = node.maybe(tag)
    if found is None:
        raise node.fail(UNSUPPORTED, f"a transaction status without {tag} is not modelled")
    return found


def _read_reason(node: Node) -> StatusReason:
    reason = node.maybe("Rsn")
    if reason is None or reason.maybe("Cd") is None:
        raise node.fail(UNSUPPORTED, "a status reason without a reason code (Rsn/Cd)")
    lines = node.children("AddtlInf", limit=REASON_LINES_MAX)
    return StatusReason(reason.code("Cd", ReasonCode), tuple(line.value for line in lines))


def _effective_date(node: Node) -> date:
    found = node.maybe_day("Dt")
    if found is None:
        raise node.fail(UNSUPPORTED, "an effective settlement date and time (DtTm)")
    return found
