"""Who is paid: a payee named by account id, phone number, merchant QR code or participant,
resolved to a key and the facts its bank attests.

This bank's own customers are found in its records first; anyone else through the central
directory. A QR code names its payee by the account id its scheme carries (KHQR's Bakong account
id `name@bank` in tag 29 or 30); a code that names no account we can resolve is `payee_unknown`.
The payer sees the payee's name masked (confirmation of payee) the way the central directory
masks it, whichever way the payee was found. A participant of the central bank (an FX provider
paid one leg of a cross-border payment) is found in its list of participants by name or key;
its facts are its name and role, and its name is shown whole: institutions are public. A
participant once found is kept: the central bank never changes or removes a registration (the
same name or key registered otherwise is refused), so what was found stays true, and a hub's
every payment need not read the list again.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Final, TypeVar

from bridges.qr import QrError, decode
from dsl.facts import Party
from engine.ids import ParticipantId
from node.bank_store import BankStore
from node.central_link import CentralClient
from node.central_reads import masked
from node.client import NO_ANSWER, ClientError, NodeClient
from node.errors import NodeError, bad_request, unprocessable
from node.messages import PAGE_SIZE_MAX, Page, PayeeWire, PayTo
from node.recent import Recent
from node.tables import CustomerRow

# The account fields of the QR schemes that carry an account id of the form name@bank.
QR_ACCOUNT_FIELDS: Final = ("bakong_account_id",)
_ACCOUNT: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}@[a-z0-9][a-z0-9-]{0,62}")
PARTICIPANT_PAGES_MAX: Final = 10  # pages of participants read to find one (PAGE_SIZE_MAX each)
PARTICIPANTS_KEPT: Final = 1_024  # participants found, kept by the name or key asked for
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Payee:
    """A resolved payee: key to pay, account id, masked name and attested facts."""

    key: ParticipantId
    account: str
    masked_name: str
    facts: Party


async def from_central(read: Awaitable[T]) -> T:
    """A read through the typed client (`node.client`), failing as the bank's link to the
    central bank fails: no answer is 502 `central_unavailable`; a problem passes on unchanged."""
    try:
        return await read
    except ClientError as error:
        if error.status == NO_ANSWER:
            raise NodeError(502, "central_unavailable", "Central bank unavailable",
                            error.detail) from None
        raise


def customer_facts(customer: CustomerRow, bank: str) -> Party:
    """The facts a bank attests for its customer by co-signing."""
    return Party(customer.account, customer.role, customer.kyc_tier, bank, customer.region,
                 customer.mcc)


@dataclass(frozen=True, slots=True)
class PayeeResolver:
    """Resolves payees for one bank: its records first, then the central directory; a
    participant from the central bank's list (read with the typed client `ledger`)."""

    store: BankStore
    central: CentralClient
    bank: str
    ledger: NodeClient
    _participants: Recent[str, Payee] = field(
        default_factory=lambda: Recent(PARTICIPANTS_KEPT), repr=False)

    async def resolve(self, to: PayTo, currency: str, amount_minor: int) -> Payee:
        """The payee named by exactly one of account, phone, QR code or participant."""
        named = [value for value in (to.account, to.phone, to.qr, to.participant)
                 if value is not None]
        if len(named) != 1:
            raise bad_request("invalid_request", "name the payee by exactly one of account, "
                              "phone, qr or participant")
        if to.account is not None:
            return await self.by_account(to.account)
        if to.phone is not None:
            return await self._by_phone(to.phone)
        if to.participant is not None:
            return await self._participant(to.participant)
        return await self.by_account(_qr_account(to.qr or "", currency, amount_minor))

    async def by_account(self, account: str) -> Payee:
        """The payee with this account id."""
        if account.endswith(f"@{self.bank}"):
            customer = await self.store.customer(account)
            if customer is None:
                raise _unknown(f"{account} is not a customer of {self.bank}")
            return self._local(customer)
        return await self._central(account=account)

    async def _by_phone(self, phone: str) -> Payee:
        customer = await self.store.customer_by_phone(phone)
        if customer is not None:
            return self._local(customer)
        return await self._central(phone=phone)

    async def _participant(self, wanted: str) -> Payee:
        """The registered participant named `wanted` or holding that key."""
        found = self._participants.get(wanted)
        if found is None:
            found = await self._registered(wanted)
            self._participants.keep(wanted, found)
        return found

    async def _registered(self, wanted: str) -> Payee:
        """The participant as the central bank's list shows it."""
        after = ""
        for _ in range(PARTICIPANT_PAGES_MAX):
            page = await from_central(self.ledger.participants(
                Page(limit=PAGE_SIZE_MAX, after=after)))
            for found in page.items:
                if wanted in (found.name, found.key):
                    return Payee(ParticipantId(found.key), found.name, found.name,
                                 Party(id=found.name, role=found.role))
            if page.next is None:
                break
            after = page.next
        raise _unknown(f"no participant {wanted} is registered at the central bank")

    def _local(self, customer: CustomerRow) -> Payee:
        return Payee(ParticipantId(customer.key), customer.account,
                     masked(customer.display_name),
                     customer_facts(customer, self.bank))

    async def _central(self, *, account: str | None = None, phone: str | None = None) -> Payee:
        try:
            found = await self.central.directory(account=account, phone=phone)
        except NodeError as error:
            if error.problem.status == 404:
                raise _unknown(f"no wallet is registered for {account or phone}") from None
            raise
        return _from_directory(found)


def _from_directory(found: PayeeWire) -> Payee:
    facts = Party(found.account, found.role, found.kyc, found.bank, found.region, found.mcc)
    return Payee(ParticipantId(found.key), found.account, found.display_name, facts)


def _qr_account(payload: str, currency: str, amount_minor: int) -> str:
    """The account id a QR code names; its currency and amount, if it states them, must be the
    payment's (the payer confirms what the merchant asked for)."""
    try:
        decoded = decode(payload)
    except QrError as error:
        raise unprocessable("qr_unreadable", str(error)) from None
    merchant = decoded.merchant
    if merchant.currency.alpha != currency or (
            merchant.amount_minor is not None and merchant.amount_minor != amount_minor):
        raise unprocessable("qr_mismatch", f"the QR code asks for {merchant.amount_text or ''}"
                            f" {merchant.currency.alpha}, not {amount_minor} minor units of "
                            f"{currency}")
    for name in QR_ACCOUNT_FIELDS:
        account = decoded.account.get(name, "")
        if _ACCOUNT.fullmatch(account):
            return account
    raise _unknown(f"this {decoded.scheme} code names no account id of the form name@bank")


def _unknown(detail: str) -> NodeError:
    return unprocessable("payee_unknown", detail)
