"""`earmark bench http`: customer payments through a commercial bank to the central bank, timed
end to end over loopback against the nodes as real processes.

Set-up (not timed): a central bank and one commercial bank are configured with fresh keys,
started as `earmark node start` processes on SQLite files, and the bank is registered, given
reserves and issued money; the operator opens as many payers as clients and as many payees, and
distributes plain KHR to each payer in several notes. Timed: one task per payer, each with its
own `NodeClient`, pays its payee (prepare, check, sign: two requests) until the payments asked
for are made; each committed payment's latency runs from the start of its preparation to the
committed answer. Refusals are counted by code, apart from the committed payments.

Then, with the nodes stopped, the floor (`node.http_floor`): the same clients make as many
signed round trips against a server that only authenticates them, which bounds what the bench
can reach on this machine.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

from engine.keys import KeyPair
from node import config as node_config
from node import http_floor
from node.client import ClientError, NodeClient
from node.config import CentralLink, NodeConfig
from node.cpu_clock import CORES, CpuClock, cpu_budget_ms, cpu_figures, cpu_line
from node.errors import NodeError
from node.http_floor import Floor
from node.http_service import run_loop
from node.kyc_limits import KYC_TIERS
from node.messages import (
    Distribution,
    IssuanceRequest,
    OpenCustomer,
    PaymentRequest,
    PayTo,
    RegisterParticipant,
    ReserveDeposit,
)
from node.processes import NodeProcess, free_port

HTTP_TARGET_PER_S: Final = 3_000
HTTP_TARGET_P99_MS: Final = 50.0
_TARGET_CPU_MS: Final = cpu_budget_ms(HTTP_TARGET_PER_S)
PAYMENTS_MAX: Final = 1_000_000
CLIENTS_MAX: Final = 256
REQUESTS_PER_PAYMENT: Final = 2  # prepare, then sign
CURRENCY: Final = "KHR"
PAYMENT_MINOR: Final = 1_000  # 10.00 KHR
# Several notes per payer, so a payment whose change is not yet committed never leaves the
# payer without a free note to spend.
NOTES_PER_PAYER: Final = 4
DAILY_LIMIT_MINOR: Final = 2**62  # at every KYC tier: the limit never stops the bench
CENTRAL_NAME: Final = "bench-central"
BANK_NAME: Final = "bench-bank"
DATABASE_FILES: Final = (f"{CENTRAL_NAME}.db", f"{BANK_NAME}.db")


@dataclass(frozen=True, slots=True)
class HttpBenchResult:
    """What `earmark bench http` measured."""

    database_dir: str
    payments: int  # attempted: committed plus refused
    seconds: float
    latencies_s: list[float]  # one per committed payment
    refusals: dict[str, int]  # refused payments by code
    clients: int
    cpu_s: dict[str, float] | None = None  # CPU seconds by process while paying, if reported
    floor: Floor | None = None  # measured after the payments

    @property
    def committed(self) -> int:
        """Payments committed."""
        return len(self.latencies_s)

    @property
    def per_second(self) -> float:
        """Committed payments per second."""
        return self.committed / self.seconds

    def _percentile_ms(self, percent: int) -> float:
        return percentile_ms(self.latencies_s, percent)

    def as_dict(self) -> dict[str, object]:
        """The `--json` form."""
        p99 = self._percentile_ms(99)
        return {
            "database_dir": self.database_dir, "payments": self.payments,
            "committed": self.committed, "refused": sum(self.refusals.values()),
            "refusals": dict(sorted(self.refusals.items())), "clients": self.clients,
            "seconds": round(self.seconds, 3), "payments_per_s": round(self.per_second),
            "requests_per_s": round(self.per_second * REQUESTS_PER_PAYMENT),
            "p50_ms": round(self._percentile_ms(50), 2), "p99_ms": round(p99, 2),
            "target_per_s": HTTP_TARGET_PER_S,
            "ratio_to_target": round(self.per_second / HTTP_TARGET_PER_S, 3),
            "target_p99_ms": HTTP_TARGET_P99_MS,
            "p99_ratio_to_target": round(p99 / HTTP_TARGET_P99_MS, 3),
            "cores": CORES, "target_cpu_ms_per_payment": round(_TARGET_CPU_MS, 3),
            **cpu_figures(self.cpu_s, self.committed), **self._floor_figures(),
        }

    def _floor_figures(self) -> dict[str, object]:
        if self.floor is None:
            return {}
        floor_per_s = self.floor.payments_per_s(REQUESTS_PER_PAYMENT)
        figures: dict[str, object] = {
            "floor_round_trips_per_s": round(self.floor.round_trips_per_s),
            "floor_payments_per_s": round(floor_per_s),
            "floor_ratio": round(self.per_second / floor_per_s, 3)}
        round_trips_ms = self.floor.cpu_ms_per_payment(REQUESTS_PER_PAYMENT)
        if round_trips_ms is not None:
            figures["floor_cpu_ms_per_payment"] = round(round_trips_ms, 3)
        return figures

    def lines(self) -> list[str]:
        """The human form."""
        figures = self.as_dict()
        refusals = ", ".join(f"{code} {count:,}" for code, count in sorted(self.refusals.items()))
        return [
            f"earmark bench http: customer -> {BANK_NAME} -> {CENTRAL_NAME}, real processes on "
            f"127.0.0.1, SQLite in {self.database_dir}",
            f"payments: {self.payments:,} ({self.committed:,} committed, "
            f"{figures['refused']:,} refused{': ' + refusals if refusals else ''}) in "
            f"{self.seconds:.2f} s by {self.clients} concurrent clients",
            f"payments/s: {figures['payments_per_s']:,} (target {HTTP_TARGET_PER_S:,}: "
            f"{figures['ratio_to_target']:.2f}x)",
            f"requests/s: {figures['requests_per_s']:,} ({REQUESTS_PER_PAYMENT} per payment: "
            "prepare, sign)",
            f"latency p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms (target p99 < "
            f"{HTTP_TARGET_P99_MS:g} ms: {figures['p99_ratio_to_target']:.2f}x)",
            *self._cpu_lines(figures),
        ]

    def _cpu_lines(self, figures: dict[str, object]) -> list[str]:
        lines = cpu_line(figures)
        if self.floor is not None:
            lines.append(
                f"floor: {figures['floor_payments_per_s']:,} payments/s "
                f"({figures['floor_round_trips_per_s']:,} signed round trips/s by the same "
                "clients against a server that only authenticates them); the bench did "
                f"{figures['floor_ratio']:.2f}x the floor")
        round_trips_ms = figures.get("floor_cpu_ms_per_payment")
        if isinstance(round_trips_ms, float):
            left_ms = _TARGET_CPU_MS - round_trips_ms
            rest = (f"leaving {left_ms:.2f} ms for everything else a payment does" if left_ms > 0
                    else f"{-left_ms:.2f} ms over before a payment does anything else")
            lines.append(
                f"the target leaves {_TARGET_CPU_MS:.2f} ms of CPU per payment on {CORES} cores; "
                f"the floor's {REQUESTS_PER_PAYMENT} round trips alone take {round_trips_ms:.2f} "
                f"ms: {rest}")
        return lines


@dataclass(frozen=True, slots=True)
class _Network:
    """The two node processes, not started yet."""

    central: NodeProcess
    bank: NodeProcess


def _node(config: NodeConfig, folder: Path) -> NodeProcess:
    path = folder / f"{config.name}.toml"
    node_config.write(config, path)
    return NodeProcess(config, path, folder / f"{config.name}.log")


def _network(folder: Path) -> _Network:
    """Configurations on free ports, with limits no payment of the bench reaches."""
    central = node_config.fresh("central", CENTRAL_NAME, free_port(), [CURRENCY],
                                database=f"sqlite:///{folder / DATABASE_FILES[0]}")
    link = CentralLink(url=f"http://{central.host}:{central.port}", key=central.key.participant)
    bank = node_config.fresh("bank", BANK_NAME, free_port(), [CURRENCY],
                             database=f"sqlite:///{folder / DATABASE_FILES[1]}", central=link)
    bank = bank.model_copy(update={
        "daily_limits": {CURRENCY: [DAILY_LIMIT_MINOR] * len(KYC_TIERS)}})
    return _Network(_node(central, folder), _node(bank, folder))


@contextmanager
def _workspace(folder: Path | None) -> Iterator[Path]:
    """`folder` (which must not hold a previous run's databases), or a temporary one."""
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="earmark-bench-http-") as scratch:
            yield Path(scratch)
        return
    taken = [name for name in DATABASE_FILES if (folder / name).exists()]
    if taken:
        raise NodeError(400, "database_exists", "Databases exist",
                        f"{folder} holds {', '.join(taken)} of an earlier run; choose an empty "
                        "folder")
    folder.mkdir(parents=True, exist_ok=True)
    yield folder


@dataclass(frozen=True, slots=True)
class _Plan:
    """How many payments, by how many clients, each payer's funding."""

    payments: int
    clients: int

    @property
    def note_minor(self) -> int:
        """One note of a payer: enough for every payment even if one client made them all."""
        return self.payments * PAYMENT_MINOR

    @property
    def issued_minor(self) -> int:
        """What the bank needs to fund every payer."""
        return self.clients * NOTES_PER_PAYER * self.note_minor


def run(payments: int, clients: int, folder: Path | None,
        progress: Callable[[str], None]) -> HttpBenchResult:
    """Set up the nodes and customers, time the payments, stop the nodes (also on error)."""
    plan = _Plan(payments, clients)
    with _workspace(folder) as where:
        network = _network(where)
        started: list[NodeProcess] = []
        try:
            for node in (network.central, network.bank):
                progress(f"starting {node.config.name} on {node.url}…")
                started.append(node)  # before start: one that never got ready is stopped too
                node.start()
            result = run_loop(_bench(network, plan, progress))
        finally:
            for node in reversed(started):
                node.stop()
        # The floor runs alone, after the nodes stopped: nothing else takes the machine.
        floor = http_floor.measure(plan.payments * REQUESTS_PER_PAYMENT, plan.clients,
                                   payment_request(), where, progress)
    return replace(result, database_dir=str(where), floor=floor)


async def _bench(network: _Network, plan: _Plan,
                 progress: Callable[[str], None]) -> HttpBenchResult:
    progress("registering the bank, depositing reserves, issuing…")
    await _fund_the_bank(network, plan)
    progress(f"opening {plan.clients * 2} customers and funding {plan.clients} payers…")
    payers = await _open_customers(network, plan)
    progress(f"paying: {plan.payments:,} payments by {plan.clients} clients…")
    return await _pay_all(network, payers, plan)


async def _fund_the_bank(network: _Network, plan: _Plan) -> None:
    central, bank = network.central.config, network.bank.config
    async with NodeClient(network.central.url, central.key) as as_central:
        await as_central.register_participant(
            RegisterParticipant(name=bank.name, role="bank", key=bank.key.participant))
        await as_central.deposit_reserves(ReserveDeposit(
            bank=bank.name, currency=CURRENCY, amount_minor=plan.issued_minor))
    async with NodeClient(network.central.url, bank.key) as as_bank:
        issued = await as_bank.request_issuance(
            IssuanceRequest(currency=CURRENCY, amount_minor=plan.issued_minor))
    if issued.status != "committed":
        raise NodeError(500, "bench_setup_refused", "Set-up refused",
                        f"the issuance was refused: {issued.code}: {issued.reason}")


async def _open_customers(network: _Network, plan: _Plan) -> list[tuple[KeyPair, str]]:
    """Each payer's key and its payee's account; the payers funded."""
    payers = []
    async with NodeClient(network.bank.url, network.bank.config.key) as operator:
        for index in range(plan.clients):
            payer, payee = KeyPair.generate(), KeyPair.generate()
            await open_customer(operator, f"payer-{index}", payer)
            payee_account = await open_customer(operator, f"payee-{index}", payee)
            await distribute_notes(operator, f"payer-{index}@{BANK_NAME}", CURRENCY,
                                   plan.note_minor, NOTES_PER_PAYER)
            payers.append((payer, payee_account))
    return payers


def percentile_ms(latencies_s: list[float], percent: int) -> float:
    """The `percent`-th percentile of `latencies_s` in milliseconds (inclusive method)."""
    if len(latencies_s) < 2:  # quantiles need two points
        return sum(latencies_s) * 1000
    cuts = statistics.quantiles(latencies_s, n=100, method="inclusive")
    return cuts[percent - 1] * 1000


async def open_customer(operator: NodeClient, name: str, wallet: KeyPair, *,
                        kyc_tier: int = 1) -> str:
    """The bank operator opens `name` with `wallet`'s key; its account."""
    opened = await operator.open_customer(OpenCustomer(
        name=name, display_name=name.title(), key=wallet.participant, kyc_tier=kyc_tier))
    return opened.account


async def distribute_notes(operator: NodeClient, account: str, currency: str, note_minor: int,
                           notes: int) -> None:
    """The bank operator distributes `notes` notes of `note_minor` each to `account` (several
    notes, so a payment whose change is not yet committed leaves another note to spend)."""
    for _ in range(notes):
        await operator.distribute(Distribution(account=account, currency=currency,
                                               amount_minor=note_minor))


@dataclass
class _Tally:
    """The timed run's shared state: payments left to start, and what the finished ones met."""

    left: int
    latencies_s: list[float] = field(default_factory=list)
    refusals: Counter[str] = field(default_factory=Counter)


async def _pay_all(network: _Network, payers: list[tuple[KeyPair, str]],
                   plan: _Plan) -> HttpBenchResult:
    tally = _Tally(plan.payments)
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(NodeClient(network.bank.url, payer))
                   for payer, _ in payers]
        central = await stack.enter_async_context(
            NodeClient(network.central.url, KeyPair.generate()))
        cpu = CpuClock({BANK_NAME: clients[0], CENTRAL_NAME: central})
        await cpu.start()
        started = time.perf_counter()
        await asyncio.gather(*(_payer(client, payee, tally) for client, (_, payee)
                               in zip(clients, payers, strict=True)))
        seconds = time.perf_counter() - started
        cpu_s = await cpu.spent()
    return HttpBenchResult("", plan.payments, seconds, tally.latencies_s, dict(tally.refusals),
                           plan.clients, cpu_s)


def payment_request(payee: str = f"payee-0@{BANK_NAME}") -> PaymentRequest:
    """One payment of the bench, to `payee`."""
    return PaymentRequest(to=PayTo(account=payee), currency=CURRENCY, amount_minor=PAYMENT_MINOR)


async def _payer(client: NodeClient, payee: str, tally: _Tally) -> None:
    """Pay `payee` until no payment is left to start."""
    request = payment_request(payee)
    while tally.left > 0:
        tally.left -= 1  # one event loop: no other task runs between the test and this
        started = time.perf_counter()
        try:
            paid = await client.pay(request)
        except ClientError as refused:
            tally.refusals[refused.code] += 1
            continue
        if paid.status == "committed":
            tally.latencies_s.append(time.perf_counter() - started)
        else:
            tally.refusals[paid.status] += 1
