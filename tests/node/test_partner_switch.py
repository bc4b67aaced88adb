"""The partner QR switch stand-in, served in-process and driven through its typed client.

Each scenario starts the switch's aiohttp application on a `TestServer` with a PromptPay
configuration on a fresh SQLite file, sends real acmt.023 and pacs.008 documents with
`PartnerSwitchClient`, and checks the ISO 20022 answers and the balances the switch reports.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bridges.iso20022 import (
    Account,
    Assignment,
    ChargeBearer,
    CreditTransfer,
    FinancialInstitution,
    Party,
    PartyAndAccount,
    PaymentStatusReport,
    Proxy,
    ProxyType,
    ReasonCode,
    TransactionStatus,
    Verification,
    VerificationRequest,
    build_credit_transfer,
    build_verification_request,
    money,
)
from node.client import ClientError
from node.partner_switch import PartnerSwitch, build_app, masked_name
from node.partner_switch_cli import partner_switch_app
from node.partner_switch_client import PartnerSwitchClient
from node.partner_switch_config import (
    Merchant,
    MerchantStatus,
    Scheme,
    SettlementParticipant,
    SwitchConfig,
    load_switch,
)
from node.partner_switch_store import SwitchStore
from node.processes import free_port

FX_PROVIDER = FinancialInstitution(bic="EXFXSGSG", name="Example FX Provider")
STRANGER = FinancialInstitution(bic="UNKNSGSG", name="Not a participant")
SWITCH_AGENT = FinancialInstitution(other_id="PROMPTPAY-SWITCH", country="TH")
SETTLEMENT_ACCOUNT = "FXP-0001"
OPENING_MINOR = 100_000  # 1,000.00 THB in the FX provider's settlement account
TEA_SHOP, NOODLES, CRAFTS = "1234567890", "2345678901", "3456789012"
HOLD = "held-for-blocked-merchants"
NOW = datetime(2026, 3, 2, 2, 16, tzinfo=UTC)


def switch_config(directory: Path, *, opening_minor: int = OPENING_MINOR) -> SwitchConfig:
    """A PromptPay switch with one FX provider and an open, a blocked and a closed merchant."""
    return SwitchConfig(
        name="promptpay-switch", scheme=Scheme.PROMPTPAY, country="TH", currency="THB",
        agent_id="PROMPTPAY-SWITCH", port=0, database=f"sqlite:///{directory / 'switch.db'}",
        participants=[SettlementParticipant(agent_id="EXFXSGSG", name="Example FX Provider",
                                            account=SETTLEMENT_ACCOUNT,
                                            opening_balance_minor=opening_minor)],
        merchants=[
            Merchant(proxy_type=ProxyType.MOBILE_NUMBER, proxy="0066812345678",
                     account=TEA_SHOP, legal_name="Siam Tea Co., Ltd."),
            Merchant(proxy_type=ProxyType.NATIONAL_IDENTITY_NUMBER, proxy="0105558123456",
                     account=NOODLES, legal_name="Bangkok Noodle House Co., Ltd.",
                     status=MerchantStatus.BLOCKED),
            Merchant(account=CRAFTS, legal_name="Chiang Mai Crafts",
                     status=MerchantStatus.CLOSED),
        ])


def credit_to(account: str = TEA_SHOP, amount_minor: int = 10_000, *,
              message_id: str | None = None, currency: str = "THB",
              agent: FinancialInstitution = FX_PROVIDER, proxy: Proxy | None = None,
              uetr: uuid.UUID | None = None) -> CreditTransfer:
    """A pacs.008 from the FX provider to a merchant's account number or proxy."""
    return CreditTransfer(
        message_id=message_id or f"FXP-{uuid.uuid4().hex[:20]}", created_at=NOW,
        end_to_end_id=f"E2E-{uuid.uuid4().hex[:20]}", uetr=uetr or uuid.uuid4(),
        settlement_amount=money(amount_minor, currency), settlement_date=date(2026, 3, 2),
        charge_bearer=ChargeBearer.SHARED, instructing_agent=agent, instructed_agent=SWITCH_AGENT,
        debtor=Party(name="Sok Dara", country_of_residence="KH"), debtor_agent=agent,
        creditor_agent=SWITCH_AGENT, creditor=Party(name="Merchant"),
        creditor_account=Account(number=account, proxy=proxy))


def lookup(account: Account) -> VerificationRequest:
    """An acmt.023 asking the switch who is behind `account`."""
    return VerificationRequest(
        assignment=Assignment(message_id=f"ACMT-{uuid.uuid4().hex[:20]}", created_at=NOW,
                              assigner=FX_PROVIDER, assignee=SWITCH_AGENT),
        verifications=(Verification("V1", PartyAndAccount(account=account)),))


@asynccontextmanager
async def running(config: SwitchConfig) -> AsyncIterator[PartnerSwitchClient]:
    """The switch served in-process, and a client connected to it."""
    async with TestServer(build_app(config)) as server, \
            PartnerSwitchClient(str(server.make_url(""))) as client:
        yield client


def scenario(directory: Path, work: Callable[[PartnerSwitchClient], Awaitable[None]],
             **options: Any) -> None:
    """Run `work` against a fresh switch in `directory`."""
    async def run() -> None:
        async with running(switch_config(directory, **options)) as client:
            await work(client)
    asyncio.run(run())


async def balances(client: PartnerSwitchClient) -> dict[str, int]:
    """Every account's balance, by account number."""
    return {a.account: a.balance_minor for a in (await client.accounts()).accounts}


def reason_of(report: PaymentStatusReport) -> ReasonCode | None:
    """The first reason code of a status report."""
    return report.reasons[0].code if report.reasons else None


# ---- confirmation of payee -----------------------------------------------------------------


def test_verified_payee_by_proxy_shows_the_masked_name(tmp_path: Path) -> None:
    """A known proxy, written the local way, is verified with the account and the masked name."""
    async def work(client: PartnerSwitchClient) -> None:
        proxy = Proxy(ProxyType.MOBILE_NUMBER, "+66-812345678")
        report = await client.verify(lookup(Account(proxy=proxy)))
        (result,) = report.results
        assert result.verified and result.reason is None
        assert result.display_name == "S*** T*** Co., Ltd."
        assert result.account_holder_name == "Siam Tea Co., Ltd."
        assert result.updated is not None and result.updated.account is not None
        assert result.updated.account.number == TEA_SHOP
        assert result.updated.account.currency == "THB"
        assert report.results[0].original_identification == "V1"
    scenario(tmp_path, work)


@pytest.mark.parametrize(("account", "reason"), [
    (Account(proxy=Proxy(ProxyType.MOBILE_NUMBER, "0066899999999")),
     ReasonCode.ACCOUNT_PROXY_INVALID),
    (Account(number="9999999999"), ReasonCode.INCORRECT_ACCOUNT_NUMBER),
    (Account(proxy=Proxy(ProxyType.MOBILE_NUMBER, "0066812345678"), number=NOODLES),
     ReasonCode.INCORRECT_ACCOUNT_NUMBER),
    (Account(proxy=Proxy(ProxyType.NATIONAL_IDENTITY_NUMBER, "0105558123456")),
     ReasonCode.BLOCKED_ACCOUNT),
    (Account(number=CRAFTS), ReasonCode.CLOSED_ACCOUNT_NUMBER),
], ids=["unknown-proxy", "unknown-number", "proxy-and-number-disagree", "blocked", "closed"])
def test_payee_not_verified(tmp_path: Path, account: Account, reason: ReasonCode) -> None:
    """Unknown, mismatched, blocked and closed payees are not verified, each with its ISO code."""
    async def work(client: PartnerSwitchClient) -> None:
        (result,) = (await client.verify(lookup(account))).results
        assert (result.verified, result.reason, result.display_name) == (False, reason, None)
    scenario(tmp_path, work)


@pytest.mark.parametrize(("legal_name", "shown"), [
    ("Siam Tea Co., Ltd.", "S*** T*** Co., Ltd."),
    ("Kedai Kopi Sdn. Bhd.", "K*** K*** Sdn. Bhd."),
    ("Cong Ty TNHH Pho Ha Noi", "Cong Ty TNHH P*** H*** N***"),
    ("Somchai", "S***"),
    ("ร้านกาแฟ ดี", "ร*** ด***"),
])
def test_masked_name(legal_name: str, shown: str) -> None:
    """The privacy rule keeps each word's first letter and the legal form, nothing else."""
    assert masked_name(legal_name) == shown


# ---- credit transfers ------------------------------------------------------------------------


def test_credit_moves_money_once_and_answers_accc(tmp_path: Path) -> None:
    """A credit transfer debits the settlement account, credits the merchant and answers ACCC."""
    async def work(client: PartnerSwitchClient) -> None:
        transfer = credit_to(TEA_SHOP, 12_345)
        report = await client.credit(transfer)
        assert report.status == TransactionStatus.ACCEPTED_CREDITOR_SETTLEMENT_COMPLETED
        assert (report.original_message_id, report.original_uetr) == (
            transfer.message_id, transfer.uetr)
        assert report.original_settlement_amount == money(12_345, "THB")
        after = await balances(client)
        assert after[SETTLEMENT_ACCOUNT] == OPENING_MINOR - 12_345
        assert after[TEA_SHOP] == 12_345
        assert (await client.account(TEA_SHOP)).balance_minor == 12_345
        assert (await client.accounts()).total_minor == OPENING_MINOR
    scenario(tmp_path, work)


def test_credit_with_proxy(tmp_path: Path) -> None:
    """A creditor account carrying its PromptPay proxy, written the local way, is credited."""
    async def work(client: PartnerSwitchClient) -> None:
        proxy = Proxy(ProxyType.MOBILE_NUMBER, "0812345678")
        report = await client.credit(credit_to(TEA_SHOP, 500, proxy=proxy))
        assert report.status == TransactionStatus.ACCEPTED_CREDITOR_SETTLEMENT_COMPLETED
        assert (await balances(client))[TEA_SHOP] == 500
    scenario(tmp_path, work)


@pytest.mark.parametrize(("transfer", "reason"), [
    (credit_to(TEA_SHOP, OPENING_MINOR + 1), ReasonCode.INSUFFICIENT_FUNDS),
    (credit_to(TEA_SHOP, 100, currency="MYR"), ReasonCode.TRANSACTION_NOT_SUPPORTED),
    (credit_to(TEA_SHOP, 100, agent=STRANGER), ReasonCode.BANK_IDENTIFIER_INCORRECT),
    (credit_to(TEA_SHOP, 0), ReasonCode.NOT_ALLOWED_AMOUNT),
    (credit_to("9999999999", 100), ReasonCode.INVALID_CREDITOR_ACCOUNT_NUMBER),
    (credit_to(TEA_SHOP, 100, proxy=Proxy(ProxyType.E_WALLET, "999999999999999")),
     ReasonCode.ACCOUNT_PROXY_INVALID),
    (credit_to(NOODLES, 100, proxy=Proxy(ProxyType.MOBILE_NUMBER, "0066812345678")),
     ReasonCode.INVALID_CREDITOR_ACCOUNT_NUMBER),
    (credit_to(CRAFTS, 100), ReasonCode.CLOSED_ACCOUNT_NUMBER),
], ids=["insufficient-funds", "wrong-currency", "unknown-debtor-agent", "zero-amount",
        "unknown-creditor", "unknown-proxy", "proxy-and-number-disagree", "closed-account"])
def test_rejected_credit_moves_nothing(tmp_path: Path, transfer: CreditTransfer,
                                       reason: ReasonCode) -> None:
    """Each refusal answers RJCT with its ISO reason code and leaves every balance as it was."""
    async def work(client: PartnerSwitchClient) -> None:
        before = await balances(client)
        report = await client.credit(transfer)
        assert (report.status, reason_of(report)) == (TransactionStatus.REJECTED, reason)
        assert await balances(client) == before
    scenario(tmp_path, work)


def test_blocked_merchant_payment_is_held(tmp_path: Path) -> None:
    """A payment to a blocked merchant answers BLCK AC06: debited, held, not credited."""
    async def work(client: PartnerSwitchClient) -> None:
        report = await client.credit(credit_to(NOODLES, 2_000))
        assert (report.status, reason_of(report)) == (TransactionStatus.BLOCKED,
                                                      ReasonCode.BLOCKED_ACCOUNT)
        after = await balances(client)
        assert (after[SETTLEMENT_ACCOUNT], after[HOLD], after[NOODLES]) == (
            OPENING_MINOR - 2_000, 2_000, 0)
    scenario(tmp_path, work)


def test_resend_is_answered_the_same_and_moves_money_once(tmp_path: Path) -> None:
    """The same pacs.008 sent three times gets the stored pacs.002 and is posted once."""
    async def work(client: PartnerSwitchClient) -> None:
        transfer = credit_to(TEA_SHOP, 3_000)
        answers = [await client.credit(transfer) for _ in range(3)]
        assert answers[0] == answers[1] == answers[2]  # same message id and time: stored
        after = await balances(client)
        assert (after[SETTLEMENT_ACCOUNT], after[TEA_SHOP]) == (OPENING_MINOR - 3_000, 3_000)
    scenario(tmp_path, work)


def test_resend_of_a_rejection_is_the_same_rejection(tmp_path: Path) -> None:
    """A rejected pacs.008 sent again gets the same stored RJCT, not a fresh decision."""
    async def work(client: PartnerSwitchClient) -> None:
        transfer = credit_to(TEA_SHOP, OPENING_MINOR + 1)
        first, second = await client.credit(transfer), await client.credit(transfer)
        assert first == second and reason_of(first) == ReasonCode.INSUFFICIENT_FUNDS
    scenario(tmp_path, work)


def test_same_message_id_other_content_is_dupl(tmp_path: Path) -> None:
    """A message id reused with another amount is rejected DUPL and the first posting stands."""
    async def work(client: PartnerSwitchClient) -> None:
        first = credit_to(TEA_SHOP, 1_000)
        await client.credit(first)
        report = await client.credit(replace(first, settlement_amount=money(9_000, "THB")))
        assert (report.status, reason_of(report)) == (TransactionStatus.REJECTED,
                                                      ReasonCode.DUPLICATE_PAYMENT)
        assert (await balances(client))[TEA_SHOP] == 1_000
        assert (await client.credit(first)).status == (
            TransactionStatus.ACCEPTED_CREDITOR_SETTLEMENT_COMPLETED)  # the original stands
    scenario(tmp_path, work)


def test_same_uetr_under_a_new_message_id_is_dupl(tmp_path: Path) -> None:
    """A payment posted once is not posted again when resent with a fresh message id."""
    async def work(client: PartnerSwitchClient) -> None:
        first = credit_to(TEA_SHOP, 1_000)
        await client.credit(first)
        report = await client.credit(replace(first, message_id="FXP-RESENT-0001"))
        assert reason_of(report) == ReasonCode.DUPLICATE_PAYMENT
        assert (await balances(client))[TEA_SHOP] == 1_000
    scenario(tmp_path, work)


def test_concurrent_credits_never_overdraw(tmp_path: Path) -> None:
    """Twenty concurrent credits worth 1.4 times the balance: the accepted ones fit, the rest
    are AM04, and the settlement account ends at the balance minus what was accepted."""
    amount = 7_000

    async def work(client: PartnerSwitchClient) -> None:
        reports = await asyncio.gather(*(client.credit(credit_to(TEA_SHOP, amount))
                                         for _ in range(20)))
        accepted = [r for r in reports
                    if r.status == TransactionStatus.ACCEPTED_CREDITOR_SETTLEMENT_COMPLETED]
        refused = {reason_of(r) for r in reports if r not in accepted}
        assert len(accepted) == OPENING_MINOR // amount
        assert refused == {ReasonCode.INSUFFICIENT_FUNDS}
        after = await balances(client)
        assert after[SETTLEMENT_ACCOUNT] == OPENING_MINOR - amount * len(accepted) >= 0
        assert after[TEA_SHOP] == amount * len(accepted)
    scenario(tmp_path, work)


def test_state_survives_a_restart(tmp_path: Path) -> None:
    """Balances and stored answers outlive the service: a resend after a restart moves nothing."""
    transfer = credit_to(TEA_SHOP, 4_000)

    async def before(client: PartnerSwitchClient) -> None:
        assert (await client.credit(transfer)).status == (
            TransactionStatus.ACCEPTED_CREDITOR_SETTLEMENT_COMPLETED)

    first: list[PaymentStatusReport] = []

    async def keep(client: PartnerSwitchClient) -> None:
        first.append(await client.credit(transfer))

    async def after(client: PartnerSwitchClient) -> None:
        assert await client.credit(transfer) == first[0]
        current = await balances(client)
        assert (current[SETTLEMENT_ACCOUNT], current[TEA_SHOP]) == (OPENING_MINOR - 4_000,
                                                                    4_000)

    scenario(tmp_path, before)
    scenario(tmp_path, keep)
    scenario(tmp_path, after)


# ---- the HTTP edge ---------------------------------------------------------------------------


async def post(client: PartnerSwitchClient, path: str, body: bytes,
               content_type: str = "application/xml") -> tuple[int, str, dict[str, Any]]:
    """A raw POST: status, media type and JSON body of the answer."""
    async with aiohttp.ClientSession() as session, session.post(
            f"{client.base_url}{path}", data=body,
            headers={"Content-Type": content_type}) as reply:
        return reply.status, reply.content_type, await reply.json(content_type=None)


@pytest.mark.parametrize(("path", "body", "status", "code"), [
    ("/iso20022/pacs.008", b"<Document", 400, "I0101"),
    ("/iso20022/pacs.008", build_credit_transfer(credit_to()).replace(b"SHAR", b"XXXX"), 400,
     "I0201"),
    ("/iso20022/pacs.008", build_verification_request(lookup(Account(number=TEA_SHOP))), 400,
     "I0104"),
    ("/iso20022/acmt.023", b'<!DOCTYPE d [<!ENTITY e "x">]><Document>&e;</Document>', 400,
     "I0102"),
    ("/iso20022/acmt.023", b"<a>" + b"x" * (256 * 1024) + b"</a>", 413,
     "request_entity_too_large"),
], ids=["not-xml", "schema-invalid", "wrong-message", "entities", "too-large"])
def test_bad_documents_are_problems(tmp_path: Path, path: str, body: bytes, status: int,
                                    code: str) -> None:
    """Malformed, invalid, misdirected, unsafe or oversized bodies get problem+json with a code."""
    async def work(client: PartnerSwitchClient) -> None:
        answer = await post(client, path, body)
        assert answer[:2] == (status, "application/problem+json")
        assert answer[2]["code"] == code and answer[2]["status"] == status
        assert (await client.accounts()).total_minor == OPENING_MINOR
    scenario(tmp_path, work)


def test_json_body_is_unsupported_media(tmp_path: Path) -> None:
    """A message route refuses anything but XML with 415 before reading it."""
    async def work(client: PartnerSwitchClient) -> None:
        status, media, problem = await post(client, "/iso20022/pacs.008", b"{}",
                                            "application/json")
        assert (status, media, problem["code"]) == (415, "application/problem+json",
                                                    "unsupported_media_type")
    scenario(tmp_path, work)


def test_client_errors_have_stable_codes(tmp_path: Path) -> None:
    """An unknown account answers not_found, and a switch that is down answers unreachable."""
    async def work(client: PartnerSwitchClient) -> None:
        with pytest.raises(ClientError) as missing:
            await client.account("no-such-account")
        assert (missing.value.status, missing.value.code) == (404, "not_found")
        async with PartnerSwitchClient(f"http://127.0.0.1:{free_port()}",
                                       timeout_s=2.0) as down:
            with pytest.raises(ClientError) as unreachable:
                await down.credit(credit_to())
        assert (unreachable.value.status, unreachable.value.code) == (0, "unreachable")
    scenario(tmp_path, work)


# ---- conservation ---------------------------------------------------------------------------

_MERCHANT_ACCOUNTS = (TEA_SHOP, NOODLES, CRAFTS, "9999999999")
credits = st.lists(st.tuples(
    st.sampled_from(_MERCHANT_ACCOUNTS), st.integers(min_value=0, max_value=40_000),
    st.sampled_from(("THB", "THB", "MYR")), st.sampled_from((FX_PROVIDER, STRANGER)),
    st.integers(min_value=0, max_value=5)), max_size=8)


def test_money_is_conserved_under_any_credits(tmp_path: Path) -> None:
    """Whatever credits arrive (accepted, held, refused, resent, reused ids), the switch's
    accounts always hold exactly the opening balances in total, none negative, and merchants
    and the hold account hold exactly what was accepted."""
    config = switch_config(tmp_path)
    store = SwitchStore(config.database, config.currency)
    switch = PartnerSwitch(config, store)
    store.seed(switch.seeds())
    moved = [0]

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(credits)
    def check(batch: list[tuple[str, int, str, FinancialInstitution, int]]) -> None:
        # A small pool of message ids, so resends and reused ids happen within a batch.
        pool = [f"PROP-{uuid.uuid4().hex[:16]}" for _ in range(6)]
        transfers = [credit_to(account, amount, currency=currency, agent=agent,
                               message_id=pool[index])
                     for account, amount, currency, agent, index in batch]

        async def send() -> None:
            for transfer in transfers:
                settled = await switch.credit(transfer)
                if settled.outcome.status in {
                        TransactionStatus.ACCEPTED_CREDITOR_SETTLEMENT_COMPLETED,
                        TransactionStatus.BLOCKED} and not settled.replayed:
                    moved[0] += transfer.settlement_amount.amount_minor
        asyncio.run(send())
        assert store.audit() == OPENING_MINOR
        accounts = {a.account: a.balance_minor for a in store.accounts()}
        assert min(accounts.values()) >= 0
        assert accounts[SETTLEMENT_ACCOUNT] == OPENING_MINOR - moved[0]
        assert accounts[TEA_SHOP] + accounts[NOODLES] + accounts[HOLD] == moved[0]

    try:
        check()
    finally:
        store.close()


# ---- configuration and command line ----------------------------------------------------------


def test_init_writes_a_config_that_loads(tmp_path: Path) -> None:
    """`partner-switch init` writes a sample configuration per scheme that loads and validates."""
    for scheme, currency in (("promptpay", "THB"), ("duitnow", "MYR"), ("vietqr", "VND")):
        result = CliRunner().invoke(partner_switch_app, ["init", "--dir", str(tmp_path),
                                                          "--scheme", scheme])
        assert result.exit_code == 0, result.output
        config = load_switch(tmp_path / f"{scheme}-switch.toml")
        assert (config.currency, len(config.merchants) >= 2) == (currency, True)
        assert config.database == f"sqlite:///{tmp_path.resolve() / f'{scheme}-switch.db'}"
    again = CliRunner().invoke(partner_switch_app, ["init", "--dir", str(tmp_path)])
    assert again.exit_code == 1


@pytest.mark.parametrize(("change", "message"), [
    ({"currency": "MYR"}, "promptpay settles in THB"),
    ({"merchants": [{"account": "1", "legal_name": "A", "proxy_type": "MBNO",
                     "proxy": "0812345678"}]}, "a mobile number written 0066"),
    ({"merchants": [{"account": "FXP-0001", "legal_name": "A"}]}, "account FXP-0001"),
    ({"merchants": [{"account": "1", "legal_name": "A", "proxy_type": "MBNO"}]},
     "proxy_type and proxy go together"),
], ids=["wrong-currency", "proxy-form", "duplicate-account", "proxy-half"])
def test_config_refuses_inconsistencies(tmp_path: Path, change: dict[str, Any],
                                        message: str) -> None:
    """A configuration that contradicts its scheme or itself is refused with why."""
    data = switch_config(tmp_path).model_dump() | change
    with pytest.raises(ValueError, match=message):
        SwitchConfig.model_validate(data)
