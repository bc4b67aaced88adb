"""acmt.023.001.04 and acmt.024.001.04: identification verification request and report.

Before a payment, the sender's PSP asks who is behind an alias or an account (proxy resolution,
confirmation of payee) with an acmt.023; the proxy directory or the creditor's PSP answers with an
acmt.024 that says whether the identification is verified and, when it is, the account, the
account holder's full name (for sanctions screening) and a display name for the sender's app. The
roles follow Nexus: the assignment's creator is the sender, the first agent the sender's PSP; in
the report the assigner and assignee swap. A result that is not verified must give a reason code,
and a verified one must not (I0304).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from xml.etree.ElementTree import Element

from bridges.iso20022.codes import ReasonCode
from bridges.iso20022.elements import Node, add, finish, format_boolean, format_datetime, start
from bridges.iso20022.errors import REASON_MISMATCH, UNSUPPORTED, refuse
from bridges.iso20022.limits import VERIFICATIONS_MAX
from bridges.iso20022.parties import (
    FinancialInstitution,
    Party,
    PartyAndAccount,
    add_agent,
    add_party,
    add_party_and_account,
    read_agent,
    read_party,
    read_party_and_account,
)
from bridges.iso20022.schemas import ACMT_023, ACMT_024

# Party50Choice: a role in the assignment is filled by a party or by an agent.
Role = Party | FinancialInstitution


@dataclass(frozen=True, slots=True)
class Assignment:
    """Who asks whom (`Assgnmt`): the message id and time, assigner and assignee."""

    message_id: str
    created_at: datetime
    assigner: Role
    assignee: Role
    creator: Role | None = None
    first_agent: FinancialInstitution | None = None


@dataclass(frozen=True, slots=True)
class Verification:
    """One question of an acmt.023: its id and the party, account or proxy to verify."""

    identification: str
    subject: PartyAndAccount


@dataclass(frozen=True, slots=True)
class VerificationRequest:
    """One acmt.023 message: an assignment and one or more verifications."""

    assignment: Assignment
    verifications: tuple[Verification, ...]


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """One answer of an acmt.024: verified or not (and why), and the updated identification."""

    original_identification: str
    verified: bool
    reason: ReasonCode | None = None
    original: PartyAndAccount | None = None
    updated: PartyAndAccount | None = None

    @property
    def display_name(self) -> str | None:
        """The name to show the sender (`UpdtdPtyAndAcctId/Acct/Nm`, as Nexus uses it)."""
        account = None if self.updated is None else self.updated.account
        return None if account is None else account.name

    @property
    def account_holder_name(self) -> str | None:
        """The full name of the account holder (`UpdtdPtyAndAcctId/Pty/Nm`), for screening."""
        party = None if self.updated is None else self.updated.party
        return None if party is None else party.name


@dataclass(frozen=True, slots=True)
class VerificationReport:
    """One acmt.024 message: an assignment, the request it answers, and the results."""

    assignment: Assignment
    results: tuple[VerificationResult, ...]
    original_message_id: str | None = None
    original_created_at: datetime | None = None


def verification_report_for(
    request: VerificationRequest, *, message_id: str, created_at: datetime,
    results: tuple[VerificationResult, ...],
) -> VerificationReport:
    """The report answering `request`.

    Creator and first agent stay, assigner and assignee swap (as in Nexus), and the request's
    message id and time become the original assignment.
    """
    asked = request.assignment
    return VerificationReport(
        assignment=Assignment(message_id=message_id, created_at=created_at,
                              assigner=asked.assignee, assignee=asked.assigner,
                              creator=asked.creator, first_agent=asked.first_agent),
        results=results,
        original_message_id=asked.message_id,
        original_created_at=asked.created_at,
    )


def build_verification_request(request: VerificationRequest) -> bytes:
    """The acmt.023 document of `request`, validated against the official XSD."""
    _check_count("verifications", len(request.verifications))
    document, body = start(ACMT_023)
    _add_assignment(body, request.assignment)
    for verification in request.verifications:
        element = add(body, "Vrfctn")
        add(element, "Id", verification.identification)
        add_party_and_account(element, "PtyAndAcctId", verification.subject)
    return finish(ACMT_023, document)


def build_verification_report(report: VerificationReport) -> bytes:
    """The acmt.024 document of `report`, validated against the official XSD."""
    _check_count("results", len(report.results))
    document, body = start(ACMT_024)
    _add_assignment(body, report.assignment)
    if report.original_message_id is not None or report.original_created_at is not None:
        original = add(body, "OrgnlAssgnmt")
        if report.original_message_id is not None:
            add(original, "MsgId", report.original_message_id)
        if report.original_created_at is not None:
            add(original, "CreDtTm",
                format_datetime(report.original_created_at, "original_created_at"))
    for index, result in enumerate(report.results):
        _add_result(add(body, "Rpt"), result, f"results[{index}]")
    return finish(ACMT_024, document)


def _check_count(field: str, count: int) -> None:
    if not 1 <= count <= VERIFICATIONS_MAX:
        raise refuse(field, f"{count} entries; a message holds 1 to {VERIFICATIONS_MAX}")


def _add_assignment(parent: Element, assignment: Assignment) -> None:
    element = add(parent, "Assgnmt")
    add(element, "MsgId", assignment.message_id)
    add(element, "CreDtTm", format_datetime(assignment.created_at, "assignment.created_at"))
    if assignment.creator is not None:
        _add_role(element, "Cretr", assignment.creator)
    if assignment.first_agent is not None:
        add_agent(element, "FrstAgt", assignment.first_agent)
    _add_role(element, "Assgnr", assignment.assigner)
    _add_role(element, "Assgne", assignment.assignee)


def _add_role(parent: Element, tag: str, role: Role) -> None:
    element = add(parent, tag)
    if isinstance(role, Party):
        add_party(element, "Pty", role)
    else:
        add_agent(element, "Agt", role)


def _add_result(element: Element, result: VerificationResult, field: str) -> None:
    if result.verified == (result.reason is not None):
        raise refuse(f"{field}.reason", "a reason goes with an unverified result, and only there")
    add(element, "OrgnlId", result.original_identification)
    add(element, "Vrfctn", format_boolean(result.verified))
    if result.reason is not None:
        add(add(element, "Rsn"), "Cd", result.reason.value)
    if result.original is not None:
        add_party_and_account(element, "OrgnlPtyAndAcctId", result.original)
    if result.updated is not None:
        add_party_and_account(element, "UpdtdPtyAndAcctId", result.updated)


def parse_verification_request(data: bytes) -> VerificationRequest:
    """The verification request in an acmt.023 document, once it has passed the XSD and rules."""
    body = Node.document(ACMT_023, data)
    return VerificationRequest(
        assignment=_read_assignment(body.child("Assgnmt")),
        verifications=tuple(
            Verification(node.text("Id"), read_party_and_account(node.child("PtyAndAcctId")))
            for node in body.children("Vrfctn", limit=VERIFICATIONS_MAX)
        ),
    )


def parse_verification_report(data: bytes) -> VerificationReport:
    """The verification report in an acmt.024 document, once it has passed the XSD and rules."""
    body = Node.document(ACMT_024, data)
    original = body.maybe("OrgnlAssgnmt")
    return VerificationReport(
        assignment=_read_assignment(body.child("Assgnmt")),
        results=tuple(_read_result(node)
                      for node in body.children("Rpt", limit=VERIFICATIONS_MAX)),
        original_message_id=None if original is None else original.maybe_text("MsgId"),
        original_created_at=None if original is None else original.maybe_timestamp("CreDtTm"),
    )


def _read_assignment(node: Node) -> Assignment:
    return Assignment(
        message_id=node.text("MsgId"),
        created_at=node.timestamp("CreDtTm"),
        creator=node.optional("Cretr", _read_role),
        first_agent=node.optional("FrstAgt", read_agent),
        assigner=_read_role(node.child("Assgnr")),
        assignee=_read_role(node.child("Assgne")),
    )


def _read_role(node: Node) -> Role:
    party = node.maybe("Pty")
    return read_party(party) if party is not None else read_agent(node.child("Agt"))


def _read_result(node: Node) -> VerificationResult:
    verified = node.child("Vrfctn").as_boolean()
    reason = node.maybe("Rsn")
    if reason is not None and reason.maybe("Cd") is None:
        raise reason.fail(UNSUPPORTED, "a proprietary verification reason (Prtry)")
    if verified == (reason is not None):
        raise node.fail(REASON_MISMATCH, "a reason goes with an unverified result, and only "
                                         f"there (Vrfctn is {str(verified).lower()})")
    return VerificationResult(
        original_identification=node.text("OrgnlId"),
        verified=verified,
        reason=None if reason is None else reason.code("Cd", ReasonCode),
        original=node.optional("OrgnlPtyAndAcctId", read_party_and_account),
        updated=node.optional("UpdtdPtyAndAcctId", read_party_and_account),
    )
