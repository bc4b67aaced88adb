"""Text to syntax tree: the lark LALR parser, built once, and the transformer onto `dsl.ast`.

Syntax errors become diagnostics. After an error the parser resumes at the next line that starts a
top-level item (`set`, `token`, `policy`, `fx`, `example` in the first column), so one run reports
the syntax errors of every item rather than only the first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError
from lark.tree import Meta

from dsl import ast, errors
from dsl.errors import Diagnostic, Span
from dsl.limits import EXPRESSION_DEPTH_MAX, SOURCE_BYTES_MAX, SYNTAX_ERRORS_MAX


@cache
def parser() -> Lark:
    """The contract parser, built once from the grammar shipped as package data."""
    grammar = resources.files("dsl").joinpath("grammar.lark").read_text(encoding="utf-8")
    return Lark(
        grammar,
        parser="lalr",
        start=["start", "items", "fact_value"],
        propagate_positions=True,
        maybe_placeholders=True,
    )


@dataclass(frozen=True, slots=True)
class ParseResult:
    """The tree (None when the text has syntax errors) and every diagnostic found."""

    contract: ast.Contract | None
    diagnostics: tuple[Diagnostic, ...]


def parse_contract(text: str) -> ParseResult:
    """Parse a whole contract; never raises for bad input."""
    size = len(text.encode("utf-8"))
    if size > SOURCE_BYTES_MAX:
        message = f"the contract is {size} bytes; the limit is {SOURCE_BYTES_MAX} bytes"
        too_large = Diagnostic(errors.CONTRACT_TOO_LARGE, message, _first_line(text))
        return ParseResult(None, (too_large,))
    comments: list[Token] = []
    found = _parse_with_recovery(text, comments)
    if isinstance(found, tuple):
        return ParseResult(None, found)
    contract: ast.Contract = found
    kept = tuple(ast.Comment(c.value, _int(c.line), _int(c.column)) for c in comments)
    return ParseResult(
        ast.Contract(contract.header, contract.items, contract.span, kept), ()
    )


def parse_value(text: str) -> ast.Expr:
    """Parse one value as written in a contract (`12_500 KZT`, `0.8 %`, `merchant`), for the CLI.

    Raises `errors.InputError` naming what was expected.
    """
    try:
        tree = parser().parse(text, start="fact_value")
    except UnexpectedInput as error:
        raise errors.InputError(f"cannot read {text!r} as a value: {_describe(error)}") from None
    result = _to_ast(tree)
    if isinstance(result, Diagnostic):
        raise errors.InputError(f"cannot read {text!r} as a value: {result.message}")
    expr: ast.Expr = result
    return expr


_ITEM_START = re.compile(r"^(set|token|policy|fx|example)\b", re.MULTILINE)


def _parse_with_recovery(text: str, comments: list[Token]) -> ast.Contract | tuple[Diagnostic, ...]:
    found: list[Diagnostic] = []
    start, offset = "start", 0
    while len(found) < SYNTAX_ERRORS_MAX:
        # Blank out what was already read, keeping newlines, so positions stay true to the file.
        visible = re.sub(r"[^\n]", " ", text[:offset]) + text[offset:]
        try:
            tree = parser().parse(visible, start=start)
        except UnexpectedInput as error:
            found.append(_syntax_diagnostic(error))
            resume = _resume_offset(text, error)
            if resume is None:
                break
            offset = resume
            start = "items"
            continue
        if found:
            break
        comments.extend(_comments(text))
        result = _to_ast(tree)
        if isinstance(result, Diagnostic):
            return (result,)
        contract: ast.Contract = result
        return contract
    return tuple(found)


def _comments(text: str) -> Iterator[Token]:
    # The lexer ignores comments; the formatter needs them, with their positions.
    for token in parser().lex(text, dont_ignore=True):
        if token.type == "COMMENT":
            yield token


def _resume_offset(text: str, error: UnexpectedInput) -> int | None:
    line_start = sum(len(line) + 1 for line in text.split("\n")[: max(_int(error.line), 1)])
    match = _ITEM_START.search(text, min(line_start, len(text)))
    return match.start() if match else None


def _first_line(text: str) -> Span:
    first = text.split("\n", 1)[0]
    return Span(1, 1, 1, max(len(first), 1) + 1)


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 1


# ---- syntax diagnostics ----------------------------------------------------------------------

_TERMINAL_NAMES = {
    "NAME": "a name",
    "INT": "a whole number",
    "DECIMAL": "a decimal number",
    "STRING": "a string in double quotes",
    "DATE": "a date (YYYY-MM-DD)",
    "COMPARATOR": "a comparison (==, !=, <, <=, >, >=)",
    "ADDITIVE": "`+` or `-`",
    "$END": "the end of the contract",
}
_EXPECTED_SHOWN_MAX = 6


def _terminal_name(name: str) -> str:
    if name in _TERMINAL_NAMES:
        return _TERMINAL_NAMES[name]
    for terminal in parser().terminals:
        if terminal.name == name and terminal.pattern.type == "str":
            return f"`{terminal.pattern.value}`"
    return name.lower()


def _expected(names: set[str] | frozenset[str] | None) -> str:
    shown = sorted({_terminal_name(n) for n in names or ()})
    if not shown or len(shown) > _EXPECTED_SHOWN_MAX:
        return ""
    if len(shown) == 1:
        return shown[0]
    return ", ".join(shown[:-1]) + " or " + shown[-1]


def _describe(error: UnexpectedInput) -> str:
    if isinstance(error, UnexpectedToken):
        expected = _expected(error.expected)
        got = "the end" if error.token.type == "$END" else f"`{error.token.value}`"
        return f"unexpected {got}" + (f"; expected {expected}" if expected else "")
    if isinstance(error, UnexpectedCharacters):
        return f"unexpected character {error.char!r}"
    return str(error)


def _syntax_diagnostic(error: UnexpectedInput) -> Diagnostic:
    line, column = _int(error.line), _int(error.column)
    if isinstance(error, UnexpectedToken):
        return _token_diagnostic(error, line, column)
    if isinstance(error, UnexpectedCharacters):
        expected = _expected(error.allowed)
        return Diagnostic(
            errors.UNEXPECTED_CHARACTER,
            f"unexpected character {error.char!r}",
            Span(line, column, line, column + 1),
            label=f"expected {expected}" if expected else "not part of the language",
        )
    return Diagnostic(errors.UNEXPECTED_TOKEN, str(error), Span(line, column, line, column + 1))


def _token_diagnostic(error: UnexpectedToken, line: int, column: int) -> Diagnostic:
    token = error.token
    expected = _expected(error.expected)
    if token.type == "$END":
        return Diagnostic(
            errors.UNEXPECTED_END,
            "the contract ended in the middle of a rule or block",
            Span(line, column, line, column + 1),
            label=f"expected {expected}" if expected else "something is missing here",
            help="check that every `{` has its `}`",
        )
    span = Span(line, column, _int(token.end_line), _int(token.end_column))
    return Diagnostic(
        errors.UNEXPECTED_TOKEN,
        f"unexpected `{token.value}`",
        span,
        label=f"expected {expected}" if expected else "not expected here",
        help=_hint(token, error.expected),
    )


def _hint(token: Token, expected: set[str] | frozenset[str]) -> str:
    """Friendly advice for the mistakes people make most."""
    if token.type == "EQUAL":
        return "to compare two values write `==`; `=` only defines a set"
    if token.type == "NAME" and expected == {"STRING"}:
        return "write the text in double quotes"
    if token.type in {"INT", "DECIMAL"} and "NAME" in expected:
        return "an amount needs its currency (`200_000 KZT`) and a duration its unit (`30 days`)"
    return ""


# ---- tree to AST ------------------------------------------------------------------------------


def _to_ast(tree: Tree[Token]) -> Any:
    too_deep = _deepest_over_limit(tree)
    if too_deep is not None:
        return Diagnostic(
            errors.NESTING_TOO_DEEP,
            f"this expression is nested more than {EXPRESSION_DEPTH_MAX} levels deep",
            too_deep,
            help="split the condition into named sets or simpler rules",
        )
    try:
        return _Builder().transform(tree)
    except VisitError as error:
        failure = error.orig_exc
        raise errors.InternalError(f"building the syntax tree failed: {failure!r}") from error


_NESTING_RULES = {"negation", "compare", "member", "not_member", "arithmetic", "set_literal",
                  "or_chain", "and_chain"}


def _deepest_over_limit(tree: Tree[Token]) -> Span | None:
    # Iterative, so that a hostile input cannot exhaust Python's stack before the limit applies.
    stack: list[tuple[Tree[Token], int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        depth += node.data in _NESTING_RULES
        if depth > EXPRESSION_DEPTH_MAX:
            return _meta_span(node.meta)
        stack.extend((child, depth) for child in node.children if isinstance(child, Tree))
    return None


def _meta_span(meta: Meta) -> Span:
    if meta.empty:
        return errors.UNKNOWN_SPAN
    return Span(meta.line, meta.column, meta.end_line, meta.end_column)


def _token_span(token: Token) -> Span:
    return Span(_int(token.line), _int(token.column), _int(token.end_line), _int(token.end_column))


def _unquote(token: Token) -> str:
    body = str(token)[1:-1]
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), body)


def _present(children: list[Any]) -> list[Any]:
    return [child for child in children if child is not None]


@v_args(meta=True)
class _Builder(Transformer[Token, Any]):
    """One callback per grammar alias; each returns the AST node of its rule."""

    # -- contract and items
    def start(self, meta: Meta, children: list[Any]) -> ast.Contract:
        header, *items = children
        return ast.Contract(header, tuple(items), _meta_span(meta))

    def items(self, meta: Meta, children: list[Any]) -> ast.Contract:
        header = ast.Header("", "", None, errors.UNKNOWN_SPAN)
        return ast.Contract(header, tuple(children), _meta_span(meta))

    def header(self, meta: Meta, children: list[Any]) -> ast.Header:
        name, version, description = children
        text = ast.String(_unquote(description), _token_span(description)) if description else None
        return ast.Header(str(name), str(version), text, _meta_span(meta))

    def set_def(self, meta: Meta, children: list[Any]) -> ast.SetDef:
        name, value = children
        return ast.SetDef(str(name), value, _meta_span(meta), _token_span(name))

    # -- tokens
    def token_def(self, meta: Meta, children: list[Any]) -> ast.TokenDef:
        name, *fields = children
        # A token is a record: its fields' order carries no meaning, so the tree keeps them in
        # the canonical order (stable, so a duplicate still follows its first occurrence).
        fields.sort(key=lambda field: ast.TOKEN_FIELD_ORDER.index(field.key))
        return ast.TokenDef(str(name), tuple(fields), _meta_span(meta), _token_span(name))

    def token_currency(self, meta: Meta, children: list[Any]) -> ast.TokenField:
        (code,) = children
        return ast.TokenField("currency", ast.Name(str(code), _token_span(code)), _meta_span(meta))

    def token_issuer(self, meta: Meta, children: list[Any]) -> ast.TokenField:
        (issuer,) = children
        value = ast.String(_unquote(issuer), _token_span(issuer))
        return ast.TokenField("issuer", value, _meta_span(meta))

    def token_expires(self, meta: Meta, children: list[Any]) -> ast.TokenField:
        (expiry,) = children
        return ast.TokenField("expires", expiry, _meta_span(meta))

    def token_bridged(self, meta: Meta, children: list[Any]) -> ast.TokenField:
        return ast.TokenField("bridged", None, _meta_span(meta))

    def expires_on(self, meta: Meta, children: list[Any]) -> ast.Expiry:
        date, then = children
        moment = ast.Date(str(date), _token_span(date))
        return ast.Expiry(moment, then or "return", _meta_span(meta))

    def expires_after(self, meta: Meta, children: list[Any]) -> ast.Expiry:
        quantity, then = children
        return ast.Expiry(quantity, then or "return", _meta_span(meta))

    def then_return(self, meta: Meta, children: list[Any]) -> str:
        return "return"

    def then_burn(self, meta: Meta, children: list[Any]) -> str:
        return "burn"

    def then_release(self, meta: Meta, children: list[Any]) -> str:
        return "release"

    # -- policies
    def policy_def(self, meta: Meta, children: list[Any]) -> ast.PolicyDef:
        name, *items = children
        return ast.PolicyDef(str(name), tuple(items), _meta_span(meta), _token_span(name))

    def allow_rule(self, meta: Meta, children: list[Any]) -> ast.Rule:
        operation, targets, providers, condition = children
        return ast.Rule("allow", str(operation), targets, providers, condition, None,
                        _meta_span(meta), _token_span(operation))

    def deny_rule(self, meta: Meta, children: list[Any]) -> ast.Rule:
        operation, targets, providers, condition, because = children
        return ast.Rule("deny", str(operation), targets, providers, condition, because,
                        _meta_span(meta), _token_span(operation))

    def to_clause(self, meta: Meta, children: list[Any]) -> Any:
        return children[0]

    via_clause = when_clause = to_clause

    def because_clause(self, meta: Meta, children: list[Any]) -> ast.String:
        (text,) = children
        return ast.String(_unquote(text), _token_span(text))

    def limit_rule(self, meta: Meta, children: list[Any]) -> ast.Limit:
        amount, (scope, period) = children
        return ast.Limit(amount, scope, period, _meta_span(meta))

    def per_transaction(self, meta: Meta, children: list[Any]) -> tuple[str, None]:
        return ("transaction", None)

    def per_wallet(self, meta: Meta, children: list[Any]) -> tuple[str, str]:
        return ("wallet", children[0])

    def per_merchant(self, meta: Meta, children: list[Any]) -> tuple[str, str]:
        return ("merchant", children[0])

    def day(self, meta: Meta, children: list[Any]) -> str:
        return "day"

    def week(self, meta: Meta, children: list[Any]) -> str:
        return "week"

    def month(self, meta: Meta, children: list[Any]) -> str:
        return "month"

    def hold_rule(self, meta: Meta, children: list[Any]) -> ast.Hold:
        return ast.Hold(children[0], _meta_span(meta))

    def release_rule(self, meta: Meta, children: list[Any]) -> ast.Release:
        (operation,) = children
        return ast.Release(str(operation), _meta_span(meta), _token_span(operation))

    # -- FX corridors
    def fx_def(self, meta: Meta, children: list[Any]) -> ast.FxDef:
        source, target, *clauses = children
        span = _token_span(source).merge(_token_span(target))
        return ast.FxDef(str(source), str(target), tuple(clauses), _meta_span(meta), span)

    def fx_providers(self, meta: Meta, children: list[Any]) -> ast.FxClause:
        return ast.FxClause("providers", children[0], _meta_span(meta))

    def fx_max_spread(self, meta: Meta, children: list[Any]) -> ast.FxClause:
        return ast.FxClause("max_spread", children[0], _meta_span(meta))

    def fx_max_fee(self, meta: Meta, children: list[Any]) -> ast.FxClause:
        return ast.FxClause("max_fee", children[0], _meta_span(meta))

    def fx_max_amount(self, meta: Meta, children: list[Any]) -> ast.FxClause:
        return ast.FxClause("max_amount", children[0], _meta_span(meta))

    def fx_quote_valid(self, meta: Meta, children: list[Any]) -> ast.FxClause:
        return ast.FxClause("quote_valid", children[0], _meta_span(meta))

    # -- examples
    def example_def(self, meta: Meta, children: list[Any]) -> ast.ExampleDef:
        title, subject, *steps = children
        token, corridor, subject_span = None, None, None
        if subject is not None:
            kind, names, subject_span = subject
            token = names[0] if kind == "token" else None
            corridor = (names[0], names[1]) if kind == "corridor" else None
        text = ast.String(_unquote(title), _token_span(title))
        return ast.ExampleDef(text, token, corridor, tuple(steps), _meta_span(meta), subject_span)

    def for_token(self, meta: Meta, children: list[Any]) -> tuple[str, list[str], Span]:
        return ("token", [str(children[0])], _meta_span(meta))

    def for_corridor(self, meta: Meta, children: list[Any]) -> tuple[str, list[str], Span]:
        return ("corridor", [str(children[0]), str(children[1])], _meta_span(meta))

    def operation_step(self, meta: Meta, children: list[Any]) -> ast.OperationStep:
        operation, amount, sender, receiver, via, channel = children
        provider, quote = via if via is not None else (None, ())
        return ast.OperationStep(str(operation), amount, sender, receiver, provider, quote,
                                 channel, _meta_span(meta), _token_span(operation))

    def from_clause(self, meta: Meta, children: list[Any]) -> Any:
        return children[0]

    to_party = from_clause

    def via_quote(self, meta: Meta, children: list[Any]) -> tuple[ast.String, tuple[Any, ...]]:
        provider, facts = children
        return ast.String(_unquote(provider), _token_span(provider)), facts or ()

    def with_clause(self, meta: Meta, children: list[Any]) -> ast.Name:
        (channel,) = children
        return ast.Name(str(channel), _token_span(channel))

    def party(self, meta: Meta, children: list[Any]) -> ast.Party:
        role, facts = children
        return ast.Party(str(role), facts or (), _meta_span(meta))

    def fact_list(self, meta: Meta, children: list[Any]) -> tuple[tuple[str, ast.Expr], ...]:
        return tuple(_present(children))

    def fact_pair(self, meta: Meta, children: list[Any]) -> tuple[str, ast.Expr]:
        name, value = children
        return (str(name), value)

    def advance_by(self, meta: Meta, children: list[Any]) -> ast.Advance:
        return ast.Advance(children[0], None, _meta_span(meta))

    def advance_to(self, meta: Meta, children: list[Any]) -> ast.Advance:
        (date,) = children
        return ast.Advance(None, ast.Date(str(date), _token_span(date)), _meta_span(meta))

    def expect_allowed(self, meta: Meta, children: list[Any]) -> ast.Expect:
        return ast.Expect(True, None, None, _meta_span(meta))

    def expect_denied(self, meta: Meta, children: list[Any]) -> ast.Expect:
        ground, rule = children[0] if children[0] is not None else (None, None)
        return ast.Expect(False, ground, rule, _meta_span(meta))

    def by_limit(self, meta: Meta, children: list[Any]) -> tuple[str, None]:
        return ("limit", None)

    def by_expiry(self, meta: Meta, children: list[Any]) -> tuple[str, None]:
        return ("expiry", None)

    def by_default(self, meta: Meta, children: list[Any]) -> tuple[str, None]:
        return ("default", None)

    def by_rule(self, meta: Meta, children: list[Any]) -> tuple[str, ast.String | ast.Number]:
        (which,) = children
        if which.type == "STRING":
            return ("rule", ast.String(_unquote(which), _token_span(which)))
        return ("rule", ast.Number(str(which), _token_span(which)))

    # -- expressions
    def or_chain(self, meta: Meta, children: list[Any]) -> ast.Logic:
        return ast.Logic("or", tuple(children), _meta_span(meta))

    def and_chain(self, meta: Meta, children: list[Any]) -> ast.Logic:
        return ast.Logic("and", tuple(children), _meta_span(meta))

    def negation(self, meta: Meta, children: list[Any]) -> ast.Not:
        return ast.Not(children[0], _meta_span(meta))

    def compare(self, meta: Meta, children: list[Any]) -> ast.Compare:
        left, operator, right = children
        return ast.Compare(str(operator), left, right, _meta_span(meta))

    def member(self, meta: Meta, children: list[Any]) -> ast.Membership:
        left, right = children
        return ast.Membership(False, left, right, _meta_span(meta))

    def not_member(self, meta: Meta, children: list[Any]) -> ast.Membership:
        left, right = children
        return ast.Membership(True, left, right, _meta_span(meta))

    def arithmetic(self, meta: Meta, children: list[Any]) -> ast.Arithmetic:
        left, operator, right = children
        return ast.Arithmetic(str(operator), left, right, _meta_span(meta))

    def name(self, meta: Meta, children: list[Any]) -> ast.Name:
        return ast.Name(str(children[0]), _meta_span(meta))

    def fact_path(self, meta: Meta, children: list[Any]) -> ast.FactPath:
        return ast.FactPath(tuple(str(part) for part in children), _meta_span(meta))

    def number(self, meta: Meta, children: list[Any]) -> ast.Number:
        return ast.Number(str(children[0]), _meta_span(meta))

    def string(self, meta: Meta, children: list[Any]) -> ast.String:
        return ast.String(_unquote(children[0]), _meta_span(meta))

    def date(self, meta: Meta, children: list[Any]) -> ast.Date:
        return ast.Date(str(children[0]), _meta_span(meta))

    def true(self, meta: Meta, children: list[Any]) -> ast.Boolean:
        return ast.Boolean(True, _meta_span(meta))

    def false(self, meta: Meta, children: list[Any]) -> ast.Boolean:
        return ast.Boolean(False, _meta_span(meta))

    def set_literal(self, meta: Meta, children: list[Any]) -> ast.SetLiteral:
        return ast.SetLiteral(tuple(_present(children)), _meta_span(meta))

    def quantity(self, meta: Meta, children: list[Any]) -> ast.Quantity:
        number, unit = children
        return ast.Quantity(str(number), str(unit), _meta_span(meta), _token_span(unit))

    def percent(self, meta: Meta, children: list[Any]) -> ast.Percent:
        return ast.Percent(str(children[0]), _meta_span(meta))

    def fact_value(self, meta: Meta, children: list[Any]) -> Any:
        return children[0]
