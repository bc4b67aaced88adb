"""`earmark bench hub`: cross-border payments per second through the devnet, and their latency
from arrival to final status, over loopback against every piece as a real process.

Set-up (not timed): a fresh devnet (`node.devnet`) starts in a folder; aba opens the senders
at KYC tier 3 and distributes KHR to each in several notes, enough for its share of the
payments. Timed: an open-loop arrival process offers the payments at a fixed rate (payment `i`
arrives at `t0 + i / rate`, whether or not the earlier ones are done) to the senders in turn;
each sender makes its payments one after another (a customer's payments serialise at its bank
anyway): the hub's quote for 100.00 THB to the open PromptPay merchant, then `pay_abroad`
(order, lock the source through aba, report; the switch route is final within the report).
A payment's latency runs from its arrival to its final status, so it includes the time it
waited for its sender while the system was behind; the time from the sender starting it is
shown apart. Outcomes are counted by status and code, every one that is not ACCC shown beside
the ACCC ones.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

from dsl.money import format_minor
from engine.keys import KeyPair
from node import config as node_config
from node.client import ClientError, NodeClient
from node.cpu_clock import (
    CORES,
    CpuClock,
    cpu_bound_per_s,
    cpu_budget_ms,
    cpu_figures,
    cpu_line,
)
from node.devnet import Devnet
from node.devnet_plan import BRIDGE, HUB, KHR_ISSUED_MINOR, SWITCH
from node.errors import NodeError
from node.fx_quotes import Fixed
from node.http_bench import distribute_notes, open_customer, percentile_ms
from node.http_service import run_loop
from node.hub_client import HubClient, pay_abroad
from node.hub_messages import HubQuoteRequest
from node.partner_switch_config import MerchantStatus
from node.settlement_messages import Destination

HUB_TARGET_PER_S: Final = 100
HUB_TARGET_P99_MS: Final = 1_000.0
_TARGET_CPU_MS: Final = cpu_budget_ms(HUB_TARGET_PER_S)
HERE: Final = "bench (senders, chain, bridge)"  # the chain and the bridge run in its threads
# The processes that stand for systems outside Earmark: the senders' phones (the chain and the
# bridge share their process but do nothing in this bench) and the foreign switch's stand-in.
OUTSIDE: Final = (HERE, SWITCH)
PAYMENTS_MAX: Final = 5_000  # what aba's issuance and the providers' baht pay for, with room
SENDERS_MAX: Final = 256
# As many senders as allowed by default: at 100/s each then pays about every 2.6 s, so the
# payments queue behind the system rather than behind a few people paying one at a time.
SENDERS_DEFAULT: Final = SENDERS_MAX
RATE_MAX_PER_S: Final = 1_000.0
SENDER_BANK: Final = "aba"
SOURCE_CURRENCY: Final = "KHR"
DESTINATION_CURRENCY: Final = "THB"
DESTINATION_MINOR: Final = 10_000  # 100.00 THB to the merchant, fixed on the destination side
SENDER_KYC_TIER: Final = 3
NOTES_PER_SENDER: Final = 4
# Each sender is funded for its share of the payments at the set-up quote's debit times this,
# so a dearer quote during the run (the other provider's, once one's baht run short) still fits.
FUNDING_MARGIN: Final = 1.25
FINAL_WAIT_S: Final = 30.0  # how long a reported payment may take to reach a final status
PROGRESS_EVERY_S: Final = 2.0
COMPLETED: Final = "ACCC"


@dataclass(frozen=True, slots=True)
class HubBenchPlan:
    """What to offer: how many payments, at what rate, by how many senders."""

    payments: int
    rate_per_s: float
    senders: int

    def arrival_s(self, index: int) -> float:
        """When payment `index` arrives, from the start of the run."""
        return index / self.rate_per_s

    def share(self, sender: int) -> range:
        """The payments of `sender` (round robin), in arrival order."""
        return range(sender, self.payments, self.senders)


@dataclass(frozen=True, slots=True)
class HubBenchResult:
    """What `earmark bench hub` measured."""

    directory: str
    plan: HubBenchPlan
    debit_minor: int  # KHR the set-up quote debits for one payment
    seconds: float  # from the first arrival to the last final status
    latencies_s: list[float]  # arrival to ACCC, one per completed payment
    outcomes: dict[str, int]  # every payment by status (and code), or by error code
    waits_s: list[float]  # each payment's wait for its sender to be free, 0 when none
    service_s: list[float]  # its sender starting it to ACCC, one per completed payment
    cpu_s: dict[str, float] | None = None  # CPU seconds by process while paying, if reported

    @property
    def completed(self) -> int:
        """Payments that ended ACCC."""
        return len(self.latencies_s)

    @property
    def per_second(self) -> float:
        """Completed payments per second of the run."""
        return self.completed / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, object]:
        """The `--json` form."""
        p99 = percentile_ms(self.latencies_s, 99)
        return {
            "directory": self.directory, "payments": self.plan.payments,
            "offered_per_s": self.plan.rate_per_s, "senders": self.plan.senders,
            "destination_minor": DESTINATION_MINOR, "debit_minor": self.debit_minor,
            "completed": self.completed, "outcomes": dict(sorted(self.outcomes.items())),
            "seconds": round(self.seconds, 3), "payments_per_s": round(self.per_second, 2),
            "p50_ms": round(percentile_ms(self.latencies_s, 50), 1), "p99_ms": round(p99, 1),
            "max_ms": round(max(self.latencies_s, default=0.0) * 1000, 1),
            "service_p50_ms": round(percentile_ms(self.service_s, 50), 1),
            "service_p99_ms": round(percentile_ms(self.service_s, 99), 1),
            "waited": sum(1 for wait in self.waits_s if wait > 0),
            "max_wait_ms": round(max(self.waits_s, default=0.0) * 1000, 1),
            "target_per_s": HUB_TARGET_PER_S,
            "ratio_to_target": round(self.per_second / HUB_TARGET_PER_S, 3),
            "target_p99_ms": HUB_TARGET_P99_MS,
            "p99_ratio_to_target": round(p99 / HUB_TARGET_P99_MS, 3),
            "cores": CORES, "target_cpu_ms_per_payment": round(_TARGET_CPU_MS, 3),
            **self._cpu(),
        }

    def _cpu(self) -> dict[str, object]:
        """The CPU figures, and those of Earmark's own services without the processes in
        `OUTSIDE`: what a deployment spends, where the senders and the foreign switch run
        elsewhere."""
        figures = cpu_figures(self.cpu_s, self.completed)
        by_process = figures.get("cpu_ms_per_payment_by_process")
        if not isinstance(by_process, dict):
            return figures
        own_ms = sum(ms for name, ms in by_process.items() if name not in OUTSIDE)
        return {**figures, "earmark_cpu_ms_per_payment": round(own_ms, 3),
                "earmark_cpu_bound_per_s": round(cpu_bound_per_s(own_ms), 1)}

    def lines(self) -> list[str]:
        """The human form."""
        figures = self.as_dict()
        outcomes = ", ".join(f"{key} {count:,}" for key, count in sorted(self.outcomes.items()))
        return [
            f"earmark bench hub: {SOURCE_CURRENCY} at {SENDER_BANK} -> {HUB} -> provider -> "
            f"{SWITCH} merchant, {format_minor(DESTINATION_MINOR, DESTINATION_CURRENCY)} "
            f"each (debit {format_minor(self.debit_minor, SOURCE_CURRENCY)}); the devnet as "
            f"real processes on 127.0.0.1 in {self.directory}",
            f"offered: {self.plan.payments:,} payments at {self.plan.rate_per_s:g}/s, open loop "
            f"(payment i arrives at i/rate) to {self.plan.senders} senders in turn, each paying "
            "one at a time",
            f"outcomes: {outcomes} ({self.completed:,} completed)",
            f"payments/s: {figures['payments_per_s']} completed over {self.seconds:.2f} s, "
            f"first arrival to last final status (target {HUB_TARGET_PER_S}/s: "
            f"{figures['ratio_to_target']:.2f}x)",
            f"latency, arrival to ACCC (quote, order, lock, report): p50 {figures['p50_ms']} ms, "
            f"p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms (target p99 < "
            f"{HUB_TARGET_P99_MS:g} ms: {figures['p99_ratio_to_target']:.2f}x)",
            f"queueing: {figures['waited']:,} payments waited for a busy sender, the longest "
            f"{figures['max_wait_ms']} ms (included in the latency); from the sender starting "
            f"it to ACCC: p50 {figures['service_p50_ms']} ms, p99 {figures['service_p99_ms']} ms",
            *cpu_line(figures),
            *self._earmark_line(figures),
            f"the target leaves {_TARGET_CPU_MS:.2f} ms of CPU per payment on {CORES} cores",
        ]

    @staticmethod
    def _earmark_line(figures: dict[str, object]) -> list[str]:
        if "earmark_cpu_ms_per_payment" not in figures:
            return []
        return [f"of which Earmark's own services {figures['earmark_cpu_ms_per_payment']:.2f} "
                f"ms (at most {figures['earmark_cpu_bound_per_s']:,} payments/s with all "
                f"{CORES} cores busy); the rest is the senders' process and the {SWITCH} "
                "stand-in, which stand for systems outside Earmark"]


def check_plan(plan: HubBenchPlan) -> None:
    """Refuse a plan outside the bench's limits (the command line checks them too)."""
    if not (1 <= plan.payments <= PAYMENTS_MAX and 1 <= plan.senders <= SENDERS_MAX
            and 0 < plan.rate_per_s <= RATE_MAX_PER_S):
        raise NodeError(400, "bench_plan_invalid", "Plan outside the limits",
                        f"payments 1..{PAYMENTS_MAX}, senders 1..{SENDERS_MAX}, rate "
                        f"(0, {RATE_MAX_PER_S:g}] per second")


def run(plan: HubBenchPlan, folder: Path | None,
        progress: Callable[[str], None]) -> HubBenchResult:
    """Start a fresh devnet in `folder` (default a temporary one), set up the senders, time
    the payments, and stop the devnet (also on error or Ctrl-C)."""
    check_plan(plan)
    with _workspace(folder) as where:
        devnet = Devnet.open(where, fresh=True)
        progress(f"starting the devnet in {where} (11 pieces)…")
        try:
            devnet.start()
            result = run_loop(_bench(devnet, plan, progress))
        finally:
            progress("stopping the devnet…")
            devnet.stop()
    return replace(result, directory=str(where))


@contextmanager
def _workspace(folder: Path | None) -> Iterator[Path]:
    """`folder`, or a temporary one (`Devnet.open` refuses a folder that is not a devnet's)."""
    if folder is not None:
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="earmark-bench-hub-") as scratch:
        yield Path(scratch) / "devnet"


@dataclass(frozen=True, slots=True)
class _Sender:
    """One sender's signed connections to the hub and to its bank, and its quote request
    (naming its account: the hub quotes for registered senders only)."""

    hub: HubClient
    bank: NodeClient
    request: HubQuoteRequest


async def _bench(devnet: Devnet, plan: HubBenchPlan,
                 progress: Callable[[str], None]) -> HubBenchResult:
    progress(f"opening {plan.senders} senders at {SENDER_BANK} (KYC tier {SENDER_KYC_TIER})…")
    wallets = await _open_senders(devnet, plan)
    request = HubQuoteRequest(sender_account=wallets[0][1], source_currency=SOURCE_CURRENCY,
                              destination=_merchant(devnet), fixed=Fixed.DESTINATION,
                              amount_minor=DESTINATION_MINOR)
    async with HubClient(devnet.url(HUB), wallets[0][0]) as hub:
        debit = (await hub.quote(request)).quote.source.amount_minor
    note = _note_minor(devnet, plan, debit)
    progress(f"funding each with {NOTES_PER_SENDER} notes of "
             f"{format_minor(note, SOURCE_CURRENCY)}…")
    await _fund(devnet, [account for _, account in wallets], note)
    progress(f"paying: {plan.payments:,} payments offered at {plan.rate_per_s:g}/s to "
             f"{plan.senders} senders…")
    async with AsyncExitStack() as stack:
        senders = [_Sender(await stack.enter_async_context(HubClient(devnet.url(HUB), wallet)),
                           await stack.enter_async_context(
                               NodeClient(devnet.url(SENDER_BANK), wallet)),
                           request.model_copy(update={"sender_account": account}))
                   for wallet, account in wallets]
        cpu = CpuClock({piece.name: await stack.enter_async_context(
                            NodeClient(piece.url, KeyPair.generate()))
                        for piece in devnet.manifest.pieces if piece.name != BRIDGE}, HERE)
        await cpu.start()
        tally = await _time(senders, plan, progress)
        cpu_s = await cpu.spent()
    return HubBenchResult("", plan, debit, tally.seconds, tally.latencies_s,
                          dict(tally.outcomes), tally.waits_s, tally.service_s, cpu_s)


def _merchant(devnet: Devnet) -> Destination:
    """The switch's open sample merchant."""
    account = next(m.account for m in devnet.manifest.merchants
                   if m.status == MerchantStatus.OPEN)
    return Destination(kind="switch", system=SWITCH, account=account)


def _note_minor(devnet: Devnet, plan: HubBenchPlan, debit_minor: int) -> int:
    """One note of a sender; refuses funding that aba cannot give or its limits would stop."""
    budget = math.ceil(len(plan.share(0)) * debit_minor * FUNDING_MARGIN)
    note = math.ceil(budget / NOTES_PER_SENDER)
    bank = node_config.load(devnet.config_path(SENDER_BANK))
    limit = bank.daily_limit(SOURCE_CURRENCY, SENDER_KYC_TIER)
    total = note * NOTES_PER_SENDER * plan.senders
    if total > KHR_ISSUED_MINOR or len(plan.share(0)) * debit_minor > limit:
        raise NodeError(400, "bench_too_large", "Senders cannot be funded",
                        f"{plan.senders} senders need {total} {SOURCE_CURRENCY} (minor) of "
                        f"{SENDER_BANK}'s {KHR_ISSUED_MINOR}, each spending up to its daily "
                        f"limit {limit}: offer fewer payments")
    return note


async def _open_senders(devnet: Devnet, plan: HubBenchPlan) -> list[tuple[KeyPair, str]]:
    """aba opens each sender (`sender-<i>`): its wallet key and account."""
    wallets = [KeyPair.generate() for _ in range(plan.senders)]
    async with NodeClient(devnet.url(SENDER_BANK), devnet.key(SENDER_BANK)) as operator:
        return [(wallet, await open_customer(operator, f"sender-{index}", wallet,
                                             kyc_tier=SENDER_KYC_TIER))
                for index, wallet in enumerate(wallets)]


async def _fund(devnet: Devnet, accounts: list[str], note_minor: int) -> None:
    """aba distributes each sender's notes."""
    async with NodeClient(devnet.url(SENDER_BANK), devnet.key(SENDER_BANK)) as operator:
        for account in accounts:
            await distribute_notes(operator, account, SOURCE_CURRENCY, note_minor,
                                   NOTES_PER_SENDER)


@dataclass
class _Tally:
    """The timed run's shared state (one event loop: no locking)."""

    started: float
    seconds: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    waits_s: list[float] = field(default_factory=list)
    service_s: list[float] = field(default_factory=list)

    def line(self, plan: HubBenchPlan) -> str:
        """A progress line."""
        elapsed = time.perf_counter() - self.started
        arrived = min(plan.payments, math.floor(elapsed * plan.rate_per_s) + 1)
        done = sum(self.outcomes.values())
        return (f"  {elapsed:6.1f} s: {arrived:,} arrived, {done:,} final ({self.completed:,} "
                f"ACCC), {arrived - done:,} in flight or waiting")

    @property
    def completed(self) -> int:
        """Payments that ended ACCC so far."""
        return len(self.latencies_s)


async def _time(senders: list[_Sender], plan: HubBenchPlan,
                progress: Callable[[str], None]) -> _Tally:
    tally = _Tally(time.perf_counter())
    reporter = asyncio.create_task(_report(tally, plan, progress))
    try:
        await asyncio.gather(*(_send(sender, plan.share(index), plan, tally)
                               for index, sender in enumerate(senders)))
    finally:
        reporter.cancel()
    tally.seconds = time.perf_counter() - tally.started
    return tally


async def _report(tally: _Tally, plan: HubBenchPlan, progress: Callable[[str], None]) -> None:
    while True:
        await asyncio.sleep(PROGRESS_EVERY_S)
        progress(tally.line(plan))


async def _send(sender: _Sender, share: range, plan: HubBenchPlan, tally: _Tally) -> None:
    """Make `share`'s payments one after another, each no earlier than its arrival."""
    for index in share:
        arrival = tally.started + plan.arrival_s(index)
        free = time.perf_counter()
        # Measured before sleeping: the sleep's own lateness is the bench's, not a wait.
        tally.waits_s.append(max(0.0, free - arrival))
        # asyncio's sleep may end a clock tick early: a payment never begins before it arrives.
        while (begun := time.perf_counter()) < arrival:
            await asyncio.sleep(arrival - begun)
        outcome = await _pay(sender)
        tally.outcomes[outcome] += 1
        if outcome == COMPLETED:
            ended = time.perf_counter()
            tally.latencies_s.append(ended - arrival)
            tally.service_s.append(ended - begun)


async def _pay(sender: _Sender) -> str:
    """Quote, order, lock, report, wait: the payment's final status (with its code), or the
    code of the error that stopped it."""
    try:
        offer = await sender.hub.quote(sender.request)
        paid = await pay_abroad(sender.hub, sender.bank, offer.quote.id, timeout_s=FINAL_WAIT_S)
    except ClientError as error:
        return f"error {error.code}"
    return f"{paid.status} {paid.code}" if paid.code else paid.status
