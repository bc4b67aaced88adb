"""pacs.008.001.08, FI to FI customer credit transfer: one leg of a payment between two agents.

Earmark writes one transaction per message (`NbOfTxs` 1), as CBPR+ requires, and refuses
to read a message with more. The transaction carries its UETR (the UUIDv4 that follows the
payment end to end), the interbank settlement amount and date, the instructed amount and exchange
rate when the leg converts currency, and the charges: who bears them (`ChrgBr`) and what each
agent took (`ChrgsInf`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID
from xml.etree.ElementTree import Element

from bridges.iso20022.amounts import Money, amount_text, read_money
from bridges.iso20022.codes import ChargeBearer, PurposeCode, SettlementMethod
from bridges.iso20022.elements import (
    Node,
    add,
    add_optional,
    finish,
    format_datetime,
    format_decimal,
    start,
)
from bridges.iso20022.errors import UNSUPPORTED, refuse
from bridges.iso20022.limits import CHARGES_MAX
from bridges.iso20022.parties import (
    Account,
    FinancialInstitution,
    Party,
    add_account,
    add_agent,
    add_party,
    read_account,
    read_agent,
    read_party,
)
from bridges.iso20022.schemas import PACS_008

UUID_VERSION = 4


@dataclass(frozen=True, slots=True)
class Charge:
    """What one agent in the chain took for carrying the payment (`ChrgsInf`)."""

    amount: Money
    agent: FinancialInstitution


@dataclass(frozen=True, slots=True)
class CreditTransfer:
    """One pacs.008 message holding one credit transfer transaction."""

    message_id: str
    created_at: datetime
    end_to_end_id: str
    uetr: UUID
    settlement_amount: Money
    settlement_date: date
    charge_bearer: ChargeBearer
    debtor: Party
    debtor_agent: FinancialInstitution
    creditor_agent: FinancialInstitution
    creditor: Party
    settlement_method: SettlementMethod = SettlementMethod.CLEARING_SYSTEM
    instruction_id: str | None = None
    transaction_id: str | None = None
    instructed_amount: Money | None = None
    exchange_rate: Decimal | None = None
    charges: tuple[Charge, ...] = ()
    instructing_agent: FinancialInstitution | None = None
    instructed_agent: FinancialInstitution | None = None
    debtor_account: Account | None = None
    creditor_account: Account | None = None
    purpose: PurposeCode | None = None
    remittance_information: str | None = None


def build_credit_transfer(transfer: CreditTransfer) -> bytes:
    """The pacs.008 document of `transfer`, validated against the official XSD."""
    document, body = start(PACS_008)
    header = add(body, "GrpHdr")
    add(header, "MsgId", transfer.message_id)
    add(header, "CreDtTm", format_datetime(transfer.created_at, "created_at"))
    add(header, "NbOfTxs", "1")
    add(add(header, "SttlmInf"), "SttlmMtd", transfer.settlement_method.value)
    _add_transaction(add(body, "CdtTrfTxInf"), transfer)
    return finish(PACS_008, document)


def _add_transaction(element: Element, transfer: CreditTransfer) -> None:
    _add_payment_id(add(element, "PmtId"), transfer)
    add_money(element, "IntrBkSttlmAmt", transfer.settlement_amount, "settlement_amount")
    add(element, "IntrBkSttlmDt", transfer.settlement_date.isoformat())
    if transfer.instructed_amount is not None:
        add_money(element, "InstdAmt", transfer.instructed_amount, "instructed_amount")
    if transfer.exchange_rate is not None:
        add(element, "XchgRate", format_decimal(transfer.exchange_rate))
    add(element, "ChrgBr", transfer.charge_bearer.value)
    add_charges(element, transfer.charges)
    _add_parties(element, transfer)
    if transfer.purpose is not None:
        add(add(element, "Purp"), "Cd", transfer.purpose)
    if transfer.remittance_information is not None:
        add(add(element, "RmtInf"), "Ustrd", transfer.remittance_information)


def _add_payment_id(element: Element, transfer: CreditTransfer) -> None:
    if transfer.uetr.version != UUID_VERSION:
        raise refuse("uetr", f"{transfer.uetr} is a version {transfer.uetr.version} UUID; "
                             "a UETR is a version 4 UUID")
    add_optional(element, "InstrId", transfer.instruction_id)
    add(element, "EndToEndId", transfer.end_to_end_id)
    add_optional(element, "TxId", transfer.transaction_id)
    add(element, "UETR", str(transfer.uetr))


def _add_parties(element: Element, transfer: CreditTransfer) -> None:
    # The XSD's order: instructing and instructed agents, debtor side, then creditor side.
    if transfer.instructing_agent is not None:
        add_agent(element, "InstgAgt", transfer.instructing_agent)
    if transfer.instructed_agent is not None:
        add_agent(element, "InstdAgt", transfer.instructed_agent)
    add_party(element, "Dbtr", transfer.debtor)
    if transfer.debtor_account is not None:
        add_account(element, "DbtrAcct", transfer.debtor_account)
    add_agent(element, "DbtrAgt", transfer.debtor_agent)
    add_agent(element, "CdtrAgt", transfer.creditor_agent)
    add_party(element, "Cdtr", transfer.creditor)
    if transfer.creditor_account is not None:
        add_account(element, "CdtrAcct", transfer.creditor_account)


def add_money(parent: Element, tag: str, amount: Money, field: str) -> None:
    """`<tag Ccy="…">decimal</tag>` for an amount."""
    add(parent, tag, amount_text(amount, field)).set("Ccy", amount.currency)


def add_charges(parent: Element, charges: tuple[Charge, ...]) -> None:
    """One `ChrgsInf` per charge, refusing more than `CHARGES_MAX`."""
    if len(charges) > CHARGES_MAX:
        raise refuse("charges", f"{len(charges)} charges; the limit is {CHARGES_MAX}")
    for index, charge in enumerate(charges):
        element = add(parent, "ChrgsInf")
        add_money(element, "Amt", charge.amount, f"charges[{index}].amount")
        add_agent(element, "Agt", charge.agent)


def parse_credit_transfer(data: bytes) -> CreditTransfer:
    """The credit transfer in a pacs.008 document, once it has passed the XSD and the rules."""
    body = Node.document(PACS_008, data)
    header = body.child("GrpHdr")
    transaction = _only_transaction(body, header)
    payment_id = transaction.child("PmtId")
    return CreditTransfer(
        message_id=header.text("MsgId"),
        created_at=header.timestamp("CreDtTm"),
        settlement_method=header.child("SttlmInf").code("SttlmMtd", SettlementMethod),
        instruction_id=payment_id.maybe_text("InstrId"),
        end_to_end_id=payment_id.text("EndToEndId"),
        transaction_id=payment_id.maybe_text("TxId"),
        uetr=_uetr(payment_id),
        settlement_amount=read_money(transaction.child("IntrBkSttlmAmt")),
        settlement_date=_settlement_date(transaction),
        instructed_amount=transaction.optional("InstdAmt", read_money),
        exchange_rate=transaction.optional("XchgRate", Node.as_decimal),
        charge_bearer=transaction.code("ChrgBr", ChargeBearer),
        charges=read_charges(transaction),
        instructing_agent=transaction.optional("InstgAgt", read_agent),
        instructed_agent=transaction.optional("InstdAgt", read_agent),
        debtor=read_party(transaction.child("Dbtr")),
        debtor_account=transaction.optional("DbtrAcct", read_account),
        debtor_agent=read_agent(transaction.child("DbtrAgt")),
        creditor_agent=read_agent(transaction.child("CdtrAgt")),
        creditor=read_party(transaction.child("Cdtr")),
        creditor_account=transaction.optional("CdtrAcct", read_account),
        purpose=transaction.optional("Purp", _purpose),
        remittance_information=transaction.optional("RmtInf", _remittance),
    )


def _only_transaction(body: Node, header: Node) -> Node:
    if header.text("NbOfTxs") != "1":
        raise header.fail(UNSUPPORTED, "only messages with exactly one transaction are modelled")
    body.children("CdtTrfTxInf", limit=1)  # a second transaction despite NbOfTxs: I0307
    return body.child("CdtTrfTxInf")


def _uetr(payment_id: Node) -> UUID:
    text = payment_id.maybe_text("UETR")
    if text is None:
        raise payment_id.fail(UNSUPPORTED, "a credit transfer without a UETR is not modelled")
    return UUID(text)


def _settlement_date(node: Node) -> date:
    found = node.maybe_day("IntrBkSttlmDt")
    if found is None:
        raise node.fail(UNSUPPORTED, "a transaction without IntrBkSttlmDt is not modelled")
    return found


def _purpose(node: Node) -> PurposeCode:
    code = node.maybe_text("Cd")
    if code is None:
        raise node.fail(UNSUPPORTED, "a proprietary purpose (Prtry) is not modelled")
    return PurposeCode(code)


def _remittance(node: Node) -> str:
    lines = node.children("Ustrd", limit=1)
    if len(lines) != 1 or node.maybe("Strd") is not None:
        raise node.fail(UNSUPPORTED, "only one line of unstructured remittance is modelled")
    return lines[0].value


def read_charges(node: Node) -> tuple[Charge, ...]:
    """Every `ChrgsInf` under `node`, refusing more than `CHARGES_MAX`."""
    return tuple(Charge(read_money(charge.child("Amt")), read_agent(charge.child("Agt")))
                 for charge in node.children("ChrgsInf", limit=CHARGES_MAX))
