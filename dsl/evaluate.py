"""Evaluation: a compiled policy and the facts of a transaction give a decision with its trace.

The order is fixed and documented in `docs/language.md`: a `return` to the issuer is always
allowed; an expired note is refused; the first `deny` that matches refuses; otherwise the first
`allow` that matches admits, and none refuses ("closed by default"); an admitted spend must then
stay within every limit. Evaluation reads nothing but its arguments: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from dsl import errors
from dsl.facts import Facts, Quote, Usage
from dsl.money import format_minor

Matcher = Callable[[Facts], bool]


class Ground(StrEnum):
    """Why a decision came out as it did; the engine maps these to its result codes."""

    RULE = "rule"  # an allow admitted, or a deny (or corridor bound) refused
    DEFAULT = "default"  # no allow admitted: closed by default
    LIMIT = "limit"
    EXPIRY = "expiry"
    RETURN = "return"  # a return to the issuer is always allowed, and to anyone else never


@dataclass(frozen=True, slots=True)
class RuleRef:
    """Where a deciding rule stands: contract, rule name, line and column."""

    contract: str
    name: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One rule looked at during a decision and what came of it."""

    rule: str
    line: int
    outcome: str  # "matched", "no match", "within", "exceeded", "expired", "not expired"


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to "may this transaction spend this note?", with the reason and trace."""

    allowed: bool
    ground: Ground
    rule: RuleRef | None
    reason: str
    trace: tuple[TraceEntry, ...]
    release: bool = False  # the receiver gets plain money: the earmark ends here


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """An allow or deny rule ready to run, with its trace entries built once."""

    ref: RuleRef
    matches: Matcher
    because: str | None
    matched: TraceEntry
    unmatched: TraceEntry


@dataclass(frozen=True, slots=True)
class CompiledLimit:
    """A limit: `usage_field` names the `Usage` total it adds the amount to."""

    ref: RuleRef
    amount_minor: int
    usage_field: str | None  # None: per transaction
    within: TraceEntry
    exceeded: TraceEntry


@dataclass(frozen=True, slots=True)
class OperationPlan:
    """What to look at for one operation, in order."""

    denies: tuple[CompiledRule, ...]
    allows: tuple[CompiledRule, ...]
    limits: tuple[CompiledLimit, ...]
    release: bool


@dataclass(frozen=True, slots=True)
class CompiledExpiry:
    """When notes expire: a fixed moment or a time after issue."""

    ref: RuleRef
    at_s: int | None
    after_s: int | None
    then: str
    not_expired: TraceEntry
    expired: TraceEntry

    def deadline_s(self, issued_at_s: int) -> int:
        """The first moment at which a note issued at `issued_at_s` is expired."""
        return self.at_s if self.at_s is not None else issued_at_s + (self.after_s or 0)


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """A token's policy, compiled once and evaluated many times."""

    contract: str
    token: str
    currency: str
    issuer: str
    expiry: CompiledExpiry | None
    plans: dict[str, OperationPlan]
    # A refusal closed by default cites the policy itself: its rules are what did not allow.
    closed_by: RuleRef | None = None
    bridged: bool = False  # minted and burned by its issuer against a vault on another chain

    def decide(self, facts: Facts, usage: Usage | None = None) -> Decision:
        """Evaluate the policy for one spend of a note of this token."""
        if facts.amount_minor <= 0:
            raise errors.InputError(f"an amount is more than zero, not {facts.amount_minor}")
        if facts.currency != self.currency:
            raise errors.InputError(f"token {self.token} is {self.currency}; the facts say "
                                   f"{facts.currency}")
        if facts.operation == "return":
            return self._return(facts)
        if facts.operation == "convert" and facts.quote is None:
            raise errors.InputError("a convert needs its quote (provider, target, spread, fee)")
        trace: list[TraceEntry] = []
        if self.expiry is not None:
            expired = self._expiry(facts, trace)
            if expired is not None:
                return expired
        plan = self.plans[facts.operation]
        for rule in plan.denies:
            if rule.matches(facts):
                trace.append(rule.matched)
                reason = rule.because or f"refused by `{rule.ref.name}` (line {rule.ref.line})"
                return Decision(False, Ground.RULE, rule.ref, reason, tuple(trace))
            trace.append(rule.unmatched)
        return self._admit(plan, facts, usage or _NO_USAGE, trace)

    def _admit(self, plan: OperationPlan, facts: Facts, usage: Usage,
               trace: list[TraceEntry]) -> Decision:
        for rule in plan.allows:
            if rule.matches(facts):
                trace.append(rule.matched)
                exceeded = _first_exceeded(plan.limits, facts, usage, trace)
                if exceeded is not None:
                    return Decision(False, Ground.LIMIT, exceeded[0].ref, exceeded[1],
                                    tuple(trace))
                reason = f"allowed by `{rule.ref.name}` (line {rule.ref.line})"
                return Decision(True, Ground.RULE, rule.ref, reason, tuple(trace), plan.release)
            trace.append(rule.unmatched)
        reason = f"no rule allows {facts.operation} of {self.token} here (closed by default)"
        return Decision(False, Ground.DEFAULT, self.closed_by, reason, tuple(trace))

    def _return(self, facts: Facts) -> Decision:
        if facts.receiver.id == self.issuer:
            return _RETURN_ALLOWED
        reason = (f"a return goes back to the issuer {self.issuer}, not to "
                  f"{facts.receiver.id or 'an unnamed receiver'}")
        return Decision(False, Ground.RETURN, None, reason, ())

    def _expiry(self, facts: Facts, trace: list[TraceEntry]) -> Decision | None:
        expiry = self.expiry
        if expiry is None:
            return None
        deadline = expiry.deadline_s(facts.issued_at_s)
        if facts.now_s < deadline:
            trace.append(expiry.not_expired)
            return None
        trace.append(expiry.expired)
        when = _moment_text(deadline)
        reason = f"the note expired at {when}; {_AFTER_EXPIRY[expiry.then].format(self.issuer)}"
        return Decision(False, Ground.EXPIRY, expiry.ref, reason, tuple(trace))


def _moment_text(seconds: int) -> str:
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (OverflowError, ValueError, OSError):  # outside the calendar datetime can show
        return f"{seconds} s after 1970-01-01 UTC"


def _first_exceeded(limits: tuple[CompiledLimit, ...], facts: Facts, usage: Usage,
                    trace: list[TraceEntry]) -> tuple[CompiledLimit, str] | None:
    for limit in limits:
        used = getattr(usage, limit.usage_field) if limit.usage_field else 0
        if used + facts.amount_minor > limit.amount_minor:
            trace.append(limit.exceeded)
            return limit, _limit_reason(limit, used, facts)
        trace.append(limit.within)
    return None


def _limit_reason(limit: CompiledLimit, used: int, facts: Facts) -> str:
    cap = format_minor(limit.amount_minor, facts.currency)
    amount = format_minor(facts.amount_minor, facts.currency)
    if limit.usage_field is None:
        return f"{amount} is over the {limit.ref.name} of {cap}"
    if limit.usage_field == "receiver_held":
        held = format_minor(used, facts.currency)
        return f"the receiver would hold more than {cap} ({held} held, {amount} more)"
    already = format_minor(used, facts.currency)
    return f"{amount} more would pass the {limit.ref.name} of {cap} ({already} already used)"


_AFTER_EXPIRY = {
    "return": "it can only be returned to {0}",
    "burn": "{0} burns it",
    "release": "it is released: once swept it is plain money",
}
_NO_USAGE = Usage()
_RETURN_ALLOWED = Decision(True, Ground.RETURN, None,
                           "return to the issuer is always allowed", ())


@dataclass(frozen=True, slots=True)
class CorridorBound:
    """One bound of an FX corridor, compiled."""

    ref: RuleRef
    holds: Callable[[int, Quote], bool]
    describe: Callable[[int, Quote], str]


@dataclass(frozen=True, slots=True)
class CompiledCorridor:
    """What the hub accepts for one currency pair, ready to judge quotes."""

    contract: str
    source: str
    target: str
    bounds: tuple[CorridorBound, ...]

    def decide(self, amount_minor: int, quote: Quote) -> Decision:
        """Judge a quote for converting `amount_minor` of the source currency."""
        if quote.target != self.target:
            raise errors.InputError(f"corridor {self.source} -> {self.target} cannot judge a "
                                   f"quote to {quote.target}")
        trace: list[TraceEntry] = []
        for bound in self.bounds:
            if not bound.holds(amount_minor, quote):
                trace.append(TraceEntry(bound.ref.name, bound.ref.line, "exceeded"))
                return Decision(False, Ground.RULE, bound.ref,
                                bound.describe(amount_minor, quote), tuple(trace))
            trace.append(TraceEntry(bound.ref.name, bound.ref.line, "within"))
        reason = f"within the corridor {self.source} -> {self.target}"
        return Decision(True, Ground.RULE, None, reason, tuple(trace))
