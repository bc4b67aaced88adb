"""The compiler: checked policies and corridors to closures, built once and run many times.

Conditions become nested closures over the `Facts` value. The common shapes (a fact compared with
a constant, a fact looked up in a constant set) get a closure of their own, which is what keeps a
decision to a few microseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from dsl import errors, ir
from dsl.evaluate import (
    CompiledCorridor,
    CompiledExpiry,
    CompiledLimit,
    CompiledPolicy,
    CompiledRule,
    CorridorBound,
    Matcher,
    OperationPlan,
    RuleRef,
    TraceEntry,
)
from dsl.facts import FACTS, HOLDING_OPERATIONS, OPERATIONS, SPENDING_OPERATIONS, Facts, Quote
from dsl.model import CorridorClause, CorridorSpec, HoldSpec, LimitSpec, PolicySpec, RuleSpec
from dsl.money import format_minor
from dsl.resolve import combine, comparator

Reader = Callable[[Facts], object]


def compile_policy(contract: str, policy: PolicySpec) -> CompiledPolicy:
    """Compile one token's policy."""
    token = policy.token
    expiry = None
    if token.expiry is not None:
        ref = RuleRef(contract, "expires", token.expiry.span.line, token.expiry.span.column)
        expiry = CompiledExpiry(ref, token.expiry.at_s, token.expiry.after_s, token.expiry.then,
                                TraceEntry("expires", ref.line, "not expired"),
                                TraceEntry("expires", ref.line, "expired"))
    rules = [_rule(contract, rule) for rule in policy.rules]
    specs: list[LimitSpec | HoldSpec] = [*policy.limits, *policy.holds]
    limits = [(_limit(contract, spec), spec) for spec in specs]
    limits.sort(key=lambda pair: (pair[1].span.line, pair[1].span.column))
    plans = {}
    for operation in OPERATIONS:
        plans[operation] = OperationPlan(
            denies=tuple(r for r, s in zip(rules, policy.rules, strict=True)
                         if s.kind == "deny" and s.operation == operation),
            allows=tuple(r for r, s in zip(rules, policy.rules, strict=True)
                         if s.kind == "allow" and s.operation == operation),
            limits=tuple(c for c, spec in limits if _counts(spec, operation)),
            release=operation in policy.releases,
        )
    closed_by = RuleRef(contract, f"policy {token.name}", policy.span.line, policy.span.column)
    return CompiledPolicy(contract, token.name, token.currency, token.issuer, expiry, plans,
                          closed_by, token.bridged)


def _counts(limit: LimitSpec | HoldSpec, operation: str) -> bool:
    """Whether a limit counts this operation: holders' spends, or receipts for holdings."""
    if isinstance(limit, HoldSpec):
        return operation in HOLDING_OPERATIONS
    if limit.scope == "merchant":
        return operation == "purchase"
    return operation in SPENDING_OPERATIONS


def _rule(contract: str, rule: RuleSpec) -> CompiledRule:
    ref = RuleRef(contract, rule.name, rule.span.line, rule.span.column)
    parts: list[Matcher] = []
    if rule.targets is not None:
        parts.append(_member(FACTS["quote.target"].read, rule.targets, negated=False))
    if rule.providers is not None:
        parts.append(_member(FACTS["quote.provider"].read, rule.providers, negated=False))
    if rule.condition is not None:
        parts.append(condition(rule.condition))
    matches = _all(parts) if parts else _always
    return CompiledRule(ref, matches, rule.because, TraceEntry(rule.name, ref.line, "matched"),
                        TraceEntry(rule.name, ref.line, "no match"))


def _limit(contract: str, limit: LimitSpec | HoldSpec) -> CompiledLimit:
    ref = RuleRef(contract, limit.name, limit.span.line, limit.span.column)
    field: str | None = "receiver_held"
    if isinstance(limit, LimitSpec):
        field = f"{limit.scope}_{limit.period}" if limit.period else None
    return CompiledLimit(ref, limit.amount_minor, field,
                         TraceEntry(limit.name, ref.line, "within"),
                         TraceEntry(limit.name, ref.line, "exceeded"))


def _always(facts: Facts) -> bool:
    return True


# ---- conditions -----------------------------------------------------------------------------


def condition(node: ir.Node) -> Matcher:
    """A closure that evaluates a boolean IR node."""
    if isinstance(node, ir.Compare | ir.Member | ir.Logic | ir.Negation):
        return _boolean(node)
    reader = _value(node)
    return lambda facts: reader(facts) is True


def _boolean(node: ir.Compare | ir.Member | ir.Logic | ir.Negation) -> Matcher:
    if isinstance(node, ir.Compare):
        return _compare(node)
    if isinstance(node, ir.Member):
        if isinstance(node.right, ir.Const) and isinstance(node.right.value, frozenset):
            return _member(_value(node.left), node.right.value, node.negated)
        left, right, negated = _value(node.left), _value(node.right), node.negated
        return lambda facts: (left(facts) in right(facts)) != negated  # type: ignore[operator]
    if isinstance(node, ir.Negation):
        inner = condition(node.operand)
        return lambda facts: not inner(facts)
    parts = [condition(operand) for operand in node.operands]
    return _all(parts) if node.operator == "and" else _any(parts)


def _compare(node: ir.Compare) -> Matcher:
    test = comparator(node.operator)
    left, right = node.left, node.right
    if isinstance(right, ir.Const):
        read, constant = _value(left), right.value
        return lambda facts: test(read(facts), constant)
    if isinstance(left, ir.Const):
        read, constant = _value(right), left.value
        return lambda facts: test(constant, read(facts))
    read_left, read_right = _value(left), _value(right)
    return lambda facts: test(read_left(facts), read_right(facts))


def _member(read: Reader, values: frozenset[object] | frozenset[str], negated: bool) -> Matcher:
    if negated:
        return lambda facts: read(facts) not in values
    return lambda facts: read(facts) in values


def _all(parts: list[Matcher]) -> Matcher:
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts
        return lambda facts: first(facts) and second(facts)
    frozen = tuple(parts)

    def every(facts: Facts) -> bool:
        return all(part(facts) for part in frozen)

    return every


def _any(parts: list[Matcher]) -> Matcher:
    frozen = tuple(parts)

    def some(facts: Facts) -> bool:
        return any(part(facts) for part in frozen)

    return some


def _value(node: ir.Node) -> Reader:
    """A closure that reads the value of any IR node."""
    if isinstance(node, ir.Const):
        constant = node.value
        return lambda facts: constant
    if isinstance(node, ir.Fact):
        return FACTS[node.path].read
    if isinstance(node, ir.Arithmetic):
        left, right, symbol = _value(node.left), _value(node.right), node.operator
        return lambda facts: combine(symbol, left(facts), right(facts))
    if isinstance(node, ir.Compare | ir.Member | ir.Logic | ir.Negation):
        return _boolean(node)
    raise errors.InternalError(f"cannot compile {type(node).__name__}")


# ---- FX corridors ---------------------------------------------------------------------------


def compile_corridor(contract: str, corridor: CorridorSpec) -> CompiledCorridor:
    """Compile the bounds of one FX corridor, in source order."""
    bounds = tuple(_bound(contract, corridor, clause) for clause in corridor.clauses)
    return CompiledCorridor(contract, corridor.source, corridor.target, bounds)


def _bound(contract: str, corridor: CorridorSpec, clause: CorridorClause) -> CorridorBound:
    ref = RuleRef(contract, clause.name, clause.span.line, clause.span.column)
    value = clause.value
    if clause.key == "providers" and isinstance(value, frozenset):
        listed = ", ".join(sorted(value))
        return CorridorBound(ref, lambda _, q: q.provider in value,
                             lambda _, q: f"{q.provider} is not a provider of this corridor "
                                          f"({listed})")
    if clause.key == "max_amount" and isinstance(value, int):
        cap = format_minor(value, corridor.source)
        return CorridorBound(ref, lambda amount, _: amount <= value,
                             lambda amount, _: f"{format_minor(amount, corridor.source)} is over "
                                               f"the corridor's {cap} per payment")
    if clause.key == "quote_valid" and isinstance(value, int):
        return CorridorBound(ref, lambda _, q: q.age_s <= value,
                             lambda _, q: f"the quote is {q.age_s} s old; it is valid {value} s")
    if clause.key in {"max_spread", "max_fee"} and isinstance(value, Decimal):
        return _percent_bound(ref, clause.key.removeprefix("max_"), value)
    raise errors.InternalError(f"corridor clause {clause.key} with {value!r}")


def _percent_bound(ref: RuleRef, attribute: str, cap: Decimal) -> CorridorBound:
    def read(quote: Quote) -> Decimal:
        found: Decimal = getattr(quote, attribute)
        return found

    return CorridorBound(ref, lambda _, q: read(q) <= cap,
                         lambda _, q: f"the {attribute} {read(q)} % is over the corridor's "
                                      f"{cap} %")
