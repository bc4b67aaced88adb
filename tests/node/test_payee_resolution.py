"""The hub's proxy resolution against real systems served in-process.

Method: PromptPay and VietQR partner switch stand-ins and two central nodes (a KHR and a KZT
ledger) are built from fresh configurations on temporary SQLite files and served by aiohttp's
`TestServer`; the hub is registered as a participant of both ledgers, the bank `aba` registers
wallets in their directories, and a `HubConfig` names them all. `resolve` is then called as the
hub calls it.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from pydantic import ValidationError

from bridges.iso20022 import ProxyType
from bridges.qr import QrRequest, encode
from engine.keys import KeyPair
from node.client import NodeClient
from node.config import NodeConfig
from node.errors import NodeError
from node.hub_config import ChainSystem, HubConfig, LedgerSystem, SwitchSystem
from node.messages import RegisterParticipant, RegisterWallet, TokenWire
from node.partner_switch import build_app as switch_app
from node.partner_switch_config import (
    Merchant,
    MerchantStatus,
    Scheme,
    SettlementParticipant,
    SwitchConfig,
    sample_config,
)
from node.payee_resolution import ResolvedPayee, ResolveRequest, resolve
from node.processes import free_port
from node.server import build_app as node_app

TIMEOUT_S = 5.0
TEA_SHOP = "1234567890"


def key(name: str) -> KeyPair:
    """A deterministic key named for its holder."""
    return KeyPair.from_seed(hashlib.sha256(name.encode()).digest())


HUB, ABA = key("hub"), key("aba")
# Wallets registered by aba: (ledger currency, account, phone, display name).
WALLETS = (
    ("KHR", "sokha@aba", "+85512345678", "Sokha Chan"),
    ("KZT", "aigerim@aba", "+77011234567", "Aigerim Nurlanova"),
    ("KHR", "dara@aba", None, "Dara Sok"),
    ("KZT", "dara@aba", None, "Dara Sok"),  # the same account id on both ledgers
)


def promptpay_switch(folder: Path) -> SwitchConfig:
    """A PromptPay switch with an open merchant (by mobile proxy) and a blocked one."""
    return SwitchConfig(
        name="promptpay-switch", scheme=Scheme.PROMPTPAY, country="TH", currency="THB",
        agent_id="PROMPTPAY-SWITCH", port=0, database=f"sqlite:///{folder / 'switch.db'}",
        participants=[SettlementParticipant(agent_id="EXFXSGSG", name="Example FX Provider",
                                            account="FXP-0001", opening_balance_minor=100_000)],
        merchants=[
            Merchant(proxy_type=ProxyType.MOBILE_NUMBER, proxy="0066812345678",
                     account=TEA_SHOP, legal_name="Siam Tea Co., Ltd."),
            Merchant(proxy_type=ProxyType.NATIONAL_IDENTITY_NUMBER, proxy="0105558123456",
                     account="2345678901", legal_name="Bangkok Noodle House Co., Ltd.",
                     status=MerchantStatus.BLOCKED),
        ])


async def start_ledger(stack: AsyncExitStack, folder: Path, currency: str) -> LedgerSystem:
    """A central node issuing `currency`, with aba and the hub registered and aba's wallets of
    that currency in its directory."""
    central = key(f"central-{currency}")
    config = NodeConfig(role="central", name=f"central-{currency.lower()}", port=0,
                        currencies=[currency],
                        database=f"sqlite:///{folder / f'central-{currency}.db'}",
                        key_seed=hashlib.sha256(f"central-{currency}".encode()).hexdigest())
    server = await stack.enter_async_context(TestServer(node_app(config)))
    url = str(server.make_url("")).rstrip("/")
    async with NodeClient(url, central) as as_central, NodeClient(url, ABA) as as_aba:
        # The directory answers registered participants only: the hub is registered too.
        for registered in (RegisterParticipant(name="aba", role="bank", key=ABA.participant),
                           RegisterParticipant(name="hub", role="agency", key=HUB.participant)):
            await as_central.register_participant(registered)
        for wallet_currency, account, phone, display in WALLETS:
            if wallet_currency == currency:
                await as_aba.register_wallet(RegisterWallet(
                    key=key(f"{account}-{currency}").participant, account=account, phone=phone,
                    display_name=display, role="individual", kyc=1))
    return LedgerSystem(name=f"{currency.lower()}-ledger", currency=currency, url=url,
                        key=central.participant)


@asynccontextmanager
async def registry(folder: Path, *, switch_up: bool = True,
                   chains: int = 1) -> AsyncIterator[HubConfig]:
    """The systems running and the hub's registry naming them; a switch that is down is a
    port nothing listens on."""
    async with AsyncExitStack() as stack:
        if switch_up:
            server = await stack.enter_async_context(TestServer(switch_app(
                promptpay_switch(folder))))
            switch_url = str(server.make_url(""))
        else:
            switch_url = f"http://127.0.0.1:{free_port()}"
        vietqr = await stack.enter_async_context(TestServer(switch_app(sample_config(
            Scheme.VIETQR, 0, database=f"sqlite:///{folder / 'vietqr.db'}"))))
        ledgers = [await start_ledger(stack, folder, currency) for currency in ("KHR", "KZT")]
        token = TokenWire(contract="ab" * 32, token="jpyc")
        yield HubConfig(
            name="hub", port=0, database=f"sqlite:///{folder / 'hub.db'}",
            key_seed=hashlib.sha256(b"hub").hexdigest(), ledgers=ledgers,
            switches=[SwitchSystem(name="promptpay-switch", scheme=Scheme.PROMPTPAY,
                                   country="TH", currency="THB", url=switch_url,
                                   agent_id="EXFXSGSG"),
                      SwitchSystem(name="vietqr-switch", scheme=Scheme.VIETQR, country="VN",
                                   currency="VND", url=str(vietqr.make_url("")),
                                   agent_id="EXFXSGSG")],
            chains=[ChainSystem(name=f"chain-{n}", ledger="khr-ledger", bridge="bridge",
                                bridge_url="http://127.0.0.1:9", token=token)
                    for n in range(chains)])


def scenario(folder: Path, work: Callable[[HubConfig], Awaitable[None]], *,
             switch_up: bool = True, chains: int = 1) -> None:
    """Run `work` against freshly started systems."""
    async def run() -> None:
        async with registry(folder, switch_up=switch_up, chains=chains) as config:
            await work(config)
    asyncio.run(run())


async def resolved(config: HubConfig, proxy: str, system: str | None = None) -> ResolvedPayee:
    """`proxy` resolved as the hub resolves it."""
    return await resolve(config, ResolveRequest(proxy=proxy, system=system), HUB,
                         timeout_s=TIMEOUT_S)


async def refused(config: HubConfig, proxy: str, system: str | None = None) -> NodeError:
    """The error resolving `proxy` raises."""
    with pytest.raises(NodeError) as caught:
        await resolved(config, proxy, system)
    return caught.value


def promptpay(**account: str) -> str:
    """A PromptPay credit-transfer QR payload for `account`, asking for 150.00 THB."""
    return encode(QrRequest(scheme="promptpay", account=account, amount="150.00"))


# ---- QR codes toward the partner switch ------------------------------------------------------


def test_promptpay_qr_resolves_to_the_switch_merchant(tmp_path: Path) -> None:
    """A PromptPay code with the merchant's mobile (written the local way) is confirmed by the
    switch over acmt.023/024: the merchant's account number, its masked name and the amount."""
    async def work(config: HubConfig) -> None:
        payload = promptpay(promptpay_mobile="081-234-5678")
        payee = await resolved(config, payload + "\n")
        assert payee.proxy == payload
        assert payee.destination.model_dump() == {
            "kind": "switch", "system": "promptpay-switch", "account": TEA_SHOP}
        assert (payee.display_name, payee.currency, payee.amount_minor, payee.scheme) == (
            "S*** T*** Co., Ltd.", "THB", 15_000, "promptpay")
    scenario(tmp_path, work)


def test_vietqr_code_is_confirmed_by_account_number(tmp_path: Path) -> None:
    """A VietQR code names the merchant's account number (`Acct/Id/Othr/Id`), which the VietQR
    switch confirms with the masked name; the dong has no minor unit."""
    payload = encode(QrRequest(scheme="vietqr", account={
        "napas_bin": "970436", "account_number": "0123456789"}, amount="50000"))

    async def work(config: HubConfig) -> None:
        payee = await resolved(config, payload)
        assert payee.destination.model_dump() == {
            "kind": "switch", "system": "vietqr-switch", "account": "0123456789"}
        assert (payee.display_name, payee.currency, payee.amount_minor) == (
            "Cong Ty TNHH P*** H*** N***", "VND", 50_000)
    scenario(tmp_path, work)


@pytest.mark.parametrize(("account", "reason"), [
    ({"promptpay_mobile": "0066899999999"}, "BE23"),  # no merchant has the proxy
    ({"promptpay_national_id": "0105558123456"}, "AC06"),  # the merchant is blocked
])
def test_switch_refusal_is_payee_not_found_with_its_reason(
        tmp_path: Path, account: dict[str, str], reason: str) -> None:
    """A payee the switch does not confirm is 422 payee_not_found carrying the acmt.024's ISO
    reason code."""
    async def work(config: HubConfig) -> None:
        problem = (await refused(config, promptpay(**account))).problem
        assert (problem.status, problem.code, problem.extra["reason_code"]) == (
            422, "payee_not_found", reason)
    scenario(tmp_path, work)


def test_qr_without_a_system_or_route(tmp_path: Path) -> None:
    """A DuitNow code with no DuitNow switch in the registry is system_unknown; a PromptPay bill
    payment (no proxy a switch looks up) is qr_unsupported; a broken payload is qr_unreadable."""
    duitnow = encode(QrRequest(scheme="duitnow", account={
        "duitnow_acquirer_id": "501664", "duitnow_qr_id": "5123456789012"},
        merchant_name="Kedai", merchant_city="KL", merchant_category_code="5812"))
    bill = encode(QrRequest(scheme="promptpay", account={
        "promptpay_biller_id": "010555812345601", "promptpay_reference_1": "INV1"}))

    async def work(config: HubConfig) -> None:
        cases = [(duitnow, "system_unknown"), (bill, "qr_unsupported"),
                 (promptpay(promptpay_mobile="0812345678")[:-1] + "0", "qr_unreadable")]
        for payload, code in cases:
            problem = (await refused(config, payload)).problem
            assert (problem.status, problem.code) == (422, code), payload
    scenario(tmp_path, work)


def test_switch_that_is_down_is_system_unavailable(tmp_path: Path) -> None:
    """A switch nobody answers for is 502 system_unavailable naming it."""
    async def work(config: HubConfig) -> None:
        problem = (await refused(config, promptpay(promptpay_mobile="0812345678"))).problem
        assert (problem.status, problem.code, problem.extra["system"]) == (
            502, "system_unavailable", "promptpay-switch")
    scenario(tmp_path, work, switch_up=False)


# ---- account ids and phones on the Earmark ledgers -------------------------------------------


def test_account_id_phone_and_khqr_resolve_on_their_ledger(tmp_path: Path) -> None:
    """An account id, a phone number and a KHQR code naming the account id each resolve, by
    asking every ledger's directory, to the one wallet key with the name masked the switch's
    way; naming the ledger as `system` asks only it."""
    now_ms = 1_772_000_000_000
    khqr = encode(QrRequest(scheme="khqr", account={
        "bakong_account_id": "sokha@aba", "created_at_ms": str(now_ms),
        "expires_at_ms": str(now_ms + 600_000)}, merchant_name="Sokha", currency="KHR",
        amount="5000"))

    async def work(config: HubConfig) -> None:
        sokha = key("sokha@aba-KHR").participant
        by_account = await resolved(config, "sokha@aba")
        assert by_account.destination.model_dump() == {
            "kind": "ledger", "system": "khr-ledger", "account": sokha}
        assert (by_account.display_name, by_account.currency) == ("S*** C***", "KHR")
        by_phone = await resolved(config, "+77011234567")
        assert (by_phone.destination.system, by_phone.destination.account,
                by_phone.display_name) == ("kzt-ledger", key("aigerim@aba-KZT").participant,
                                           "A*** N***")
        by_qr = await resolved(config, khqr)
        assert (by_qr.destination.account, by_qr.amount_minor, by_qr.scheme) == (
            sokha, 500_000, "khqr")  # 5000 riel; ISO 4217 gives KHR two decimals
        named = await resolved(config, "dara@aba", system="kzt-ledger")
        assert named.destination.account == key("dara@aba-KZT").participant
    scenario(tmp_path, work)


def test_ledger_lookups_that_find_none_or_several(tmp_path: Path) -> None:
    """An account id on two ledgers is 409 payee_ambiguous listing both; one on none is 404
    payee_not_found; a `system` that is no ledger is system_unknown."""
    async def work(config: HubConfig) -> None:
        ambiguous = (await refused(config, "dara@aba")).problem
        assert (ambiguous.status, ambiguous.code, ambiguous.extra["systems"]) == (
            409, "payee_ambiguous", ["khr-ledger", "kzt-ledger"])
        missing = (await refused(config, "nobody@aba")).problem
        assert (missing.status, missing.code) == (404, "payee_not_found")
        unknown = (await refused(config, "sokha@aba", system="promptpay-switch")).problem
        assert (unknown.status, unknown.code) == (422, "system_unknown")
    scenario(tmp_path, work)


def test_ledger_that_is_down_is_system_unavailable(tmp_path: Path) -> None:
    """When one ledger does not answer, a lookup across all ledgers is 502 system_unavailable
    naming it (it might hold a second payee), even though the other ledger found one."""
    async def work(config: HubConfig) -> None:
        down = config.ledgers[1].model_copy(update={"url": f"http://127.0.0.1:{free_port()}"})
        broken = config.model_copy(update={"ledgers": [config.ledgers[0], down]})
        problem = (await refused(broken, "sokha@aba")).problem
        assert (problem.status, problem.code, problem.extra["system"]) == (
            502, "system_unavailable", "kzt-ledger")
    scenario(tmp_path, work)


# ---- chains and the rest ---------------------------------------------------------------------


def test_evm_address_resolves_to_the_only_chain(tmp_path: Path) -> None:
    """An `evm:` or bare address resolves to the only chain, checksummed and shown shortened;
    a wrong checksum is proxy_unrecognised and so is garbage."""
    address = "0x52908400098527886e0f7030069857d2e4169ee7"

    async def work(config: HubConfig) -> None:
        for proxy in (f"evm:{address}", address.upper().replace("0X", "0x")):
            payee = await resolved(config, proxy)
            assert payee.destination.model_dump() == {
                "kind": "chain", "system": "chain-0",
                "account": "0x52908400098527886E0F7030069857D2E4169EE7"}
            assert (payee.display_name, payee.currency) == ("0x5290…9EE7", "KHR")
        for garbage in ("0x52908400098527886E0F7030069857d2e4169ee7", "hello", "+0123",
                        "sokha@", "0x1234"):
            assert (await refused(config, garbage)).problem.code == "proxy_unrecognised"
    scenario(tmp_path, work)


def test_evm_address_with_several_chains_is_ambiguous(tmp_path: Path) -> None:
    """With two chains an address is 409 payee_ambiguous unless `system` names one."""
    address = "0x52908400098527886E0F7030069857D2E4169EE7"

    async def work(config: HubConfig) -> None:
        problem = (await refused(config, address)).problem
        assert (problem.status, problem.code, problem.extra["systems"]) == (
            409, "payee_ambiguous", ["chain-0", "chain-1"])
        assert (await resolved(config, address, "chain-1")).destination.system == "chain-1"
    scenario(tmp_path, work, chains=2)


def test_request_limits() -> None:
    """A proxy longer than a QR payload, or a `system` that is no name, is refused at the
    edge by the wire model."""
    assert ResolveRequest(proxy="x" * 512).proxy == "x" * 512
    with pytest.raises(ValidationError):
        ResolveRequest(proxy="x" * 513)
    with pytest.raises(ValidationError):
        ResolveRequest(proxy="sokha@aba", system="Not A Name")
