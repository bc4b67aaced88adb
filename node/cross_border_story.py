"""The cross-border story on the devnet (docs/hub.md): what `make demo` shows after the domestic
story, and what the cross-border end-to-end test checks.

A buyer in Cambodia holds riel at aba. She scans a Thai merchant's PromptPay QR code; the hub
confirms the payee (a masked name) and the amount, gathers the FX providers' quotes and shows
her what will be debited and credited; she approves and the PromptPay switch credits the
merchant (ACCC). She then pays a Japanese seller in yen stablecoin on the EVM chain: the
provider pays through the bridge, which locks stablecoin from its on-chain float, the hub has
the bridge relay the on-chain claim, and the seller's address holds the yen. Last, every
provider's holdings are shown, the supply of every ledger is what was issued, and the bridge's
vault holds exactly the bridged supply. Every step checks what it expects and stops the story
with `StoryFailure` otherwise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final, TypeVar

from eth_account import Account

from bridges.iso20022.codes import ProxyType
from bridges.qr import QrRequest, encode
from dsl.money import format_minor
from engine.keys import KeyPair
from node.bridge_cli import open_bridge
from node.bridge_reconcile import reconcile
from node.bridge_service import BridgeClient
from node.client import NodeClient
from node.devnet import Devnet
from node.devnet_plan import (
    BRIDGE,
    CHAIN,
    HUB,
    JPY_LIQUIDITY_MINOR,
    LEDGERS,
    PROVIDERS,
    SWITCH,
    SWITCH_OPENING_MINOR,
    LedgerPlan,
)
from node.fx_quotes import Fixed
from node.hub_client import HubClient, pay_abroad
from node.hub_messages import HubPaymentWire, HubQuoteRequest, HubQuoteWire
from node.messages import Distribution, OpenCustomer
from node.partner_switch_client import PartnerSwitchClient
from node.partner_switch_config import Merchant, MerchantStatus
from node.payee_resolution import ResolvedPayee, ResolveRequest
from node.story import Report, StoryFailure, expect, run_steps

T = TypeVar("T")
SOURCE: Final = "KHR"
BANK: Final = "aba"
BUYER: Final = "sreymom"
BUYER_ACCOUNT: Final = f"{BUYER}@{BANK}"  # the hub quotes for her by this registered account
BUYER_FUNDS_MINOR: Final = 100_000_000  # 1 000 000.00 KHR, about 245 USD
QR_AMOUNT: Final = "150.00"  # THB, the merchant's dynamic QR code
QR_AMOUNT_MINOR: Final = 15_000  # the same in satang
SELLER_AMOUNT_MINOR: Final = 20_000  # JPY (no minor unit), about 135 USD
# Who should win each corridor, by the devnet's prices (node/devnet_plan.py `PROVIDERS`).
WINNERS: Final = {"THB": "acleda-fx", "JPY": "kbank-fx"}
SETTLE_TIMEOUT_S: Final = 60.0  # a payment reaches a final status within this


@dataclass
class CrossBorderStory:
    """The devnet, the buyer's wallet key, and what the steps learn along the way."""

    devnet: Devnet
    buyer: KeyPair = field(default_factory=KeyPair.generate)
    seller_address: str = field(default_factory=lambda: str(Account.create().address))
    payees: dict[str, ResolvedPayee] = field(default_factory=dict)  # by destination currency
    quotes: dict[str, HubQuoteWire] = field(default_factory=dict)  # by destination currency

    def hub(self) -> HubClient:
        """The buyer's client of the hub."""
        return HubClient(self.devnet.url(HUB), self.buyer)

    def bank(self) -> NodeClient:
        """The buyer's client of her bank."""
        return NodeClient(self.devnet.url(BANK), self.buyer)

    def central(self, plan: LedgerPlan) -> NodeClient:
        """The central bank's client of its ledger."""
        return NodeClient(self.devnet.url(plan.central), self.devnet.key(plan.central))

    def payee(self, currency: str) -> ResolvedPayee:
        """The payee resolved for `currency`, by an earlier step."""
        return _learned(self.payees.get(currency), f"the {currency} payee")

    def quote(self, currency: str) -> HubQuoteWire:
        """The quote chosen toward `currency`, by an earlier step."""
        return _learned(self.quotes.get(currency), f"the {currency} quote")


Step = tuple[str, Callable[[CrossBorderStory], Awaitable[str]]]


def _learned(value: T | None, what: str) -> T:
    if value is None:
        raise StoryFailure(what, "the step that finds it has not run")
    return value


def _lines(*lines: str) -> str:
    return "\n".join(lines)


def _ledger(currency: str) -> LedgerPlan:
    return next(plan for plan in LEDGERS if plan.currency == currency)


def khr(amount_minor: int) -> str:
    """Riel as people read it."""
    return format_minor(amount_minor, SOURCE)


async def buyer_riel(story: CrossBorderStory) -> int:
    """What the buyer's wallet holds of plain riel, as her bank shows it (locked notes apart)."""
    async with story.bank() as bank:
        held = await bank.customer_balances(BUYER_ACCOUNT)
    return sum(b.amount_minor for b in held.balances if b.currency == SOURCE and b.token is None)


async def open_buyer(story: CrossBorderStory) -> str:
    """aba opens the buyer with her wallet key and moves riel from its holdings to her wallet."""
    async with NodeClient(story.devnet.url(BANK), story.devnet.key(BANK)) as operator:
        opened = await operator.open_customer(OpenCustomer(
            name=BUYER, display_name="Sreymom Chan", phone="+85512345678", kyc_tier=2,
            key=story.buyer.participant))
        given = await operator.distribute(Distribution(account=opened.account, currency=SOURCE,
                                                       amount_minor=BUYER_FUNDS_MINOR))
    expect(given.status == "committed", "distribution", given.code)
    held = await buyer_riel(story)
    expect(held == BUYER_FUNDS_MINOR, "distribution", f"the wallet holds {khr(held)}")
    return f"{opened.account} (KYC tier 2) holds {khr(held)} in her wallet"


def open_merchant(story: CrossBorderStory) -> Merchant:
    """The switch's open sample merchant reachable by a mobile number."""
    found = next((m for m in story.devnet.manifest.merchants
                  if m.status == MerchantStatus.OPEN and m.proxy_type == ProxyType.MOBILE_NUMBER
                  and m.proxy is not None), None)
    if found is None:
        raise StoryFailure("the open PromptPay merchant", "the devnet's switch lists none")
    return found


async def scan_merchant_qr(story: CrossBorderStory) -> str:
    """The buyer scans the merchant's dynamic PromptPay QR; the hub asks the switch who it is
    (acmt.023) and shows the masked name and the code's amount."""
    merchant = open_merchant(story)
    payload = encode(QrRequest(scheme="promptpay",
                               account={"promptpay_mobile": merchant.proxy or ""},
                               amount=QR_AMOUNT))
    async with story.hub() as hub:
        payee = await hub.resolve(ResolveRequest(proxy=payload))
    destination = payee.destination
    expect(destination.kind == "switch" and destination.system == SWITCH
           and destination.account == merchant.account, "resolving the QR",
           f"destination {destination}")
    amount = _learned(payee.amount_minor, "the QR code's amount")
    expect(amount == QR_AMOUNT_MINOR and payee.currency == "THB", "resolving the QR",
           f"amount {amount} {payee.currency}")
    expect(payee.display_name != merchant.legal_name, "confirmation of payee",
           "the full legal name was shown")
    story.payees["THB"] = payee
    return _lines(f"QR {payload[:40]}… ({payee.scheme}, {len(payload)} characters)",
                  f"pay {payee.display_name} (account {destination.account} at {SWITCH}): "
                  f"{format_minor(amount, payee.currency)}")


async def quote_toward(story: CrossBorderStory, currency: str) -> str:
    """The hub's best quote for the payee's amount in `currency`, fixed on the destination
    side: the lines the buyer approves, the winner, the refused and skipped quotes."""
    payee = story.payee(currency)
    amount = _learned(payee.amount_minor, f"the {currency} amount")
    async with story.hub() as hub:
        offer = await hub.quote(HubQuoteRequest(sender_account=BUYER_ACCOUNT,
                                                source_currency=SOURCE,
                                                destination=payee.destination,
                                                fixed=Fixed.DESTINATION, amount_minor=amount))
    chosen = offer.quote
    expect(chosen.destination.amount_minor == amount and chosen.source.currency == SOURCE,
           f"quote toward {currency}", f"{chosen.source} → {chosen.destination}")
    expect(chosen.provider == WINNERS[currency], f"quote toward {currency}",
           f"{chosen.provider} won, not {WINNERS[currency]}")
    story.quotes[currency] = offer
    refused = [f"{r.provider} by `{r.rule}`: {r.reason}" for r in offer.refused]
    skipped = [f"{s.provider} ({s.why}: {s.detail})" for s in offer.skipped]
    return _lines(*offer.lines, f"won: {chosen.provider}",
                  f"refused: {'; '.join(refused) or 'none'}",
                  f"skipped: {'; '.join(skipped) or 'none'}")


async def quote_merchant(story: CrossBorderStory) -> str:
    """The quote for the merchant's baht (see `quote_toward`)."""
    return await quote_toward(story, "THB")


async def quote_seller(story: CrossBorderStory) -> str:
    """The quote for the seller's yen (see `quote_toward`)."""
    return await quote_toward(story, "JPY")


async def pay(story: CrossBorderStory, currency: str) -> tuple[HubPaymentWire, int]:
    """Approve the quote toward `currency` and lock the source leg through aba; the final
    payment (checked ACCC) and the riel it debited (checked to be exactly the quoted)."""
    offer = story.quote(currency)
    before = await buyer_riel(story)
    async with story.hub() as hub, story.bank() as bank:
        paid = await pay_abroad(hub, bank, offer.quote.id, timeout_s=SETTLE_TIMEOUT_S)
    expect(paid.status == "ACCC", f"paying toward {currency}",
           f"{paid.status} {paid.code} {paid.detail}".strip())
    debited = before - await buyer_riel(story)
    expect(debited == offer.quote.source.amount_minor, f"paying toward {currency}",
           f"{khr(debited)} debited, {khr(offer.quote.source.amount_minor)} quoted")
    return paid, debited


async def pay_merchant(story: CrossBorderStory) -> str:
    """The buyer approves; the switch credits the merchant exactly the quoted baht."""
    account = story.payee("THB").destination.account
    async with PartnerSwitchClient(story.devnet.url(SWITCH)) as switch:
        before = (await switch.account(account)).balance_minor
        paid, debited = await pay(story, "THB")
        after = await switch.account(account)
    credited = story.quote("THB").quote.destination.amount_minor
    expect(after.balance_minor - before == credited, "the merchant's credit",
           f"{after.balance_minor - before} credited, {credited} quoted")
    return _lines(f"payment {paid.id}: {paid.status}",
                  f"merchant {after.holder} ({account}) at {SWITCH}: "
                  f"{format_minor(after.balance_minor, after.currency)}",
                  f"{BUYER_ACCOUNT} debited {khr(debited)}, exactly as quoted")


async def resolve_seller(story: CrossBorderStory) -> str:
    """The seller's EVM address, resolved through the hub: the chain and a shortened name."""
    proxy = f"evm:{story.seller_address}"
    async with story.hub() as hub:
        payee = await hub.resolve(ResolveRequest(proxy=proxy))
    destination = payee.destination
    expect(destination.kind == "chain" and destination.system == CHAIN
           and destination.account == story.seller_address, "resolving the address",
           f"destination {destination}")
    story.payees["JPY"] = payee.model_copy(update={"amount_minor": SELLER_AMOUNT_MINOR})
    return (f"{proxy} → {payee.display_name} on {CHAIN} ({payee.currency}); the invoice: "
            f"{format_minor(SELLER_AMOUNT_MINOR, payee.currency)}")


async def pay_seller(story: CrossBorderStory) -> str:
    """The buyer approves; the provider pays through the bridge, the hub has the bridge relay
    the on-chain claim (ACCC), and the seller's address holds the quoted yen stablecoin."""
    paid, debited = await pay(story, "JPY")
    credited = story.quote("JPY").quote.destination.amount_minor
    async with BridgeClient(story.devnet.url(BRIDGE), story.buyer) as bridge:
        held = await bridge.balance(story.seller_address)
    expect(held.amount_minor == credited, "the seller's stablecoin",
           f"{held.amount_minor} on chain, {credited} quoted")
    return _lines(f"payment {paid.id}: {paid.status}",
                  f"{held.address} holds {format_minor(held.amount_minor, held.currency)} of "
                  "stablecoin on chain",
                  f"{BUYER_ACCOUNT} debited {khr(debited)}, exactly as quoted")


async def provider_holdings(story: CrossBorderStory) -> str:
    """Each provider's money on every ledger and at the switch: each holds exactly the riel of
    the quotes it won (it held none before), and its account at the switch paid exactly their
    baht."""
    chain = _learned(story.devnet.manifest.chain, "the chain")
    lines = []
    for provider in PROVIDERS:
        won = [q.quote for q in story.quotes.values() if q.quote.provider == provider.name]
        held = {plan.currency: await _held(story, plan, provider.name) for plan in LEDGERS}
        debited = sum(q.source.amount_minor for q in won)
        expect(held[SOURCE] == debited, f"{provider.name}'s riel",
               f"{khr(held[SOURCE])}, its quotes debited {khr(debited)}")
        async with PartnerSwitchClient(story.devnet.url(SWITCH)) as switch:
            at_switch = await switch.account(f"{provider.agent_id}-THB")
        paid = sum(q.destination.amount_minor for q in won if q.destination.currency == "THB")
        expect(at_switch.balance_minor == SWITCH_OPENING_MINOR - paid,
               f"{provider.name}'s account at {SWITCH}",
               f"{at_switch.balance_minor}, opened with {SWITCH_OPENING_MINOR}, paid {paid}")
        shown = [format_minor(amount, currency) for currency, amount in held.items()]
        lines.append(f"{provider.name}: {', '.join(shown)} (as {chain.token.token}) on the "
                     "ledgers; "
                     f"{format_minor(at_switch.balance_minor, at_switch.currency)} at {SWITCH}")
    return _lines(*lines)


async def _held(story: CrossBorderStory, plan: LedgerPlan, owner: str) -> int:
    """What `owner` holds on the ledger of `plan`: plain money, or on the chain's ledger the
    bridged token."""
    chain = story.devnet.manifest.chain
    token = chain.token if chain is not None and chain.ledger == plan.system else None
    async with story.central(plan) as central:
        found = await central.balances(story.devnet.key(owner).participant)
    return sum(b.amount_minor for b in found.balances
               if b.currency == plan.currency and b.token == token)


async def supply_conserved(story: CrossBorderStory) -> str:
    """Each central bank's statistics: the supply is what was issued (to the banks, or by the
    bridge against the providers' deposits); payments moved money, never made or lost any."""
    lines = []
    for plan in LEDGERS:
        # The chain's ledger is issued by the bridge, against the providers' deposits.
        issued = plan.issued_minor * len(plan.banks) if not plan.fresh_each_start \
            else JPY_LIQUIDITY_MINOR * len(PROVIDERS)
        async with story.central(plan) as central:
            figures = await central.statistics()
        supply = sum(item.supply_minor for item in figures.items
                     if item.currency == plan.currency)
        expect(supply == issued, f"the {plan.currency} supply",
               f"{supply}, issued {issued}")
        lines.append(f"{plan.system}: supply {format_minor(supply, plan.currency)} = issued"
                     + (" by the bridge" if plan.fresh_each_start else ""))
    return _lines(*lines)


async def vault_reconciled(story: CrossBorderStory) -> str:
    """The bridge's vault on chain holds the JPY ledger's bridged supply plus what is in
    flight (`earmark bridge reconcile`, against the devnet's chain)."""
    host = _learned(story.devnet.host, "the chain host")
    config = _learned(host.config, "the bridge's configuration")
    async with open_bridge(config, host.chain) as bridge:
        found = await reconcile(bridge)
    expect(found.ok, "reconciliation", f"vault {found.vault_minor}, expected "
           f"{found.expected_minor}")
    currency = config.currency
    return _lines(f"at block {found.block}: vault {format_minor(found.vault_minor, currency)}",
                  f"= supply {format_minor(found.supply_minor, currency)} + deposits in flight "
                  f"{found.deposits_in_flight_minor} + payouts in flight "
                  f"{found.payouts_in_flight_minor}: reconciled")


STEPS: Final[tuple[Step, ...]] = (
    ("A buyer in Cambodia: opened at aba, riel in her wallet", open_buyer),
    ("She scans a Thai merchant's PromptPay QR: confirmation of payee", scan_merchant_qr),
    ("The hub's best quote for the merchant's baht", quote_merchant),
    ("Paid: the PromptPay switch credits the merchant", pay_merchant),
    ("A Japanese seller's wallet address: confirmation of payee", resolve_seller),
    ("The hub's best quote for the seller's yen stablecoin", quote_seller),
    ("Paid in yen stablecoin: the bridge relays the claim on chain", pay_seller),
    ("Each provider's holdings per ledger", provider_holdings),
    ("Supply conserved on every ledger", supply_conserved),
    ("The bridge's vault holds the bridged supply", vault_reconciled),
)


async def run(devnet: Devnet, report: Report) -> None:
    """Every step in order against a started, fresh devnet; `report(title, outcome)` after
    each."""
    await run_steps(CrossBorderStory(devnet), STEPS, report)

