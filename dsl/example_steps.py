"""Checking `example` blocks into runnable steps with every fact filled in.

An example spends its contract's only token (or the one it names with `for TOKEN`), or exercises an
FX corridor (`for KHR -> THB`). Unsaid facts take the defaults of `dsl.facts`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from dsl import ast, errors, ir, types
from dsl.errors import Span
from dsl.facts import (
    CHANNELS,
    OPERATIONS,
    PARTY_FIELDS,
    QUOTE_FIELDS,
    ROLES,
    Party,
    Quote,
    default_receiver,
    default_sender,
)
from dsl.limits import EXAMPLE_STEPS_MAX
from dsl.model import (
    AdvanceSpec,
    CorridorSpec,
    ExampleSpec,
    ExpectSpec,
    OperationStepSpec,
    PolicySpec,
    StepSpec,
    TokenSpec,
)
from dsl.resolve import Resolver, Scope, date_seconds, suggest
from dsl.types import Kind, Type

# Examples run on a fixed calendar so that they are deterministic; see `dsl.examples`.
EXAMPLE_START = "2026-01-01"
EXAMPLE_END = "2200-01-01"
EXAMPLE_START_S = date_seconds(EXAMPLE_START) or 0
EXAMPLE_END_S = date_seconds(EXAMPLE_END) or 0


@dataclass(frozen=True, slots=True)
class _Subject:
    """What an example spends: a token and its policy, or a corridor."""

    currency: str
    issuer: str
    rule_names: frozenset[str]
    rule_lines: frozenset[int]
    corridor_target: str | None  # set for a corridor's examples: the only currency to convert to


def check_examples(  # noqa: PLR0917 - the checker's whole context, passed once
    resolver: Resolver, examples: Iterable[ast.ExampleDef], tokens: Mapping[str, TokenSpec],
    policies: Mapping[str, PolicySpec], corridors: Mapping[tuple[str, str], CorridorSpec],
    constants: Mapping[str, ir.Const],
) -> tuple[ExampleSpec, ...]:
    """Check every example; those with errors are left out (their diagnostics say why)."""
    checker = _StepChecker(resolver, dict(constants))
    checked = []
    for example in examples:
        bound = _bind(resolver, example, tokens, policies, corridors)
        if bound is None:
            continue
        (token, corridor), subject = bound
        steps = checker.steps(example, subject)
        if steps is not None:
            checked.append(ExampleSpec(example.title.value, token, corridor, steps, example.span))
    return tuple(checked)


def _bind(
    resolver: Resolver, example: ast.ExampleDef, tokens: Mapping[str, TokenSpec],
    policies: Mapping[str, PolicySpec], corridors: Mapping[tuple[str, str], CorridorSpec],
) -> tuple[tuple[str | None, tuple[str, str] | None], _Subject] | None:
    span = example.subject_span or example.title.span
    if example.corridor is not None:
        corridor = corridors.get(example.corridor)
        if corridor is None:
            label = " -> ".join(example.corridor)
            resolver.report(errors.UNKNOWN_TOKEN, f"no corridor {label} in this contract", span)
            return None
        return (None, example.corridor), _corridor_subject(corridor)
    name = example.token
    if name is None:
        if len(tokens) == 1:
            name = next(iter(tokens))
        elif not tokens and len(corridors) == 1:
            corridor = next(iter(corridors.values()))
            return (None, (corridor.source, corridor.target)), _corridor_subject(corridor)
        else:
            resolver.report(errors.AMBIGUOUS_EXAMPLE, "this example does not say what it spends",
                            span, help="write `example \"…\" for TOKEN {` (or `for SRC -> DST`)")
            return None
    if name not in tokens:
        resolver.report(errors.UNKNOWN_TOKEN, f"no token `{name}` in this contract", span,
                        help=suggest(name, tokens))
        return None
    return (name, None), _token_subject(tokens[name], policies.get(name))


def _token_subject(token: TokenSpec, policy: PolicySpec | None) -> _Subject:
    named: list[tuple[str, int]] = []
    if policy is not None:
        named += [(rule.name, rule.span.line) for rule in policy.rules]
        named += [(limit.name, limit.span.line) for limit in policy.limits]
        named += [(hold.name, hold.span.line) for hold in policy.holds]
    return _Subject(token.currency, token.issuer, frozenset(name for name, _ in named),
                    frozenset(line for _, line in named), corridor_target=None)


def _corridor_subject(corridor: CorridorSpec) -> _Subject:
    return _Subject(corridor.source, "", frozenset(c.name for c in corridor.clauses),
                    frozenset(c.span.line for c in corridor.clauses),
                    corridor_target=corridor.target)


@dataclass(slots=True)
class _StepChecker:
    resolver: Resolver
    constants: dict[str, ir.Const]
    clock_s: int = 0  # the example's clock as the steps so far have moved it

    def report(self, code: errors.Code, message: str, span: Span, label: str = "",
               help: str = "") -> None:
        self.resolver.report(code, message, span, label, help)

    def steps(self, example: ast.ExampleDef, subject: _Subject) -> tuple[StepSpec, ...] | None:
        if len(example.steps) > EXAMPLE_STEPS_MAX:
            self.report(errors.TOO_MANY_ITEMS, f"this example has {len(example.steps)} steps; "
                        f"the limit is {EXAMPLE_STEPS_MAX}", example.title.span)
            return None
        before = len(self.resolver.found)
        self.clock_s = EXAMPLE_START_S
        checked: list[StepSpec] = []
        for index, step in enumerate(example.steps):
            earlier = example.steps[:index]
            has_operation = any(isinstance(s, ast.OperationStep) for s in earlier)
            found = self._step(step, subject, has_operation)
            if found is not None:
                checked.append(found)
        if not any(isinstance(step, ast.Expect) for step in example.steps):
            self.report(errors.EXAMPLE_WITHOUT_EXPECT, f"example \"{example.title.value}\" "
                        "expects nothing, so it cannot fail", example.title.span,
                        help="end it with `expect allowed` or `expect denied`")
        new_errors = any(d.is_error for d in self.resolver.found[before:])
        return None if new_errors else tuple(checked)

    def _step(self, step: ast.Step, subject: _Subject, has_operation: bool) -> StepSpec | None:
        if isinstance(step, ast.OperationStep):
            return self._operation(step, subject)
        if isinstance(step, ast.Advance):
            return self._advance(step)
        if not has_operation:
            self.report(errors.EXPECT_WITHOUT_STEP, "`expect` judges the operation before it, "
                        "and there is none", step.span)
            return None
        return self._expect(step, subject)

    # ---- operations --------------------------------------------------------------------------

    def _operation(self, step: ast.OperationStep, subject: _Subject) -> OperationStepSpec | None:
        if step.operation not in OPERATIONS:
            self.report(errors.UNKNOWN_OPERATION, f"unknown operation `{step.operation}`",
                        step.operation_span, help=suggest(step.operation, OPERATIONS))
            return None
        if subject.corridor_target and step.operation != "convert":
            self.report(errors.BAD_STEP, "an example of an FX corridor can only convert",
                        step.operation_span)
            return None
        amount = self._amount(step.amount, subject.currency)
        channel = self._channel(step.channel)
        sender = self._party(step.sender, default_sender(step.operation, subject.issuer))
        quote = self._quote(step, subject) if step.operation == "convert" else None
        receiver: Party | None = default_receiver("convert", subject.issuer,
                                                  quote.provider if quote else "")
        if step.operation != "convert":
            receiver = self._party(step.receiver, default_receiver(step.operation, subject.issuer))
            if step.provider is not None:
                self.report(errors.BAD_STEP, "`via` names the FX provider of a convert step",
                            step.provider.span)
                return None
        if amount is None or channel is None or sender is None or receiver is None:
            return None
        if step.operation == "convert" and quote is None:
            return None
        return OperationStepSpec(step.operation, amount, subject.currency, sender, receiver,
                                 quote, channel, step.span)

    def _amount(self, quantity: ast.Quantity, currency: str) -> int | None:
        amount = self.resolver.literal_quantity(quantity)
        if amount.type.is_error:
            return None
        if amount.type != types.money(currency):
            if amount.type.kind is Kind.MONEY:
                spent = amount.type.currency
                self.report(errors.CURRENCY_MISMATCH, f"this example spends {currency}, not "
                            f"{spent}", quantity.span, f"this is {spent}")
            else:
                self.report(errors.TYPE_MISMATCH, f"an operation moves an amount, not "
                            f"{amount.type.describe()}", quantity.span)
            return None
        if not isinstance(amount.value, int) or amount.value <= 0:
            self.report(errors.BAD_STEP, "an operation moves more than zero", quantity.span)
            return None
        return amount.value

    def _channel(self, channel: ast.Name | None) -> str | None:
        if channel is None:
            return "online"
        if channel.name in CHANNELS:
            return channel.name
        self.report(errors.UNKNOWN_NAME, f"unknown channel `{channel.name}`", channel.span,
                    help=suggest(channel.name, CHANNELS) or f"channels: {', '.join(CHANNELS)}")
        return None

    def _party(self, party: ast.Party | None, default: Party) -> Party | None:
        if party is None:
            return default
        if party.role not in ROLES:
            self.report(errors.UNKNOWN_NAME, f"unknown role `{party.role}`", party.span,
                        help=suggest(party.role, ROLES) or f"roles: {', '.join(ROLES)}")
            return None
        values = self._fields(party.facts, PARTY_FIELDS, "a party")
        if values is None:
            return None
        return replace(Party(id=party.role, role=party.role), **values)

    def _quote(self, step: ast.OperationStep, subject: _Subject) -> Quote | None:
        target = step.receiver.role if step.receiver else None
        if step.receiver is None or step.receiver.facts or target is None:
            self.report(errors.BAD_STEP, "a convert step names its target currency: "
                        "`convert 1_000 JPY to KHR via \"provider\"`", step.span)
            return None
        if step.provider is None:
            self.report(errors.BAD_STEP, "a convert step names its FX provider: "
                        "`via \"provider\"`", step.span)
            return None
        node = self.resolver.expression(ast.Name(target, step.receiver.span), Scope({}, None))
        if node.type.is_error:
            return None
        if node.type != types.CURRENCY:
            self.report(errors.TYPE_MISMATCH, f"convert goes to a currency, not "
                        f"{node.type.describe()}", step.receiver.span)
            return None
        if subject.corridor_target not in {None, target}:
            self.report(errors.BAD_STEP, f"this corridor converts to {subject.corridor_target}, "
                        f"not to {target}", step.receiver.span)
            return None
        values = self._fields(step.quote, QUOTE_FIELDS, "a quote")
        if values is None:
            return None
        if "age" in values:
            values["age_s"] = values.pop("age")
        decimals = {k: Decimal(v) for k, v in values.items() if k in {"rate", "spread", "fee"}}
        return replace(Quote(step.provider.value, target), **{**values, **decimals})

    def _fields(self, pairs: tuple[tuple[str, ast.Expr], ...], known: Mapping[str, Type],
                what: str) -> dict[str, Any] | None:
        # Any: each value's type was checked against `known` just above.
        values: dict[str, Any] = {}
        for key, expr in pairs:
            if key not in known:
                self.report(errors.BAD_STEP, f"{what} has no fact `{key}`", expr.span,
                            help=suggest(key, known) or f"it has {', '.join(known)}")
                return None
            node = self.resolver.expression(expr, Scope(self.constants, None,
                                                        facts_allowed=False))
            if node.type.is_error or not isinstance(node, ir.Const):
                return None
            if node.type != known[key] and not (
                node.type.kind is Kind.INT and known[key].kind is Kind.DECIMAL
            ):
                self.report(errors.TYPE_MISMATCH, f"`{key}` is {known[key].describe()}, not "
                            f"{node.type.describe()}", expr.span)
                return None
            values[key] = node.value
        return values

    # ---- clock and expectations --------------------------------------------------------------

    def _advance(self, step: ast.Advance) -> AdvanceSpec | None:
        found = self._advance_unbounded(step)
        if found is None:
            return None
        moved_to = found.to_s if found.to_s is not None else self.clock_s + (found.by_s or 0)
        if moved_to < self.clock_s:
            self.report(errors.BAD_STEP, "the example's clock cannot go back", step.span,
                        help="steps happen in order; start a new example for an earlier date")
            return None
        if moved_to >= EXAMPLE_END_S:
            self.report(errors.BAD_STEP, f"the example's clock must stay before {EXAMPLE_END}",
                        step.span)
            return None
        self.clock_s = moved_to
        return found

    def _advance_unbounded(self, step: ast.Advance) -> AdvanceSpec | None:
        if step.to is not None:
            seconds = date_seconds(step.to.text)
            if seconds is None:
                self.report(errors.BAD_LITERAL, f"{step.to.text} is not a calendar date",
                            step.to.span)
                return None
            return AdvanceSpec(None, seconds, step.span)
        if step.by is None:
            raise errors.InternalError("advance without a duration or a date")
        duration = self.resolver.literal_quantity(step.by)
        if duration.type.is_error:
            return None
        if duration.type.kind is not Kind.DURATION or not isinstance(duration.value, int):
            self.report(errors.TYPE_MISMATCH, f"the clock advances by a duration, not "
                        f"{duration.type.describe()}", step.by.span, help="e.g. `advance 91 days`")
            return None
        return AdvanceSpec(duration.value, None, step.span)

    def _expect(self, step: ast.Expect, subject: _Subject) -> ExpectSpec | None:
        name, line = None, None
        if isinstance(step.rule, ast.String):
            name = step.rule.value
            if name not in subject.rule_names:
                self.report(errors.BAD_STEP, f"no rule named \"{name}\"", step.rule.span,
                            help=suggest(name, subject.rule_names)
                            or f"the rules are: {', '.join(sorted(subject.rule_names))}")
                return None
        elif isinstance(step.rule, ast.Number):
            line = int(step.rule.text.replace("_", ""))
            if line not in subject.rule_lines:
                self.report(errors.BAD_STEP, f"no rule starts on line {line}", step.rule.span,
                            help=f"rules start on lines {sorted(subject.rule_lines)}")
                return None
        return ExpectSpec(step.allowed, step.ground, name, line, step.span)
