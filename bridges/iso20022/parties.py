"""Who and where: financial institutions, parties, accounts and proxies, as the messages carry them.

The four messages share these building blocks under different version numbers (pacs.008.001.08
has `BranchAndFinancialInstitutionIdentification6` and `CashAccount38`, acmt.023.001.04 has
`…8` and `CashAccount40`), but their element names and order are the same, so one writer and one
reader serve all of them. The model keeps the identifying elements that instant-payment schemes
use (Nexus, CBPR+); reading ignores the others (postal address lines, contact details, …).
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element

from bridges.iso20022.codes import ProxyType
from bridges.iso20022.elements import Node, add, add_optional
from bridges.iso20022.errors import UNSUPPORTED, refuse


@dataclass(frozen=True, slots=True)
class FinancialInstitution:
    """A bank or payment service provider: by BIC, clearing-system member id or other id.

    `clearing_system` is the code of the system that assigned `member_id` (ExternalClearing-
    SystemIdentification1Code); `country` is the ISO 3166 country of its postal address, which
    Nexus uses to route a proxy lookup to the destination country.
    """

    bic: str | None = None
    member_id: str | None = None
    clearing_system: str | None = None
    name: str | None = None
    country: str | None = None
    other_id: str | None = None


@dataclass(frozen=True, slots=True)
class Party:
    """A person or organisation: the debtor, the creditor, the sender of a lookup."""

    name: str | None = None
    country_of_residence: str | None = None


@dataclass(frozen=True, slots=True)
class Proxy:
    """An alias that stands for an account: a mobile number, an email address, …"""

    type: ProxyType
    identification: str


@dataclass(frozen=True, slots=True)
class Account:
    """A cash account by IBAN or by another number, with its display name and proxy."""

    iban: str | None = None
    number: str | None = None
    currency: str | None = None
    name: str | None = None
    proxy: Proxy | None = None


@dataclass(frozen=True, slots=True)
class PartyAndAccount:
    """What a verification asks about or answers with: a party, its account, its agent."""

    party: Party | None = None
    account: Account | None = None
    agent: FinancialInstitution | None = None


def add_agent(parent: Element, tag: str, institution: FinancialInstitution) -> None:
    """`<tag><FinInstnId>…</FinInstnId></tag>` (BranchAndFinancialInstitutionIdentification)."""
    identification = add(add(parent, tag), "FinInstnId")
    add_optional(identification, "BICFI", institution.bic)
    _add_member(identification, institution, tag)
    add_optional(identification, "Nm", institution.name)
    if institution.country is not None:
        add(add(identification, "PstlAdr"), "Ctry", institution.country)
    if institution.other_id is not None:
        add(add(identification, "Othr"), "Id", institution.other_id)


def _add_member(parent: Element, institution: FinancialInstitution, tag: str) -> None:
    if institution.member_id is None:
        if institution.clearing_system is not None:
            raise refuse(f"{tag}.clearing_system", "a clearing system needs a member_id")
        return
    member = add(parent, "ClrSysMmbId")
    if institution.clearing_system is not None:
        add(add(member, "ClrSysId"), "Cd", institution.clearing_system)
    add(member, "MmbId", institution.member_id)


def read_agent(node: Node) -> FinancialInstitution:
    """The financial institution of a `…Agt` element."""
    identification = node.child("FinInstnId")
    member = identification.maybe("ClrSysMmbId")
    clearing = None if member is None else member.maybe("ClrSysId")
    if clearing is not None and clearing.maybe("Cd") is None:
        raise clearing.fail(UNSUPPORTED, "a proprietary clearing system (Prtry) is not modelled")
    address = identification.maybe("PstlAdr")
    other = identification.maybe("Othr")
    return FinancialInstitution(
        bic=identification.maybe_text("BICFI"),
        member_id=None if member is None else member.text("MmbId"),
        clearing_system=None if clearing is None else clearing.text("Cd"),
        name=identification.maybe_text("Nm"),
        country=None if address is None else address.maybe_text("Ctry"),
        other_id=None if other is None else other.text("Id"),
    )


def add_party(parent: Element, tag: str, party: Party) -> None:
    """`<tag>` with the party's name and country of residence (PartyIdentification)."""
    element = add(parent, tag)
    add_optional(element, "Nm", party.name)
    add_optional(element, "CtryOfRes", party.country_of_residence)


def read_party(node: Node) -> Party:
    """The party of a `Dbtr`, `Cdtr`, `Pty`, … element."""
    return Party(name=node.maybe_text("Nm"), country_of_residence=node.maybe_text("CtryOfRes"))


def add_account(parent: Element, tag: str, account: Account) -> None:
    """`<tag>` with the account's identification, currency, name and proxy (CashAccount)."""
    if account.iban is not None and account.number is not None:
        raise refuse(f"{tag}.iban", "an account has an IBAN or another number, not both")
    element = add(parent, tag)
    if account.iban is not None:
        add(add(element, "Id"), "IBAN", account.iban)
    if account.number is not None:
        add(add(add(element, "Id"), "Othr"), "Id", account.number)
    add_optional(element, "Ccy", account.currency)
    add_optional(element, "Nm", account.name)
    if account.proxy is not None:
        proxy = add(element, "Prxy")
        add(add(proxy, "Tp"), "Cd", account.proxy.type.value)
        add(proxy, "Id", account.proxy.identification)


def read_account(node: Node) -> Account:
    """The account of a `…Acct` element."""
    identification = node.maybe("Id")
    other = None if identification is None else identification.maybe("Othr")
    return Account(
        iban=None if identification is None else identification.maybe_text("IBAN"),
        number=None if other is None else other.text("Id"),
        currency=node.maybe_text("Ccy"),
        name=node.maybe_text("Nm"),
        proxy=_read_proxy(node.maybe("Prxy")),
    )


def _read_proxy(node: Node | None) -> Proxy | None:
    if node is None:
        return None
    kind = node.maybe("Tp")
    if kind is None or kind.maybe("Cd") is None:
        raise node.fail(UNSUPPORTED, "a proxy without a type code (Tp/Cd) is not modelled")
    return Proxy(kind.code("Cd", ProxyType), node.text("Id"))


def add_party_and_account(parent: Element, tag: str, subject: PartyAndAccount) -> None:
    """`<tag>` with the party, account and agent (IdentificationInformation)."""
    element = add(parent, tag)
    if subject.party is not None:
        add_party(element, "Pty", subject.party)
    if subject.account is not None:
        add_account(element, "Acct", subject.account)
    if subject.agent is not None:
        add_agent(element, "Agt", subject.agent)


def read_party_and_account(node: Node) -> PartyAndAccount:
    """The party, account and agent of an identification element."""
    party = node.maybe("Pty")
    account = node.maybe("Acct")
    agent = node.maybe("Agt")
    return PartyAndAccount(
        party=None if party is None else read_party(party),
        account=None if account is None else read_account(account),
        agent=None if agent is None else read_agent(agent),
    )
