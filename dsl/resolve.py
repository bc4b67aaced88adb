"""Expressions: resolve names, type every node, fold constants, report what is wrong.

Errors do not stop the walk: a node whose error was reported gets the silent `ERROR` type, so one
mistake yields one diagnostic and the rest of the contract is still checked.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final

import iso18245

from dsl import ast, errors, ir, money, types
from dsl.errors import Diagnostic, Span
from dsl.facts import CHANNELS, FACTS, OPERATIONS, ROLES
from dsl.limits import SET_ELEMENTS_MAX
from dsl.types import Kind, Type

DURATION_UNITS: Final = {
    "second": 1, "seconds": 1, "minute": 60, "minutes": 60, "hour": 3600, "hours": 3600,
    "day": 86_400, "days": 86_400, "week": 604_800, "weeks": 604_800,
}
_CURRENCY_SHAPE = re.compile(r"^[A-Z]{3}$")
_ENUMS: Final = (
    (ROLES, types.ROLE), (CHANNELS, types.CHANNEL), (OPERATIONS, types.OPERATION),
)


def suggest(name: str, candidates: Iterable[str]) -> str:
    """`did you mean 'clinics'?` for a near miss, else an empty string."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.7)
    return f"did you mean `{close[0]}`?" if close else ""


def date_seconds(text: str) -> int | None:
    """Midnight UTC of a `YYYY-MM-DD` date as seconds since the epoch; None if no such day."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


@dataclass(slots=True)
class Scope:
    """What names mean where an expression stands."""

    constants: dict[str, ir.Const]
    currency: str | None  # the token's currency, for `amount`; None outside a policy
    token: str | None = None  # the token's name, for messages
    operation: str | None = None  # the rule's operation, for facts that exist only for some
    facts_allowed: bool = True  # False in `set` definitions, which are constants


@dataclass(slots=True)
class Resolver:
    """Turns expressions into typed IR, appending diagnostics to `found`."""

    found: list[Diagnostic] = field(default_factory=list)

    def report(self, code: errors.Code, message: str, span: Span, label: str = "",
               help: str = "") -> Type:
        """Record a diagnostic; returns the silent error type for the node."""
        self.found.append(Diagnostic(code, message, span, label, help))
        return types.ERROR

    # ---- entry points ------------------------------------------------------------------------

    def condition(self, expr: ast.Expr, scope: Scope) -> ir.Node:
        """A `when` condition: must be true or false."""
        node = self.expression(expr, scope)
        if not node.type.is_error and node.type.kind is not Kind.BOOL:
            self.report(errors.NOT_A_CONDITION, f"a condition must be true or false, not "
                        f"{node.type.describe()}", expr.span, "this is not a comparison")
        return node

    def expression(self, expr: ast.Expr, scope: Scope) -> ir.Node:
        """Any expression."""
        method: Callable[[ast.Expr, Scope], ir.Node] = getattr(self, f"_{type(expr).__name__}")
        return method(expr, scope)

    def literal_quantity(self, quantity: ast.Quantity) -> ir.Const:
        """Money or a duration, as written."""
        return self._Quantity(quantity, Scope({}, None))

    # ---- names -------------------------------------------------------------------------------

    def _Name(self, expr: ast.Name, scope: Scope) -> ir.Node:  # noqa: N802
        name = expr.name
        if name in scope.constants:
            found = scope.constants[name]
            return ir.Const(found.value, found.type, expr.span)
        if name in FACTS:
            return self._fact(name, expr.span, scope)
        for values, enum_type in _ENUMS:
            if name in values:
                return ir.Const(name, enum_type, expr.span)
        if _CURRENCY_SHAPE.match(name) and money.is_currency(name):
            return ir.Const(name, types.CURRENCY, expr.span)
        return self._unknown_name(expr, scope)

    def _unknown_name(self, expr: ast.Name, scope: Scope) -> ir.Node:
        known = [*scope.constants, *(f for f in FACTS if "." not in f)]
        known += [v for values, _ in _ENUMS for v in values]
        hint = suggest(expr.name, known)
        if not hint and _CURRENCY_SHAPE.match(expr.name):
            hint = "this looks like a currency code, but ISO 4217 has no such currency"
        self.report(errors.UNKNOWN_NAME, f"unknown name `{expr.name}`", expr.span,
                    "not a set, fact, role, channel, operation or currency", hint)
        return ir.Const(None, types.ERROR, expr.span)

    def _FactPath(self, expr: ast.FactPath, scope: Scope) -> ir.Node:  # noqa: N802
        if expr.dotted not in FACTS:
            self.report(errors.UNKNOWN_FACT, f"unknown fact `{expr.dotted}`", expr.span,
                        help=suggest(expr.dotted, FACTS) or _fact_list_hint(expr.parts[0]))
            return ir.Const(None, types.ERROR, expr.span)
        return self._fact(expr.dotted, expr.span, scope)

    def _fact(self, path: str, span: Span, scope: Scope) -> ir.Node:
        spec = FACTS[path]
        if not scope.facts_allowed:
            self.report(errors.TYPE_MISMATCH, f"`{path}` is a fact of the transaction; a set must"
                        " be known before any payment", span, "read at payment time")
            return ir.Const(None, types.ERROR, span)
        if spec.operations is not None and scope.operation not in spec.operations:
            where = f"`{scope.operation}`" if scope.operation else "this place"
            self.report(errors.FACT_NOT_AVAILABLE, f"`{path}` exists only for "
                        f"{', '.join(sorted(spec.operations))}, not for {where}", span,
                        help="move the condition to an `allow convert` or `deny convert` rule")
            return ir.Const(None, types.ERROR, span)
        fact_type = spec.type if spec.type is not None else _amount_type(scope)
        return ir.Fact(path, fact_type, span)

    # ---- literals ----------------------------------------------------------------------------

    def _Number(self, expr: ast.Number, scope: Scope) -> ir.Node:  # noqa: N802
        value = money.parse_number(expr.text)
        if "." in expr.text:
            return ir.Const(value, types.DECIMAL, expr.span)
        return ir.Const(int(value), types.INT, expr.span)

    def _Percent(self, expr: ast.Percent, scope: Scope) -> ir.Node:  # noqa: N802
        return ir.Const(money.parse_number(expr.number), types.PERCENT, expr.span)

    def _String(self, expr: ast.String, scope: Scope) -> ir.Node:  # noqa: N802
        return ir.Const(expr.value, types.STRING, expr.span)

    def _Boolean(self, expr: ast.Boolean, scope: Scope) -> ir.Node:  # noqa: N802
        return ir.Const(expr.value, types.BOOL, expr.span)

    def _Date(self, expr: ast.Date, scope: Scope) -> ir.Node:  # noqa: N802
        seconds = date_seconds(expr.text)
        if seconds is None:
            self.report(errors.BAD_LITERAL, f"{expr.text} is not a calendar date", expr.span,
                        "no such day")
            return ir.Const(None, types.ERROR, expr.span)
        return ir.Const(seconds, types.TIME, expr.span)

    def _Quantity(self, expr: ast.Quantity, scope: Scope) -> ir.Const:  # noqa: N802
        unit = expr.unit
        if unit in DURATION_UNITS:
            seconds = money.scale_exact(expr.number, DURATION_UNITS[unit])
            if seconds is None:
                self.report(errors.BAD_LITERAL, f"{expr.number} {unit} is not a whole number of "
                            "seconds", expr.span)
                return ir.Const(None, types.ERROR, expr.span)
            return ir.Const(seconds, types.DURATION, expr.span)
        if money.is_currency(unit):
            return self._money(expr)
        if _CURRENCY_SHAPE.match(unit):
            self.report(errors.UNKNOWN_CURRENCY, f"`{unit}` is not an ISO 4217 currency",
                        expr.unit_span, help=suggest(unit, money.CURRENCY_EXPONENTS))
        else:
            self.report(errors.BAD_LITERAL, f"unknown unit `{unit}`", expr.unit_span,
                        "expected a currency such as KZT or a duration such as days",
                        suggest(unit, DURATION_UNITS) or _month_hint(unit))
        return ir.Const(None, types.ERROR, expr.span)

    def _money(self, expr: ast.Quantity) -> ir.Const:
        try:
            minor = money.to_minor(expr.number, expr.unit)
        except money.MoneyError as error:
            self.report(errors.TOO_MANY_DECIMALS, str(error), expr.span,
                        f"{expr.unit} has {money.exponent(expr.unit)} decimals")
            return ir.Const(None, types.ERROR, expr.span)
        return ir.Const(minor, types.money(expr.unit), expr.span)

    def _SetLiteral(self, expr: ast.SetLiteral, scope: Scope) -> ir.Node:  # noqa: N802
        if len(expr.elements) > SET_ELEMENTS_MAX:
            self.report(errors.TOO_MANY_ITEMS, f"this set has {len(expr.elements)} elements; the "
                        f"limit is {SET_ELEMENTS_MAX}", expr.span)
            return ir.Const(None, types.ERROR, expr.span)
        nodes = [self.expression(element, scope) for element in expr.elements]
        if any(node.type.is_error for node in nodes):
            return ir.Const(None, types.ERROR, expr.span)
        element = nodes[0].type if nodes else Type(Kind.EMPTY)
        for node in nodes:
            if not isinstance(node, ir.Const):
                self.report(errors.TYPE_MISMATCH, "a set lists values known before any payment",
                            node.span, "this is read at payment time")
                return ir.Const(None, types.ERROR, expr.span)
            if not _compatible(element, node.type):
                self._mismatch(element, node.type, node.span, "every element of a set has one type")
                return ir.Const(None, types.ERROR, expr.span)
        values = frozenset(node.value for node in nodes if isinstance(node, ir.Const))
        return ir.Const(values, types.set_of(element), expr.span)

    # ---- operators ---------------------------------------------------------------------------

    def _Compare(self, expr: ast.Compare, scope: Scope) -> ir.Node:  # noqa: N802
        left, right = self.expression(expr.left, scope), self.expression(expr.right, scope)
        if left.type.is_error or right.type.is_error:
            return ir.Const(None, types.ERROR, expr.span)
        if expr.operator not in {"==", "!="} and left.type.kind not in types.ORDERED:
            self.report(errors.BAD_OPERATOR, f"`{expr.operator}` does not order "
                        f"{left.type.plural()}", expr.span, help="use == or != or `in`")
            return ir.Const(None, types.ERROR, expr.span)
        if not _compatible(left.type, right.type):
            self._compare_mismatch(left, right, expr.span, scope)
            return ir.Const(None, types.ERROR, expr.span)
        self._check_mcc(left, right)
        return _fold(ir.Compare(expr.operator, left, right, types.BOOL, expr.span))

    def _Membership(self, expr: ast.Membership, scope: Scope) -> ir.Node:  # noqa: N802
        left, right = self.expression(expr.left, scope), self.expression(expr.right, scope)
        if left.type.is_error or right.type.is_error:
            return ir.Const(None, types.ERROR, expr.span)
        element = right.type.element
        if right.type.kind is not Kind.SET or element is None:
            self.report(errors.TYPE_MISMATCH, f"`in` needs a set on its right, not "
                        f"{right.type.describe()}", expr.right.span, "not a set")
            return ir.Const(None, types.ERROR, expr.span)
        if not _compatible(left.type, element):
            self._mismatch(left.type, element, expr.span, "cannot look for")
            return ir.Const(None, types.ERROR, expr.span)
        self._check_mcc(left, right)
        return _fold(ir.Member(expr.negated, left, right, types.BOOL, expr.span))

    def _Arithmetic(self, expr: ast.Arithmetic, scope: Scope) -> ir.Node:  # noqa: N802
        left, right = self.expression(expr.left, scope), self.expression(expr.right, scope)
        if left.type.is_error or right.type.is_error:
            return ir.Const(None, types.ERROR, expr.span)
        result = _arithmetic_type(expr.operator, left.type, right.type)
        if result is None:
            if left.type.kind is Kind.MONEY and right.type.kind is Kind.MONEY:
                self._mismatch(left.type, right.type, expr.span, "cannot combine")
            else:
                self.report(errors.BAD_OPERATOR, f"cannot apply `{expr.operator}` to "
                            f"{left.type.describe()} and {right.type.describe()}", expr.span)
            return ir.Const(None, types.ERROR, expr.span)
        return _fold(ir.Arithmetic(expr.operator, left, right, result, expr.span))

    def _Logic(self, expr: ast.Logic, scope: Scope) -> ir.Node:  # noqa: N802
        operands = tuple(self.condition(operand, scope) for operand in expr.operands)
        if any(operand.type.is_error for operand in operands):
            return ir.Const(None, types.ERROR, expr.span)
        return _fold(ir.Logic(expr.operator, operands, types.BOOL, expr.span))

    def _Not(self, expr: ast.Not, scope: Scope) -> ir.Node:  # noqa: N802
        operand = self.condition(expr.operand, scope)
        if operand.type.is_error:
            return ir.Const(None, types.ERROR, expr.span)
        return _fold(ir.Negation(operand, types.BOOL, expr.span))

    # ---- diagnostics helpers -----------------------------------------------------------------

    def _mismatch(self, left: Type, right: Type, span: Span, verb: str) -> None:
        if left.kind is Kind.MONEY and right.kind is Kind.MONEY:
            self.report(errors.CURRENCY_MISMATCH, f"{verb} {left.currency} with {right.currency}",
                        span, f"{left.currency} on one side, {right.currency} on the other",
                        "convert explicitly with an FX rule; amounts never mix currencies")
            return
        hint = ""
        if Kind.MONEY in {left.kind, right.kind} and {left.kind, right.kind} & types.NUMERIC:
            hint = "write the currency after the number, e.g. `200_000 KZT`"
        self.report(errors.TYPE_MISMATCH, f"{verb} {left.describe()} with {right.describe()}",
                    span, help=hint)

    def _compare_mismatch(self, left: ir.Node, right: ir.Node, span: Span, scope: Scope) -> None:
        both_money = left.type.kind is Kind.MONEY and right.type.kind is Kind.MONEY
        literal = right if isinstance(right, ir.Const) else left
        if not both_money or not isinstance(literal, ir.Const):
            self._mismatch(left.type, right.type, span, "cannot compare")
            return
        other = left if literal is right else right
        label = f"this is {literal.type.currency}"
        if isinstance(other, ir.Fact) and other.path == "amount" and scope.token:
            label += f"; the token {scope.token} is {other.type.currency}"
        self.report(errors.CURRENCY_MISMATCH, f"cannot compare {left.type.currency} with "
                    f"{right.type.currency}", literal.span, label,
                    "amounts never mix currencies; an FX rule converts them")

    def _check_mcc(self, left: ir.Node, right: ir.Node) -> None:
        if not (isinstance(left, ir.Fact) and left.path == "receiver.mcc"):
            return
        if not isinstance(right, ir.Const):
            return
        values = right.value if isinstance(right.value, frozenset) else {right.value}
        unknown = sorted(code for code in values if isinstance(code, int) and not _assigned(code))
        if unknown:
            listed = ", ".join(str(code) for code in unknown)
            self.found.append(Diagnostic(
                errors.UNKNOWN_MCC, f"ISO 18245 assigns no merchant category {listed}",
                right.span, "no merchant has this category",
                "check the code against the acquirer's MCC list"))


def _assigned(code: int) -> bool:
    try:
        iso18245.get_mcc(f"{code:04d}")
    except (iso18245.MCCNotFound, iso18245.InvalidMCC):
        return False
    return True


def _amount_type(scope: Scope) -> Type:
    return types.money(scope.currency) if scope.currency else types.ERROR


def _fact_list_hint(head: str) -> str:
    known = sorted(f for f in FACTS if f.startswith(f"{head}."))
    return f"the facts of `{head}` are {', '.join(known)}" if known else ""


def _month_hint(unit: str) -> str:
    if unit.rstrip("s") in {"month", "year"}:
        return "months and years differ in length; write days (e.g. `90 days`) or a date"
    return ""


def _compatible(left: Type, right: Type) -> bool:
    if left.kind in types.NUMERIC and right.kind in types.NUMERIC:
        return True
    if Kind.EMPTY in {left.kind, right.kind}:
        return True
    if left.kind is not right.kind or left.currency != right.currency:
        return False
    if left.kind is Kind.SET and left.element and right.element:
        return _compatible(left.element, right.element)
    return True


def _arithmetic_type(symbol: str, left: Type, right: Type) -> Type | None:
    kinds = (left.kind, right.kind)
    if kinds == (Kind.SET, Kind.SET) and _compatible(left, right):
        known = left if left.element and left.element.kind is not Kind.EMPTY else right
        return known
    if kinds == (Kind.TIME, Kind.DURATION):
        return types.TIME
    if kinds == (Kind.TIME, Kind.TIME) and symbol == "-":
        return types.DURATION
    if left.kind in types.NUMERIC and right.kind in types.NUMERIC:
        return types.INT if kinds == (Kind.INT, Kind.INT) else types.DECIMAL
    addable = {Kind.MONEY, Kind.DURATION, Kind.PERCENT}
    if left.kind in addable and left == right:
        return left
    return None


_COMPARATORS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge,
}


def comparator(symbol: str) -> Callable[[Any, Any], bool]:
    """The Python function for a comparison symbol."""
    return _COMPARATORS[symbol]


def combine(symbol: str, left: object, right: object) -> object:
    """`+`/`-` on two values: set union/difference or exact arithmetic."""
    if isinstance(left, frozenset) and isinstance(right, frozenset):
        return left | right if symbol == "+" else left - right
    if isinstance(left, int | Decimal) and isinstance(right, int | Decimal):
        return left + right if symbol == "+" else left - right
    raise errors.InternalError(f"cannot combine {left!r} and {right!r}")


def _fold(node: ir.Node) -> ir.Node:
    """Replace a node whose operands are all constants by its value."""
    match node:
        case ir.Compare(symbol, ir.Const(a), ir.Const(b)):
            return ir.Const(comparator(symbol)(a, b), node.type, node.span)
        case ir.Member(negated, ir.Const(a), ir.Const(b)) if isinstance(b, frozenset):
            return ir.Const((a in b) != negated, node.type, node.span)
        case ir.Arithmetic(symbol, ir.Const(a), ir.Const(b)):
            return ir.Const(combine(symbol, a, b), node.type, node.span)
        case ir.Negation(ir.Const(a)):
            return ir.Const(not a, node.type, node.span)
        case ir.Logic(symbol, operands) if all(isinstance(o, ir.Const) for o in operands):
            values = [o.value for o in operands if isinstance(o, ir.Const)]
            result = all(values) if symbol == "and" else any(values)
            return ir.Const(result, node.type, node.span)
    return node
