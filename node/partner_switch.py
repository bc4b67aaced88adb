"""The partner QR switch stand-in: a national QR payment system abroad, in ISO 20022 over HTTP.

Earmark's hub pays merchants abroad through PromptPay, DuitNow or VietQR/NAPAS. None of them can
run here, so tests and the devnet run this stand-in, which speaks their protocol:

* `POST /iso20022/acmt.023` (an acmt.023 document) answers an acmt.024: confirmation of payee,
  by proxy or account number, with the merchant's name masked for display (`masked_name`);
* `POST /iso20022/pacs.008` (a pacs.008 document) answers a pacs.002: the switch debits the
  paying FX provider's prefunded settlement account and credits the merchant in one database
  transaction (`ACCC`), holds the money of a blocked merchant (`BLCK`), or rejects (`RJCT`)
  with an ISO reason code, in the order `PartnerSwitch.plan` documents. A resend of the same
  message gets the same answer and moves nothing; the same message id with other content is
  `DUPL`;
* `GET /accounts`, `GET /accounts/{account}`: the balances, for operators, demos and tests;
  `GET /healthz`.

A document that is not XML, not the expected message, or refused by its XSD is answered 400 with
problem+json carrying the ISO 20022 layer's stable code (`I0101`, `I0201`, …).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Final

from aiohttp import web
from pydantic import BaseModel

from bridges.iso20022 import (
    Account,
    CreditTransfer,
    FinancialInstitution,
    Iso20022Error,
    Party,
    PartyAndAccount,
    PaymentStatusReport,
    ReasonCode,
    StatusReason,
    TransactionStatus,
    Verification,
    VerificationReport,
    VerificationRequest,
    VerificationResult,
    build_credit_transfer,
    build_status_report,
    build_verification_report,
    parse_credit_transfer,
    parse_verification_request,
    status_report_for,
    verification_report_for,
)
from bridges.iso20022.limits import MESSAGE_BYTES_MAX, REASON_LINE_CHARACTERS_MAX
from node.api import problems
from node.errors import NodeError, bad_request, not_found
from node.http_service import serve_app
from node.metrics import Metrics
from node.partner_switch_config import (
    LEGAL_NAME_CHARACTERS_MAX,
    Merchant,
    MerchantStatus,
    SettlementParticipant,
    SwitchConfig,
    merchant_proxy,
    proxy_key,
)
from node.partner_switch_store import (
    AccountBalance,
    AccountSeed,
    Outcome,
    Plan,
    Posting,
    Received,
    Settled,
    SwitchStore,
)

# The largest request body: one ISO 20022 message, as the parser bounds it.
ROLE: Final = "partner_switch"  # how /metrics labels its requests
REQUEST_BYTES_MAX: Final = MESSAGE_BYTES_MAX
XML_MEDIA_TYPES: Final = frozenset({"application/xml", "text/xml"})
XML_MEDIA_TYPE: Final = "application/xml"
# Words of a legal name that say what kind of company it is, not who: shown unmasked.
LEGAL_FORMS: Final = frozenset({
    "co", "company", "corp", "corporation", "inc", "limited", "ltd", "llc", "plc", "pte",
    "sdn", "bhd", "berhad", "jsc", "tnhh", "cong", "ty", "public",
})
_log = logging.getLogger("earmark.partner_switch")

def masked_name(legal_name: str) -> str:
    """The merchant's name as the switch lets a payer's app show it.

    The switch's privacy rule: each word keeps its first letter and hides the rest
    (`Siam Tea Co., Ltd.` is `S*** T*** Co., Ltd.`), except the words naming the legal form,
    so the payer can tell the merchant they mean without learning its name from a proxy.
    """
    words = []
    for word in legal_name.split():
        bare = word.rstrip(".,")
        if not bare or bare.lower() in LEGAL_FORMS:
            words.append(word)
        else:
            words.append(f"{bare[0]}***{word[len(bare):]}")
    return " ".join(words)[:LEGAL_NAME_CHARACTERS_MAX]


class AccountWire(BaseModel):
    """One account at the switch, for operators: `GET /accounts/{account}`."""

    account: str
    kind: str  # settlement, merchant or hold
    holder: str
    currency: str
    opening_minor: int
    balance_minor: int
    status: MerchantStatus | None = None  # a merchant's


class AccountList(BaseModel):
    """Every account and the money in the switch: `GET /accounts`."""

    accounts: list[AccountWire]
    total_minor: int


class PartnerSwitch:
    """The switch's rules over its configuration and its store."""

    def __init__(self, config: SwitchConfig, store: SwitchStore) -> None:
        self.config = config
        self.store = store
        self._by_account = {m.account: m for m in config.merchants}
        self._by_proxy = {proxy_key(config.scheme, proxy): m for m in config.merchants
                          if (proxy := merchant_proxy(m)) is not None}
        self._participants = {p.agent_id: p for p in config.participants}
        self.agent = FinancialInstitution(other_id=config.agent_id, country=config.country)

    def seeds(self) -> list[AccountSeed]:
        """The accounts the configuration names, with their opening balances."""
        hold = AccountSeed(self.config.hold_account, "hold", self.config.name, 0)
        return [hold,
                *(AccountSeed(p.account, "settlement", p.name, p.opening_balance_minor)
                  for p in self.config.participants),
                *(AccountSeed(m.account, "merchant", m.legal_name, 0)
                  for m in self.config.merchants)]

    # ---- confirmation of payee --------------------------------------------------------------

    def verify(self, request: VerificationRequest) -> VerificationReport:
        """The acmt.024 answering `request`, one result per verification."""
        return verification_report_for(
            request, message_id=_new_message_id(), created_at=datetime.now(UTC),
            results=tuple(self._verify_one(v) for v in request.verifications))

    def _verify_one(self, verification: Verification) -> VerificationResult:
        subject = verification.subject
        merchant, reason = self._merchant(subject.account, ReasonCode.INCORRECT_ACCOUNT_NUMBER)
        if merchant is not None:
            reason = _status_reason(merchant)
        if merchant is None or reason is not None:
            return VerificationResult(verification.identification, verified=False,
                                      reason=reason, original=subject)
        return VerificationResult(verification.identification, verified=True, original=subject,
                                  updated=self._identification(merchant))

    def _identification(self, merchant: Merchant) -> PartyAndAccount:
        # The full name is for the hub's sanctions screening (`Pty/Nm`); the payer's app shows
        # only the masked display name (`Acct/Nm`).
        return PartyAndAccount(
            party=Party(name=merchant.legal_name, country_of_residence=self.config.country),
            account=Account(number=merchant.account, currency=self.config.currency,
                            name=masked_name(merchant.legal_name)),
            agent=self.agent)

    def _merchant(self, account: Account | None, unknown_number: ReasonCode,
                  ) -> tuple[Merchant | None, ReasonCode | None]:
        """The merchant behind `account` (its proxy first, else its number), or why none."""
        if account is not None and account.proxy is not None:
            merchant = self._by_proxy.get(proxy_key(self.config.scheme, account.proxy))
            if merchant is None:
                return None, ReasonCode.ACCOUNT_PROXY_INVALID
            if account.number is not None and account.number != merchant.account:
                return None, unknown_number  # the proxy and the number name different accounts
            return merchant, None
        number = None if account is None else account.number
        merchant = None if number is None else self._by_account.get(number)
        return (merchant, None) if merchant is not None else (None, unknown_number)

    # ---- credit transfers -------------------------------------------------------------------

    async def credit(self, transfer: CreditTransfer) -> Settled:
        """Settle `transfer` once (see `plan`); a resend gets the stored answer."""
        # Two messages are the same when they carry the same modelled values: the digest is of
        # the canonical document, so a resend that differs only in layout is still a resend.
        digest = hashlib.sha256(build_credit_transfer(transfer)).hexdigest()
        received = Received(transfer.message_id, digest, str(transfer.uetr))

        def report(outcome: Outcome) -> bytes:
            return build_status_report(_status_report(transfer, outcome))

        settled = await self.store.settle(received, self.plan(transfer), report)
        outcome = settled.outcome
        _log.info("pacs.008 %s (UETR %s): %s%s%s", transfer.message_id, transfer.uetr,
                  outcome.status.value, "" if outcome.reason is None else f" {outcome.reason}",
                  " (replayed)" if settled.replayed else "")
        return settled

    def plan(self, transfer: CreditTransfer) -> Plan:
        """What the rules before the balances decide: a rejection, or money to move.

        The rules in the order they decide (the first that fails answers): RJCT RC01, the
        paying agent (`InstgAgt`, else `DbtrAgt`) has no settlement account here; RJCT AG03, the
        amount is not in the switch's currency; RJCT AM02, the amount is zero or above the limit
        per payment; RJCT BE23 (unknown proxy) or AC03 (unknown number, or a number that is not
        the proxy's); RJCT AC04, the merchant is closed. The store then answers RJCT DUPL when
        the UETR was posted already, and RJCT AM04 when the settlement account lacks the
        amount; otherwise the money moves: BLCK AC06 into the hold account for a blocked
        merchant, ACCC to the merchant.
        """
        payer = self._participant(transfer)
        amount = transfer.settlement_amount
        if payer is None:
            return _rejected(ReasonCode.BANK_IDENTIFIER_INCORRECT,
                             "the paying agent has no settlement account at this switch")
        if amount.currency != self.config.currency:
            return _rejected(ReasonCode.TRANSACTION_NOT_SUPPORTED,
                             f"the switch settles {self.config.currency}, not {amount.currency}")
        if not 0 < amount.amount_minor <= self.config.payment_max_minor:
            return _rejected(ReasonCode.NOT_ALLOWED_AMOUNT,
                             f"a payment runs from 1 to {self.config.payment_max_minor} minor "
                             "units")
        merchant, unknown = self._merchant(transfer.creditor_account,
                                           ReasonCode.INVALID_CREDITOR_ACCOUNT_NUMBER)
        if merchant is None:
            return _rejected(unknown or ReasonCode.INVALID_CREDITOR_ACCOUNT_NUMBER,
                             "no merchant has this creditor account")
        if merchant.status == MerchantStatus.CLOSED:
            return _rejected(ReasonCode.CLOSED_ACCOUNT_NUMBER, "the merchant's account is closed")
        if merchant.status == MerchantStatus.BLOCKED:
            held = Outcome(TransactionStatus.BLOCKED, ReasonCode.BLOCKED_ACCOUNT,
                           "the merchant's account is blocked: the payment is held")
            return Posting(payer.account, self.config.hold_account, amount.amount_minor, held)
        return Posting(payer.account, merchant.account, amount.amount_minor,
                       Outcome(TransactionStatus.ACCEPTED_CREDITOR_SETTLEMENT_COMPLETED))

    def _participant(self, transfer: CreditTransfer) -> SettlementParticipant | None:
        agent = transfer.instructing_agent or transfer.debtor_agent
        for identifier in (agent.bic, agent.member_id, agent.other_id):
            if identifier is not None and identifier in self._participants:
                return self._participants[identifier]
        return None

    # ---- the operator's view ----------------------------------------------------------------

    def account_wire(self, balance: AccountBalance) -> AccountWire:
        """An account as `GET /accounts` shows it."""
        merchant = self._by_account.get(balance.account)
        return AccountWire(account=balance.account, kind=balance.kind, holder=balance.holder,
                           currency=balance.currency, opening_minor=balance.opening_minor,
                           balance_minor=balance.balance_minor,
                           status=None if merchant is None else merchant.status)


def _status_reason(merchant: Merchant) -> ReasonCode | None:
    """Why a known merchant cannot be confirmed as a payee, if it cannot."""
    return {MerchantStatus.CLOSED: ReasonCode.CLOSED_ACCOUNT_NUMBER,
            MerchantStatus.BLOCKED: ReasonCode.BLOCKED_ACCOUNT}.get(merchant.status)


def _rejected(reason: ReasonCode, detail: str) -> Outcome:
    return Outcome(TransactionStatus.REJECTED, reason, detail)


def _status_report(transfer: CreditTransfer, outcome: Outcome) -> PaymentStatusReport:
    now = datetime.now(UTC)
    reasons = () if outcome.reason is None else (
        StatusReason(outcome.reason, (outcome.detail[:REASON_LINE_CHARACTERS_MAX],)
                     if outcome.detail else ()),)
    accepted = outcome.status == TransactionStatus.ACCEPTED_CREDITOR_SETTLEMENT_COMPLETED
    return status_report_for(transfer, message_id=_new_message_id(), created_at=now,
                             status=outcome.status, reasons=reasons,
                             acceptance_at=now if accepted else None)


def _new_message_id() -> str:
    """A fresh message id for an answer (32 hex digits fit MsgId's 35 characters)."""
    return uuid.uuid4().hex


# ---- HTTP -------------------------------------------------------------------------------------

_SWITCH: Final = web.AppKey("partner_switch", PartnerSwitch)


async def _xml_body(request: web.Request) -> bytes:
    """The request's ISO 20022 document; anything but XML is refused before parsing."""
    if request.content_type not in XML_MEDIA_TYPES:
        raise NodeError(415, "unsupported_media_type", "Unsupported media type",
                        f"send {XML_MEDIA_TYPE}, not {request.content_type}")
    return await request.read()  # client_max_size refuses more than REQUEST_BYTES_MAX (413)


def _invalid_message(error: Iso20022Error) -> NodeError:
    """A document the ISO 20022 layer refused, as 400 problem+json with its stable code."""
    return bad_request(error.code.code, error.reason, name=error.code.name, path=error.path)


def _xml(data: bytes) -> web.Response:
    return web.Response(body=data, content_type=XML_MEDIA_TYPE, charset="utf-8")


async def _verification(request: web.Request) -> web.Response:
    try:
        asked = parse_verification_request(await _xml_body(request))
    except Iso20022Error as error:
        raise _invalid_message(error) from None
    return _xml(build_verification_report(request.app[_SWITCH].verify(asked)))


async def _credit_transfer(request: web.Request) -> web.Response:
    try:
        transfer = parse_credit_transfer(await _xml_body(request))
    except Iso20022Error as error:
        raise _invalid_message(error) from None
    settled = await request.app[_SWITCH].credit(transfer)
    return _xml(settled.reply)


async def _accounts(request: web.Request) -> web.Response:
    switch = request.app[_SWITCH]
    balances = await asyncio.to_thread(switch.store.accounts)
    total = await asyncio.to_thread(switch.store.audit)
    answer = AccountList(accounts=[switch.account_wire(b) for b in balances], total_minor=total)
    return web.json_response(text=answer.model_dump_json())


async def _account(request: web.Request) -> web.Response:
    switch = request.app[_SWITCH]
    balance = await asyncio.to_thread(switch.store.account, request.match_info["account"])
    if balance is None:
        raise not_found("account")
    return web.json_response(text=switch.account_wire(balance).model_dump_json())


def build_app(config: SwitchConfig) -> web.Application:
    """The switch's application; its database opens when the application starts."""
    metrics = Metrics(ROLE)
    app = web.Application(middlewares=[metrics.middleware, problems],
                          client_max_size=REQUEST_BYTES_MAX)

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "name": config.name, "scheme": config.scheme,
                                  "currency": config.currency})

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        store = await asyncio.to_thread(SwitchStore, config.database, config.currency)
        switch = PartnerSwitch(config, store)
        await asyncio.to_thread(store.seed, switch.seeds())
        app[_SWITCH] = switch
        yield
        await asyncio.to_thread(store.close)

    app.router.add_post("/iso20022/acmt.023", _verification)
    app.router.add_post("/iso20022/pacs.008", _credit_transfer)
    app.router.add_get("/accounts", _accounts)
    app.router.add_get("/accounts/{account}", _account)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics.handler)
    app.cleanup_ctx.append(lifecycle)
    return app


async def serve(config: SwitchConfig) -> None:
    """Serve until SIGTERM or SIGINT; requests in flight finish, then the database closes."""
    await serve_app(build_app(config), config.host, config.port,
                    f"{config.scheme} switch {config.name}")
