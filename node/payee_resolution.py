"""Proxy resolution for the hub: what a payer typed or scanned, resolved to a destination account
and a masked name the payer confirms before paying (docs/hub.md, "Resolving the payee").

A proxy is one of:

* an EMVCo merchant QR payload (it starts `0002`, its format indicator): PromptPay, DuitNow and
  VietQR codes are confirmed by the partner switch of that scheme in the registry (acmt.023 →
  acmt.024); a KHQR code naming a Bakong account id (`name@bank`) is looked up in the directory
  of the Earmark ledger that issues the code's currency;
* an EVM address (`evm:0x…` or a bare `0x…`): the receiver on a stablecoin chain;
* an account id `name@bank` or an E.164 phone number: a wallet in the directory of an Earmark
  ledger, the one `system` names or the single one of all ledgers that knows it.

Every name shown follows the switch's masking rule (`node.partner_switch.masked_name`), whichever
system answered, so the payer sees one form of name. Failures are `NodeError`s with the codes of
docs/hub.md: `proxy_unrecognised`, `qr_unreadable`, `qr_unsupported`, `system_unknown`,
`payee_not_found`, `payee_ambiguous`, `system_unavailable`.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Protocol, TypeVar

from pydantic import BaseModel, Field, ValidationError
from web3 import Web3

from bridges.iso20022 import (
    Account,
    Assignment,
    FinancialInstitution,
    Iso20022Error,
    PartyAndAccount,
    Proxy,
    ProxyType,
    Verification,
    VerificationRequest,
    VerificationResult,
)
from bridges.qr import DecodedQr, QrError, decode
from bridges.qr.limits import PAYLOAD_CHARACTERS_MAX
from engine.keys import KeyPair
from node.client import ClientError, NodeClient
from node.errors import NodeError, unprocessable
from node.hub_config import HubConfig, LedgerSystem, SwitchSystem
from node.messages import Currency, DirectoryQuery, Name, PayeeWire, Strict
from node.partner_switch import masked_name
from node.partner_switch_client import PartnerSwitchClient
from node.partner_switch_config import PROMPTPAY_PROXY_TYPES, Scheme, proxy_key
from node.payees import QR_ACCOUNT_FIELDS
from node.settlement_messages import Destination

# A proxy is at most a QR payload, the longest of its forms.
PROXY_CHARACTERS_MAX: Final = PAYLOAD_CHARACTERS_MAX
# Every EMVCo payload opens with its format indicator, ID 00 of length 02: "01", or DuitNow's
# "02".
QR_PREFIX: Final = "0002"
KHQR: Final = "khqr"
ADDRESS_SHOWN_CHARACTERS: Final = (6, 4)  # "0x5290…9EE7": enough to compare, short to read
_EVM_ADDRESS: Final = re.compile(r"(?:evm:)?(0x[0-9a-fA-F]{40})")
_VERIFICATION_ID: Final = "V1"  # the one verification of our acmt.023
# The QR account fields each switch finds a merchant by, in order: as a proxy of that ISO type,
# or (None) as an account number (docs/partner-switch.md, "From a scanned QR code ...").
_SWITCH_ACCOUNT_FIELDS: Final[dict[Scheme, tuple[tuple[str, ProxyType | None], ...]]] = {
    Scheme.PROMPTPAY: (*((field, kind) for kind, field in PROMPTPAY_PROXY_TYPES.items()),
                       ("promptpay_bank_account", None)),
    Scheme.DUITNOW: (("duitnow_qr_id", None),),
    Scheme.VIETQR: (("account_number", None),),
}


class ResolveRequest(Strict):
    """A proxy to resolve: a QR payload, an EVM address, an account id or a phone number, and
    optionally the system (`HubConfig` name) to resolve it in."""

    proxy: str = Field(min_length=1, max_length=PROXY_CHARACTERS_MAX)
    system: Name | None = None


class ResolvedPayee(BaseModel):
    """Where a payment to the proxy goes, and what the payer confirms.

    `destination.account` is what the destination leg credits: a wallet key on a ledger, a
    checksummed address on a chain, and at a switch the account number the switch confirmed
    (the pacs.008's `CdtrAcct/Id/Othr/Id`, so the money goes to the account the payer saw even if
    the proxy moves meanwhile), or `TYPE:value` (the proxy, for `CdtrAcct/Prxy`) when the switch
    confirmed without a number. `amount_minor` is a dynamic QR code's amount, in `currency`.
    """

    destination: Destination
    currency: Currency
    display_name: str = Field(description="masked for confirmation of payee")
    amount_minor: int | None = None
    scheme: str | None = Field(default=None, description="the QR code's scheme, if one")
    proxy: str = Field(description="the proxy resolved, without outer whitespace")


@dataclass(frozen=True, slots=True)
class _Lookup:
    """One resolution: the registry, the hub's key, the request and each system's time."""

    config: HubConfig
    key: KeyPair
    proxy: str
    system: str | None
    timeout_s: float


async def resolve(config: HubConfig, request: ResolveRequest, key: KeyPair, *,
                  timeout_s: float) -> ResolvedPayee:
    """The payee behind `request.proxy`; each system asked is given `timeout_s`."""
    # A scanner may hand over the payload with a line end; no proxy form has outer spaces.
    proxy = request.proxy.strip()
    lookup = _Lookup(config, key, proxy, request.system, timeout_s)
    address = _EVM_ADDRESS.fullmatch(proxy)
    if address is not None:
        return _from_chain(lookup, address.group(1))
    # Before the QR prefix: an account id such as `000201@bank` is an account id, and no
    # payload has the account id's form (one `@`, lowercase, no spaces, at most 127 characters).
    query = _directory_query(proxy)
    if query is not None:
        return await _from_ledgers(lookup, query)
    if proxy.startswith(QR_PREFIX):
        return await _from_qr(lookup, _decode(proxy))
    raise unprocessable("proxy_unrecognised", "not a QR payload, an EVM address, an account id "
                        "name@bank or an E.164 phone number")


# ---- QR codes ---------------------------------------------------------------------------------


def _decode(payload: str) -> DecodedQr:
    try:
        return decode(payload)
    except QrError as error:
        raise unprocessable("qr_unreadable", str(error)) from None


async def _from_qr(lookup: _Lookup, decoded: DecodedQr) -> ResolvedPayee:
    if decoded.scheme == KHQR:
        return await _from_khqr(lookup, decoded)
    currency = decoded.merchant.currency.alpha
    scheme = next((scheme for scheme in Scheme if scheme.value == decoded.scheme), None)
    if scheme is None:
        raise _unsupported(f"{decoded.scheme} codes go to no system the hub connects")
    switch = _pick([switch for switch in lookup.config.switches if switch.scheme == scheme],
                   lookup.system, f"{scheme.value} switch")
    if currency != switch.currency:
        raise _unsupported(f"the code asks for {currency}; {switch.name} settles in "
                           f"{switch.currency}")
    return await _from_switch(lookup, switch, decoded)


async def _from_khqr(lookup: _Lookup, decoded: DecodedQr) -> ResolvedPayee:
    """A KHQR code's Bakong account id, in the directory of the ledger of the code's currency."""
    currency = decoded.merchant.currency.alpha
    ledger = _pick([ledger for ledger in lookup.config.ledgers if ledger.currency == currency],
                   lookup.system, f"ledger of {currency}")
    found = await _ask(ledger, _khqr_query(decoded), lookup)
    if found is None:
        raise _not_in_directory([ledger])
    return _ledger_payee(lookup, ledger, found, decoded)


def _khqr_query(decoded: DecodedQr) -> DirectoryQuery:
    """The directory query of the account id (`name@bank`) a KHQR code names."""
    for field in QR_ACCOUNT_FIELDS:
        query = _directory_query(decoded.account.get(field, ""), ("account",))
        if query is not None:
            return query
    raise _unsupported("this KHQR code names no account id of the form name@bank")


async def _from_switch(lookup: _Lookup, switch: SwitchSystem,
                       decoded: DecodedQr) -> ResolvedPayee:
    asked, named = _switch_account(switch.scheme, decoded)
    result = await _verify(switch, asked, lookup.config.name, lookup.timeout_s)
    if not result.verified:
        code = None if result.reason is None else result.reason.value
        raise unprocessable("payee_not_found", f"{switch.name} does not confirm this payee "
                            f"(reason {code})", system=switch.name, reason_code=code)
    confirmed = None if result.updated is None else result.updated.account
    name = result.display_name or result.account_holder_name
    if name is None:
        raise _unavailable(switch.name, "it confirmed the payee without a name to show")
    account = (confirmed.number if confirmed is not None else None) or named
    return ResolvedPayee(
        destination=Destination(kind="switch", system=switch.name, account=account),
        currency=switch.currency, display_name=masked_name(name),
        amount_minor=decoded.merchant.amount_minor, scheme=decoded.scheme,
        proxy=lookup.proxy)


def _switch_account(scheme: Scheme, decoded: DecodedQr) -> tuple[Account, str]:
    """The account the switch looks the merchant up by, from the code's account fields, and
    how a pacs.008 names it: the number, or the proxy as `TYPE:value`."""
    for field, kind in _SWITCH_ACCOUNT_FIELDS[scheme]:
        value = decoded.account.get(field)
        if value is None:
            continue
        if kind is None:
            return Account(number=value), value
        proxy = Proxy(kind, value)
        return Account(proxy=proxy), proxy_key(scheme, proxy)
    raise _unsupported(f"this {scheme.value} code names no account a switch looks up "
                       f"(fields: {', '.join(sorted(decoded.account)) or 'none'})")


async def _verify(switch: SwitchSystem, account: Account, hub: str,
                  timeout_s: float) -> VerificationResult:
    """The switch's answer to one acmt.023 about `account`, asked by the hub `hub`."""
    request = VerificationRequest(
        assignment=Assignment(
            message_id=f"HUB-{uuid.uuid4().hex[:20]}", created_at=datetime.now(UTC),
            assigner=FinancialInstitution(name=hub),
            # Nexus routes a lookup by the assignee's country; the switch is the one there.
            assignee=FinancialInstitution(other_id=switch.agent_id, name=switch.name,
                                          country=switch.country)),
        verifications=(Verification(_VERIFICATION_ID, PartyAndAccount(account=account)),))
    try:
        async with PartnerSwitchClient(switch.url, timeout_s=timeout_s) as client:
            report = await client.verify(request)
    except ClientError as error:
        raise _unavailable(switch.name, f"{error.code}: {error.detail}") from None
    except Iso20022Error as error:  # our acmt.023 itself, e.g. an account number too long
        raise _unsupported(f"the code's account cannot be asked about: {error}") from None
    result = next((r for r in report.results
                   if r.original_identification == _VERIFICATION_ID), None)
    if result is None:
        raise _unavailable(switch.name, "its acmt.024 answers another verification")
    return result


# ---- chains -----------------------------------------------------------------------------------


def _from_chain(lookup: _Lookup, address: str) -> ResolvedPayee:
    digits = address[2:]
    # Mixed case is an EIP-55 checksum, and one that does not hold is a typo.
    if digits not in (digits.lower(), digits.upper()) and not Web3.is_checksum_address(address):
        raise unprocessable("proxy_unrecognised", f"{address} has a wrong checksum")
    chain = _pick(lookup.config.chains, lookup.system, "chain")
    ledger = lookup.config.ledger(chain.ledger)
    if ledger is None:
        raise _unknown(f"chain {chain.name} names no ledger {chain.ledger}")
    checksummed = str(Web3.to_checksum_address(address))
    head, tail = ADDRESS_SHOWN_CHARACTERS
    return ResolvedPayee(
        destination=Destination(kind="chain", system=chain.name, account=checksummed),
        currency=ledger.currency, display_name=f"{checksummed[:head]}…{checksummed[-tail:]}",
        proxy=lookup.proxy)


# ---- Earmark ledgers --------------------------------------------------------------------------


def _directory_query(proxy: str,
                     forms: tuple[str, ...] = ("account", "phone")) -> DirectoryQuery | None:
    """The directory query for `proxy` if it is an account id or a phone number (the forms the
    directory's own model accepts), else None."""
    for form in forms:
        try:
            return DirectoryQuery.model_validate({form: proxy})
        except ValidationError:
            continue
    return None


async def _from_ledgers(lookup: _Lookup, query: DirectoryQuery) -> ResolvedPayee:
    """The single ledger that knows the payee: the one named, else every ledger is asked. An
    unanswered ledger fails the whole lookup: it might know a second payee of that name."""
    system = lookup.system
    ledgers = ([_pick(lookup.config.ledgers, system, "ledger")] if system is not None
               else lookup.config.ledgers)
    answers = await asyncio.gather(*(_ask(ledger, query, lookup) for ledger in ledgers),
                                   return_exceptions=True)
    failures = [answer for answer in answers if isinstance(answer, BaseException)]
    if failures:
        raise failures[0]
    found = [(ledger, answer) for ledger, answer in zip(ledgers, answers, strict=True)
             if isinstance(answer, PayeeWire)]
    if not found:
        raise _not_in_directory(ledgers)
    if len(found) > 1:
        raise _ambiguous([ledger.name for ledger, _ in found])
    ledger, payee = found[0]
    return _ledger_payee(lookup, ledger, payee, None)


async def _ask(ledger: LedgerSystem, query: DirectoryQuery, lookup: _Lookup) -> PayeeWire | None:
    """The ledger's directory entry for `query`, or None when it has none."""
    try:
        async with NodeClient(ledger.url, lookup.key, timeout_s=lookup.timeout_s) as client:
            return await client.directory(query)
    except ClientError as error:
        if error.status == 404:
            return None
        raise _unavailable(ledger.name, f"{error.code}: {error.detail}") from None


def _ledger_payee(lookup: _Lookup, ledger: LedgerSystem, payee: PayeeWire,
                  decoded: DecodedQr | None) -> ResolvedPayee:
    # The directory masks its own way ("S**** C***"); the switch's rule over that shows the
    # same initials without the word lengths, in the one form every hub answer has.
    return ResolvedPayee(
        destination=Destination(kind="ledger", system=ledger.name, account=payee.key),
        currency=ledger.currency, display_name=masked_name(payee.display_name),
        amount_minor=None if decoded is None else decoded.merchant.amount_minor,
        scheme=None if decoded is None else decoded.scheme, proxy=lookup.proxy)


# ---- choosing a system and the errors ---------------------------------------------------------


class _Named(Protocol):
    @property
    def name(self) -> str: ...


S = TypeVar("S", bound=_Named)


def _pick(systems: Sequence[S], named: str | None, what: str) -> S:
    """The one system of `systems` (the one called `named`, if given)."""
    candidates = [s for s in systems if named is None or s.name == named]
    if not candidates:
        raise _unknown(f"the registry has no {what}" + (f" called {named}" if named else ""))
    if len(candidates) > 1:
        raise _ambiguous([s.name for s in candidates])
    return candidates[0]


def _unknown(detail: str) -> NodeError:
    return unprocessable("system_unknown", detail)


def _unsupported(detail: str) -> NodeError:
    return unprocessable("qr_unsupported", detail)


def _ambiguous(systems: list[str]) -> NodeError:
    return NodeError(409, "payee_ambiguous", "Conflict", f"{len(systems)} systems match: "
                     f"{', '.join(systems)}; name one as `system`", systems=systems)


def _not_in_directory(ledgers: Sequence[LedgerSystem]) -> NodeError:
    return NodeError(404, "payee_not_found", "Not found", "no directory knows this payee",
                     systems=[ledger.name for ledger in ledgers])


def _unavailable(system: str, detail: str) -> NodeError:
    return NodeError(502, "system_unavailable", "System unavailable",
                     f"{system} did not answer usefully: {detail}", system=system)
