"""`earmark bench …`: speed measured on this machine, printed as figures and ratios."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

from dsl.evaluate import CompiledPolicy
from dsl.facts import Facts, Party, Usage, default_sender
from dsl.money import exponent
from dsl.phases import CompiledContract

DSL_TARGET_PER_S = 200_000
# Merchant categories of the purchase mix: pharmacy, hospital, grocery, restaurant.
_MIX_MCCS = (5912, 8062, 5411, 5812)
_MIX_CHANNELS = ("online", "offline", "qr")
_MIX_AMOUNTS_MAJOR = (3_000, 12_500, 150_000, 250_000)
_MIX_USED_MAJOR = (0, 450_000)


@dataclass(frozen=True, slots=True)
class DslBenchResult:
    """What `earmark bench dsl` measured."""

    contract: str
    token: str
    decisions: int
    allowed: int
    seconds: float

    @property
    def per_second(self) -> float:
        """Decisions per second."""
        return self.decisions / self.seconds

    def as_dict(self) -> dict[str, object]:
        """The `--json` form."""
        return {
            "contract": self.contract, "token": self.token, "decisions": self.decisions,
            "allowed": self.allowed, "denied": self.decisions - self.allowed,
            "seconds": round(self.seconds, 4), "decisions_per_s": round(self.per_second),
            "target_per_s": DSL_TARGET_PER_S,
            "ratio_to_target": round(self.per_second / DSL_TARGET_PER_S, 2),
        }

    def lines(self) -> list[str]:
        """The human form."""
        return [
            f"earmark bench dsl: {self.contract}, token {self.token}",
            f"decisions: {self.decisions:,} (allowed {self.allowed:,}, denied "
            f"{self.decisions - self.allowed:,}) in {self.seconds:.2f} s on one core",
            f"decisions/s: {self.per_second:,.0f} (target {DSL_TARGET_PER_S:,}: "
            f"{self.per_second / DSL_TARGET_PER_S:.2f}x)",
        ]


def purchase_mix(policy: CompiledPolicy) -> list[tuple[Facts, Usage]]:
    """Purchases at clinics, pharmacies, groceries and restaurants, online and offline, small
    and large, with fresh and nearly spent monthly budgets: allowed and denied in one mix."""
    scale = 10 ** exponent(policy.currency)
    sender = default_sender("purchase", policy.issuer)
    mix = []
    for mcc, channel, amount, used in itertools.product(
        _MIX_MCCS, _MIX_CHANNELS, _MIX_AMOUNTS_MAJOR, _MIX_USED_MAJOR,
    ):
        receiver = Party(id=f"merchant-{mcc}", role="merchant", mcc=mcc)
        facts = Facts("purchase", amount * scale, policy.currency, sender, receiver, channel)
        usage = Usage(wallet_month=used * scale)
        mix.append((facts, usage))
    return mix


def dsl_decisions(contract: CompiledContract, decisions: int) -> DslBenchResult:
    """Time `decisions` evaluations of the contract's first token's policy on one core."""
    contract.require_ok()
    token = sorted(contract.policies)[0]
    policy = contract.policies[token]
    mix = purchase_mix(policy)
    rounds, remainder = divmod(decisions, len(mix))
    work = mix * rounds + mix[:remainder]
    decide = policy.decide
    allowed = 0
    started = time.perf_counter()
    for facts, usage in work:
        allowed += decide(facts, usage).allowed
    elapsed = time.perf_counter() - started
    return DslBenchResult(contract.path, token, len(work), allowed, elapsed)


LEDGER_TARGET_PER_S = 15_000
LEDGER_TARGET_RATIO = 0.75


@dataclass(frozen=True, slots=True)
class LedgerBenchResult:
    """What `earmark bench ledger` measured."""

    database: str
    transactions: int
    committed: int
    seconds: float
    verify_per_s: float
    latencies_s: list[float]
    workers: int = 1

    def _percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def as_dict(self) -> dict[str, object]:
        """The `--json` form."""
        per_s = self.transactions / self.seconds
        return {
            "database": self.database, "transactions": self.transactions,
            "committed": self.committed, "seconds": round(self.seconds, 3),
            "transactions_per_s": round(per_s), "verify_per_s": round(self.verify_per_s),
            "workers": self.workers,
            "ratio_to_verify": round(per_s / self.verify_per_s, 3),
            "p50_commit_ms": round(self._percentile(0.50) * 1000, 2),
            "p99_commit_ms": round(self._percentile(0.99) * 1000, 2),
            "target_per_s": LEDGER_TARGET_PER_S, "target_ratio": LEDGER_TARGET_RATIO,
        }

    def lines(self) -> list[str]:
        """The human form."""
        figures = self.as_dict()
        target_ratio = self.transactions / self.seconds / LEDGER_TARGET_PER_S
        return [
            f"earmark bench ledger: {self.database}",
            f"purchases: {self.transactions:,} ({self.committed:,} committed) in "
            f"{self.seconds:.2f} s with full validation and durable commits",
            f"transactions/s: {figures['transactions_per_s']:,} (target "
            f"{LEDGER_TARGET_PER_S:,}: {target_ratio:.2f}x)",
            f"raw Ed25519 verify/s, same process, {self.workers} threads: "
            f"{figures['verify_per_s']:,}; ratio "
            f"{figures['ratio_to_verify']} (target {LEDGER_TARGET_RATIO})",
            f"commit latency p50 {figures['p50_commit_ms']} ms, p99 {figures['p99_commit_ms']} ms",
        ]
