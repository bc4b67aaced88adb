"""Running a contract's `example` blocks against its compiled policies and corridors.

Each example starts on `dsl.example_steps.EXAMPLE_START` with a note issued at that moment.
Allowed spends count toward limits (per wallet for the sender, per merchant for the receiver,
holdings for `hold at most`) in the calendar periods of `dsl.periods`; `advance` moves the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dsl import errors
from dsl.errors import Diagnostic
from dsl.evaluate import CompiledCorridor, CompiledPolicy, Decision, Ground
from dsl.example_steps import EXAMPLE_START_S
from dsl.facts import HOLDING_OPERATIONS, PERIODS, SPENDING_OPERATIONS, Facts, Party, Usage
from dsl.model import AdvanceSpec, ExampleSpec, ExpectSpec, OperationStepSpec
from dsl.periods import period_key

_START_S = EXAMPLE_START_S


@dataclass(frozen=True, slots=True)
class ExampleResult:
    """One example's outcome; `failure` says why it failed."""

    title: str
    passed: bool
    failure: Diagnostic | None = None


@dataclass(slots=True)
class _Ledger:
    """What the example has done so far: the clock, spends and holdings."""

    now_s: int = _START_S
    spends: list[tuple[int, Party, Party, str, int]] = field(default_factory=list)
    held: dict[Party, int] = field(default_factory=dict)

    def usage(self, sender: Party, receiver: Party) -> Usage:
        totals: dict[str, int] = {"receiver_held": self.held.get(receiver, 0)}
        for period in PERIODS:
            now = period_key(period, self.now_s)
            same = [s for s in self.spends
                    if s[3] in SPENDING_OPERATIONS and period_key(period, s[0]) == now]
            totals[f"wallet_{period}"] = sum(s[4] for s in same if s[1] == sender)
            totals[f"merchant_{period}"] = sum(
                s[4] for s in same if s[2] == receiver and s[3] == "purchase")
        return Usage(**totals)

    def record(self, step: OperationStepSpec) -> None:
        self.spends.append((self.now_s, step.sender, step.receiver, step.operation,
                            step.amount_minor))
        # Whatever the operation, the sender's note is spent; only some leave the token with the
        # receiver.
        self.held[step.sender] = self.held.get(step.sender, 0) - step.amount_minor
        if step.operation in HOLDING_OPERATIONS:
            self.held[step.receiver] = self.held.get(step.receiver, 0) + step.amount_minor


def run_examples(
    examples: tuple[ExampleSpec, ...], policies: Mapping[str, CompiledPolicy],
    corridors: Mapping[tuple[str, str], CompiledCorridor],
) -> tuple[ExampleResult, ...]:
    """Run every example; each starts afresh."""
    return tuple(_run(example, policies, corridors) for example in examples)


def _run(example: ExampleSpec, policies: Mapping[str, CompiledPolicy],
         corridors: Mapping[tuple[str, str], CompiledCorridor]) -> ExampleResult:
    ledger = _Ledger()
    last: tuple[OperationStepSpec, Decision] | None = None
    for step in example.steps:
        if isinstance(step, AdvanceSpec):
            ledger.now_s = step.to_s if step.to_s is not None else ledger.now_s + (step.by_s or 0)
        elif isinstance(step, OperationStepSpec):
            decision = _decide(example, step, ledger, policies, corridors)
            if decision.allowed:
                ledger.record(step)
            last = (step, decision)
        elif last is not None and not _meets(step, last[1]):
            return ExampleResult(example.title, False, _failure(example, step, *last))
    return ExampleResult(example.title, True)


def _decide(example: ExampleSpec, step: OperationStepSpec, ledger: _Ledger,
            policies: Mapping[str, CompiledPolicy],
            corridors: Mapping[tuple[str, str], CompiledCorridor]) -> Decision:
    if example.corridor is not None:
        if step.quote is None:
            raise errors.InternalError("a checked convert step always has a quote")
        return corridors[example.corridor].decide(step.amount_minor, step.quote)
    if example.token is None:
        raise errors.InternalError("a checked example names its token or corridor")
    facts = Facts(step.operation, step.amount_minor, step.currency, step.sender, step.receiver,
                  step.channel, ledger.now_s, _START_S, step.quote)
    return policies[example.token].decide(facts, ledger.usage(step.sender, step.receiver))


def _meets(expect: ExpectSpec, decision: Decision) -> bool:
    if expect.allowed:
        return decision.allowed
    if decision.allowed:
        return False
    if expect.rule_line is not None:
        return decision.rule is not None and decision.rule.line == expect.rule_line
    if expect.rule_name is not None:
        return decision.rule is not None and decision.rule.name == expect.rule_name
    grounds = {"limit": Ground.LIMIT, "expiry": Ground.EXPIRY, "default": Ground.DEFAULT,
               "rule": Ground.RULE}
    return expect.ground is None or decision.ground is grounds[expect.ground]


def _expected(expect: ExpectSpec) -> str:
    if expect.allowed:
        return "allowed"
    if expect.rule_name is not None:
        return f'denied by rule "{expect.rule_name}"'
    if expect.rule_line is not None:
        return f"denied by the rule on line {expect.rule_line}"
    return f"denied by {expect.ground}" if expect.ground else "denied"


def _failure(example: ExampleSpec, expect: ExpectSpec, step: OperationStepSpec,
             decision: Decision) -> Diagnostic:
    verdict = "allowed" if decision.allowed else f"denied by {decision.ground.value}"
    trace = "; ".join(f"{e.rule} (line {e.line}): {e.outcome}" for e in decision.trace)
    return Diagnostic(
        errors.EXAMPLE_FAILED,
        f'example "{example.title}" failed: expected {_expected(expect)}, but the '
        f"{step.operation} on line {step.span.line} was {verdict}",
        expect.span,
        label=decision.reason,
        help=f"trace: {trace}" if trace else "",
    )
