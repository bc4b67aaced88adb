"""The white paper's domestic story, run against real nodes: what `make demo` shows and what the
end-to-end tests check.

Digital Tenge style: the central bank issues KZT to two banks against reserves; a bank funds the
ministry of health, which deploys `health_benefit`, labels money and distributes it; customers
of different banks pay each other by phone number; the benefit pays a clinic and is refused at a
grocery (with the deciding rule and reason); Bakong's tier-1 daily limit refuses a payment until
the bank re-verifies the customer; a customer cashes out; a bank redeems; the statistics add up;
and the isolation of the two tiers holds. Every step checks what it expects and stops the story
with `StoryFailure` otherwise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import aiohttp

from dsl.facts import Party
from dsl.money import format_minor
from engine.ids import ContractHash, ParticipantId
from engine.keys import KeyPair
from engine.model import TokenRef
from node.client import ClientError, Expected, NodeClient, check_prepared
from node.ledger_wallet import LedgerWallet
from node.local_network import CENTRAL_NAME, LocalNetwork
from node.messages import (
    CashOutRequest,
    ContractUpload,
    DirectoryQuery,
    Distribution,
    IssuanceRequest,
    OpenCustomer,
    PaymentRequest,
    PayTo,
    RegisterParticipant,
    ReserveDeposit,
    Reverify,
    TokenWire,
)
from node.request_signing import sign_request
from node.story import Report, StoryFailure, expect, run_steps

CURRENCY: Final = "KZT"
BANKS: Final = ("halyk", "kaspi")
MINISTRY: Final = "ministry-of-health"
CONTRACT: Final = Path(__file__).parents[1] / "contracts" / "health_benefit.earmark"
ISSUED_MINOR: Final = 1_000_000_000  # 10 000 000.00 KZT to each bank


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer of one of the banks and their wallet key (which never leaves them)."""

    name: str
    bank: str
    role: str = "individual"
    mcc: int = 0
    phone: str | None = None
    kyc_tier: int = 1
    key: KeyPair = field(default_factory=KeyPair.generate)

    @property
    def account(self) -> str:
        """`name@bank`."""
        return f"{self.name}@{self.bank}"


@dataclass
class Story:
    """The network, the people in it, and what the steps learn along the way."""

    network: LocalNetwork
    ministry_key: KeyPair = field(default_factory=KeyPair.generate)
    health: TokenRef | None = None
    customers: dict[str, Customer] = field(default_factory=lambda: {
        "alice": Customer("alice", "halyk", phone="+77010000001"),
        "bob": Customer("bob", "kaspi", phone="+77020000002", kyc_tier=2),
        "clinic": Customer("clinic", "halyk", "merchant", 8062, kyc_tier=3),
        "grocery": Customer("grocery", "kaspi", "merchant", 5411, kyc_tier=3),
    })

    def bank_url(self, bank: str) -> str:
        """Where a bank node answers."""
        return self.network.banks[bank].url

    def customer_client(self, name: str) -> NodeClient:
        """A customer's client of their own bank."""
        customer = self.customers[name]
        return NodeClient(self.bank_url(customer.bank), customer.key)

    @property
    def health_wire(self) -> TokenWire:
        """The HEALTH token as the API names it."""
        if self.health is None:
            raise StoryFailure("health", "the contract is not deployed yet")
        return TokenWire(contract=self.health.contract, token=self.health.token)


Step = tuple[str, Callable[[Story], Awaitable[str]]]


def kzt(amount_minor: int) -> str:
    """An amount as people read it."""
    return format_minor(amount_minor, CURRENCY)


async def register_and_issue(story: Story) -> str:
    """The central bank registers the ministry, credits reserves and issues to each bank."""
    network = story.network
    async with NodeClient(network.central.url, network.key(CENTRAL_NAME)) as central:
        await central.register_participant(RegisterParticipant(
            name=MINISTRY, role="agency", key=story.ministry_key.participant))
        for bank in BANKS:
            await central.deposit_reserves(ReserveDeposit(bank=bank, currency=CURRENCY,
                                                          amount_minor=ISSUED_MINOR))
    for bank in BANKS:
        async with NodeClient(network.central.url, network.key(bank)) as client:
            outcome = await client.request_issuance(IssuanceRequest(
                currency=CURRENCY, amount_minor=ISSUED_MINOR))
            expect(outcome.status == "committed", "issuance", outcome.code)
    return f"{kzt(ISSUED_MINOR)} issued to each of {', '.join(BANKS)} against reserves"


async def open_customers(story: Story) -> str:
    """Each bank opens its customers with their KYC facts and wallet keys."""
    for customer in story.customers.values():
        async with NodeClient(story.bank_url(customer.bank),
                              story.network.key(customer.bank)) as operator:
            await operator.open_customer(OpenCustomer(
                name=customer.name, display_name=f"{customer.name.title()} Nurlanova",
                role="merchant" if customer.role == "merchant" else "individual",
                mcc=customer.mcc, phone=customer.phone, kyc_tier=customer.kyc_tier,
                key=customer.key.participant))
    return ", ".join(c.account for c in story.customers.values())


async def distribute_to_alice(story: Story) -> str:
    """halyk moves 200 000 KZT from its holdings into alice's wallet."""
    async with NodeClient(story.bank_url("halyk"), story.network.key("halyk")) as operator:
        payment = await operator.distribute(Distribution(account="alice@halyk",
                                                         currency=CURRENCY,
                                                         amount_minor=20_000_000))
    expect(payment.status == "committed", "distribution", payment.code)
    return f"{kzt(20_000_000)} distributed to alice@halyk"


async def ministry_labels_and_distributes(story: Story) -> str:
    """The ministry deploys health_benefit, is funded by halyk, labels and distributes."""
    async with NodeClient(story.network.central.url, story.ministry_key) as client:
        deployed = await client.upload_contract(ContractUpload(
            source=CONTRACT.read_text(encoding="utf-8"), filename=CONTRACT.name))
        story.health = TokenRef(ContractHash(deployed.hash), "HEALTH")
        async with NodeClient(story.network.central.url, story.network.key("halyk")) as bank:
            funded = await LedgerWallet(bank, "halyk", role="bank").pay(
                ParticipantId(story.ministry_key.participant), Party(MINISTRY, "agency"),
                100_000_000, CURRENCY)
        expect(funded.status == "committed", "funding the ministry", funded.code)
        ministry = LedgerWallet(client, MINISTRY)
        labelled = await ministry.label(story.health, 60_000_000, CURRENCY)
        expect(labelled.status == "committed", "label", labelled.code)
        given = await ministry.distribute(DirectoryQuery(account="alice@halyk"), story.health,
                                          10_000_000, CURRENCY)
        expect(given.status == "committed", "distribute", given.code)
    return (f"contract {deployed.name} v{deployed.version} ({deployed.hash[:12]}…); "
            f"{kzt(60_000_000)} labelled HEALTH, {kzt(10_000_000)} of it to alice@halyk")


async def transfer_by_phone(story: Story) -> str:
    """alice (halyk) pays bob (kaspi) by his phone number: across banks, online."""
    async with story.customer_client("alice") as alice:
        paid = await alice.pay(PaymentRequest(to=PayTo(phone="+77020000002"),
                                              currency=CURRENCY, amount_minor=500_000))
    expect(paid.status == "committed", "transfer", paid.code)
    return f"{kzt(500_000)} alice@halyk → {paid.counterparty} by phone: committed"


async def clinic_purchase(story: Story) -> str:
    """alice pays the clinic with HEALTH money: allowed; the clinic receives plain KZT."""
    async with story.customer_client("alice") as alice:
        paid = await alice.pay(PaymentRequest(to=PayTo(account="clinic@halyk"),
                                              currency=CURRENCY, amount_minor=2_000_000,
                                              token=story.health_wire))
    expect(paid.status == "committed", "clinic purchase", paid.code)
    return f"{kzt(2_000_000)} of HEALTH at clinic@halyk (MCC 8062): committed"


async def grocery_refused(story: Story) -> str:
    """alice tries HEALTH money at a grocery: the contract refuses, naming rule and reason."""
    refusal = await _refusal(story, "alice", PaymentRequest(
        to=PayTo(account="grocery@kaspi"), currency=CURRENCY, amount_minor=300_000,
        token=story.health_wire))
    expect(refusal.code == "purpose_not_allowed" and refusal.rule is not None,
           "grocery purchase", refusal.code)
    return _refusal_text(refusal)


async def gift_refused(story: Story) -> str:
    """alice tries to send HEALTH money to bob: the contract's `deny transfer` refuses."""
    refusal = await _refusal(story, "alice", PaymentRequest(
        to=PayTo(account="bob@kaspi"), currency=CURRENCY, amount_minor=100_000,
        token=story.health_wire))
    expect(refusal.code == "purpose_not_allowed" and refusal.rule is not None,
           "HEALTH transfer", refusal.code)
    return _refusal_text(refusal)


async def daily_limit(story: Story) -> str:
    """alice at KYC tier 1 (USD 250 a day, 125 000 KZT) signs 125 000 KZT more today: refused;
    the bank re-verifies her to tier 2 and the same prepared payment, signed again, commits."""
    request = PaymentRequest(to=PayTo(account="bob@kaspi"), currency=CURRENCY,
                             amount_minor=12_500_000)
    async with story.customer_client("alice") as alice:
        prepared = await alice.prepare_payment(request)
        check_prepared(prepared, Expected(request.amount_minor, CURRENCY, None,
                                          alice.key.participant))
        try:
            await alice.sign_prepared(prepared)
            raise StoryFailure("tier-1 limit", "the payment was not refused")
        except ClientError as refused:
            expect(refused.code == "kyc_limit_exceeded", "tier-1 limit", refused.code)
        async with NodeClient(story.bank_url("halyk"), story.network.key("halyk")) as operator:
            await operator.reverify("alice@halyk", Reverify(kyc_tier=2))
        paid = await alice.sign_prepared(prepared)
    expect(paid.status == "committed", "after re-verification", paid.code)
    return "tier 1: refused (kyc_limit_exceeded); re-verified to tier 2, signed again: committed"


async def cash_out(story: Story) -> str:
    """bob returns 5 000 KZT from his wallet to his deposit at kaspi."""
    async with story.customer_client("bob") as bob:
        paid = await bob.cash_out(CashOutRequest(currency=CURRENCY, amount_minor=500_000))
    expect(paid.status == "committed", "cash-out", paid.code)
    return f"{kzt(500_000)} bob@kaspi → kaspi: committed"


async def _refusal(story: Story, payer: str, request: PaymentRequest) -> ClientError:
    async with story.customer_client(payer) as client:
        try:
            paid = await client.pay(request)
        except ClientError as refused:
            return refused
    raise StoryFailure("refusal", f"the payment was {paid.status}, not refused")


def _refusal_text(refusal: ClientError) -> str:
    rule = refusal.rule or {}
    return (f"refused: {refusal.code} by `{rule.get('name')}` "
            f"({rule.get('contract')}:{rule.get('line')}): {refusal.reason}")


async def redemption(story: Story) -> str:
    """kaspi returns 1 000 000 KZT to the central bank for reserves."""
    network = story.network
    async with NodeClient(network.central.url, network.key("kaspi")) as bank:
        outcome = await LedgerWallet(bank, "kaspi", role="bank").redeem(
            100_000_000, CURRENCY, Party(CENTRAL_NAME, "central_bank"))
        reserves = await bank.reserves("kaspi", CURRENCY)
    expect(outcome.status == "committed", "redemption", outcome.code)
    return f"{kzt(100_000_000)} redeemed; kaspi's reserves now {kzt(reserves.amount_minor)}"


async def statistics(story: Story) -> str:
    """The central bank's statistics: supply is what was issued less what was redeemed."""
    network = story.network
    async with NodeClient(network.central.url, network.key(CENTRAL_NAME)) as central:
        figures = await central.statistics()
    supply = sum(item.supply_minor for item in figures.items if item.currency == CURRENCY)
    expected = len(BANKS) * ISSUED_MINOR - 100_000_000
    expect(supply == expected, "supply", f"supply {supply}, expected {expected}")
    earmarked = figures.earmarked_minor.get(CURRENCY, 0)
    return (f"supply {kzt(supply)} (issued less redeemed), of which {kzt(earmarked)} "
            f"earmarked")


async def isolation(story: Story) -> str:
    """kaspi cannot read halyk's customer; bob cannot read alice; a replayed, forged or stale
    request is refused."""
    network = story.network
    halyk = story.bank_url("halyk")
    async with NodeClient(halyk, network.key("kaspi")) as kaspi:
        await _forbidden(kaspi.customer("alice@halyk"), "kaspi reading alice")
    async with NodeClient(story.bank_url("kaspi"), story.customers["bob"].key) as bob:
        await _forbidden(bob.customer("grocery@kaspi"), "bob reading the grocery")
    alice = story.customers["alice"].key
    codes = []
    async with aiohttp.ClientSession() as session:
        path = "/customers/alice@halyk"
        headers = sign_request(alice, "GET", path, b"")
        for attempt in (headers, headers, {**headers, "Earmark-Signature": "00" * 64},
                        sign_request(alice, "GET", path, b"", now_s=1_000_000_000)):
            async with session.get(halyk + path, headers=attempt) as answer:
                codes.append(answer.status if answer.status == 200 else (
                    await answer.json())["code"])
    expect(codes == [200, "auth_replayed", "auth_bad_signature", "auth_stale"],
           "signed requests", str(codes))
    return "403 across banks and customers; replayed, forged and stale requests refused"


async def _forbidden(call: Awaitable[object], step: str) -> None:
    try:
        await call
    except ClientError as refused:
        expect(refused.status == 403, step, refused.code)
        return
    raise StoryFailure(step, "was allowed")


STEPS: Final[tuple[Step, ...]] = (
    ("Issuance: reserves credited, KZT issued to two banks", register_and_issue),
    ("Customers opened at both banks (KYC tier, phone, MCC)", open_customers),
    ("Distribution from a bank into a wallet", distribute_to_alice),
    ("The ministry labels health_benefit money and distributes it",
     ministry_labels_and_distributes),
    ("An online transfer by phone number, across banks", transfer_by_phone),
    ("A purchase at a clinic with HEALTH money: allowed", clinic_purchase),
    ("A purchase at a grocery with HEALTH money: refused", grocery_refused),
    ("Sending HEALTH money to a person: refused", gift_refused),
    ("Bakong's daily limit by KYC tier", daily_limit),
    ("Cash-out back to the bank", cash_out),
    ("Redemption for reserves", redemption),
    ("Monetary statistics", statistics),
    ("Isolation between the tiers", isolation),
)


async def run(network: LocalNetwork, report: Report) -> None:
    """Every step in order against a started network; `report(title, outcome)` after each."""
    await run_steps(Story(network), STEPS, report)
