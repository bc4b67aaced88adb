"""Syntax tree to text: the one canonical layout of a contract, with the author's comments kept.

The layout follows the language design page: the header line and its description, one blank line
between top-level items (a run of `set` lines stays together as one table), blocks indented by two
spaces, one construct per line, literals exactly as the author wrote them, and expressions with
single spaces around operators and only the parentheses that precedence requires (and those
around a chain nested in a chain of the same operator, which the parser would otherwise flatten).
Token fields come in the order currency, issuer, expires; everything else keeps the author's order,
because the order of rules, clauses and steps is part of what a contract says. Reading the text
back gives the same tree, except that the token fields are in that order.

Comments are not part of the tree. The parser keeps each one aside with its line and column, and
the formatter gives it back beside the construct it was written with. The layout is a list of
pieces, one per construct a comment can attach to (the header, a `set`, a token field, a policy
rule, an FX clause, an example step, and the opening and closing lines of each block), and each
piece remembers where its construct stood in the source:

* a comment on a line where a construct has begun and not yet ended trails that construct (the one
  that began last), at the end of the output line holding what the author wrote before it;
* any other comment goes on a line of its own before the next piece in the source: before the
  closing `}` when it follows the last construct of a block, at the end when it ends the file;
* two comments that would trail the same output line go on their own lines before the construct
  instead, since the second would otherwise read back as part of the first.

Comments keep their text except for trailing whitespace.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final

from dsl import ast
from dsl.errors import ContractError, InternalError, Span
from dsl.parse import parse_contract

INDENT: Final = "  "
LINE_WIDTH_MAX: Final = 100  # characters, indentation included; beyond it `because` moves down
COMMENT_GAP: Final = "  "  # between code and the comment at the end of its line
SOURCE_NAME: Final = "<source>"  # the path named by errors in text given as a string


def format_source(text: str) -> str:
    """Parse `text` and return it in canonical layout; raise `ContractError` on syntax errors."""
    result = parse_contract(text)
    if result.contract is None or result.diagnostics:
        raise ContractError(SOURCE_NAME, result.diagnostics)
    return format_contract(result.contract)


def format_contract(contract: ast.Contract) -> str:
    """The canonical text of `contract` with its comments, ending with one newline."""
    pieces = _layout(contract)
    return _render(pieces, _place(pieces, contract.comments))


# ---- expressions -----------------------------------------------------------------------------

# How tightly each kind of expression binds, loosest first. An operand that binds more loosely than
# its position requires is put in parentheses; no other parentheses are written.
_OR, _AND, _NOT, _COMPARISON, _SUM, _ATOM = range(6)


def _expression(expr: ast.Expr, loosest: int = _OR) -> str:
    """`expr` as text, in parentheses when it binds more loosely than `loosest` allows."""
    text, binding = _bare_expression(expr)
    return f"({text})" if binding < loosest else text


def _bare_expression(expr: ast.Expr) -> tuple[str, int]:
    """The text of `expr` without surrounding parentheses, and how tightly it binds."""
    match expr:
        case ast.Logic(operator=operator):
            return _logic(expr), _OR if operator == "or" else _AND
        case ast.Not(operand=operand):
            return f"not {_expression(operand, _NOT)}", _NOT
        case ast.Compare(operator=operator, left=left, right=right):
            # Comparisons do not chain: both sides are sums.
            return f"{_expression(left, _SUM)} {operator} {_expression(right, _SUM)}", _COMPARISON
        case ast.Membership(negated=negated, left=left, right=right):
            keyword = "not in" if negated else "in"
            return f"{_expression(left, _SUM)} {keyword} {_expression(right, _SUM)}", _COMPARISON
        case ast.Arithmetic(operator=operator, left=left, right=right):
            # `+` and `-` associate to the left, so only a sum on the right needs parentheses.
            return f"{_expression(left, _SUM)} {operator} {_expression(right, _ATOM)}", _SUM
        case _:
            return _atom(expr), _ATOM


def _logic(chain: ast.Logic) -> str:
    """`a and b and c`: each operand must bind more tightly than the chain itself.

    The parser flattens `a and b and c` into one chain, so a chain directly inside a chain of the
    same operator can only come from parentheses; keeping them lets the tree round-trip unchanged.
    """
    operand_loosest = (_OR if chain.operator == "or" else _AND) + 1
    return f" {chain.operator} ".join(_expression(o, operand_loosest) for o in chain.operands)


def _atom(expr: ast.Expr) -> str:
    """A literal, a name or a set, which never need parentheses."""
    match expr:
        case ast.Name(name=name):
            return name
        case ast.FactPath():
            return expr.dotted
        case ast.Number(text=text) | ast.Date(text=text):
            return text
        case ast.Quantity():
            return _quantity(expr)
        case ast.Percent(number=number):
            return f"{number} %"
        case ast.String(value=value):
            return _quote(value)
        case ast.Boolean(value=value):
            return "true" if value else "false"
        case ast.SetLiteral(elements=elements):
            return "{" + ", ".join(_expression(element) for element in elements) + "}"
    raise InternalError(f"the formatter does not know the expression {expr!r}")


def _quantity(quantity: ast.Quantity) -> str:
    return f"{quantity.number} {quantity.unit}"


def _quote(value: str) -> str:
    """A string literal for `value`: the inverse of the parser's `_unquote`."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


# ---- one line per construct ------------------------------------------------------------------

_EXPIRY_THEN: Final = {"return": "return to issuer", "burn": "burn", "release": "release"}
# Each FX clause as the text before and after its value.
_FX_CLAUSE_FORMS: Final = {
    "providers": ("providers", ""),
    "max_spread": ("max spread", " over reference"),
    "max_fee": ("max fee", ""),
    "max_amount": ("max amount", " per payment"),
    "quote_valid": ("quote valid", ""),
}


def _known(table: Mapping[str, object], key: str, what: str) -> None:
    # A key the parser cannot produce means a hand-built tree is wrong: a bug, not a user error.
    if key not in table:
        raise InternalError(f"the formatter does not know the {what} {key!r}")


def _token_field_rank(token_field: ast.TokenField) -> int:
    if token_field.key in ast.TOKEN_FIELD_ORDER:
        return ast.TOKEN_FIELD_ORDER.index(token_field.key)
    return len(ast.TOKEN_FIELD_ORDER)


def _token_field_line(token_field: ast.TokenField) -> str:
    value = token_field.value
    if value is None:
        return token_field.key
    if isinstance(value, ast.Expiry):
        return f"expires {_expiry(value)}"
    return f"{token_field.key} {_atom(value)}"


def _expiry(expiry: ast.Expiry) -> str:
    # The then-clause is always written out, so that nobody has to remember the default.
    _known(_EXPIRY_THEN, expiry.then, "expiry action")
    after = " after issue" if isinstance(expiry.moment, ast.Quantity) else ""
    return f"{_atom(expiry.moment)}{after}, then {_EXPIRY_THEN[expiry.then]}"


def _policy_item_lines(item: ast.PolicyItem) -> tuple[str, ...]:
    match item:
        case ast.Rule():
            return _rule_lines(item)
        case ast.Limit(amount=amount, scope=scope, period=period):
            per_period = f" per {period}" if period is not None else ""
            return (f"limit {_quantity(amount)} per {scope}{per_period}",)
        case ast.Hold(amount=amount):
            return (f"hold at most {_quantity(amount)} per wallet",)
        case ast.Release(operation=operation):
            return (f"release on {operation}",)
    raise InternalError(f"the formatter does not know the policy item {item!r}")


def _rule_lines(rule: ast.Rule) -> tuple[str, ...]:
    """One line, or two when the reason would push the line past `LINE_WIDTH_MAX`."""
    head = _rule_head(rule)
    if rule.because is None:
        return (head,)
    because = f"because {_quote(rule.because.value)}"
    if len(INDENT) + len(head) + 1 + len(because) <= LINE_WIDTH_MAX:
        return (f"{head} {because}",)
    return (head, INDENT + because)


def _rule_head(rule: ast.Rule) -> str:
    parts = [rule.kind, rule.operation]
    if rule.targets is not None:
        parts.append(f"to {_expression(rule.targets, _ATOM)}")
    if rule.providers is not None:
        parts.append(f"via {_expression(rule.providers, _ATOM)}")
    if rule.condition is not None:
        parts.append(f"when {_expression(rule.condition)}")
    return " ".join(parts)


def _fx_clause_line(clause: ast.FxClause) -> str:
    _known(_FX_CLAUSE_FORMS, clause.key, "FX clause")
    before, after = _FX_CLAUSE_FORMS[clause.key]
    return f"{before} {_expression(clause.value, _ATOM)}{after}"


def _step_lines(step: ast.Step) -> tuple[str, ...]:
    """One line, or, for an operation too long for `LINE_WIDTH_MAX`, one line per clause."""
    match step:
        case ast.OperationStep():
            head, *clauses = _operation_step_parts(step)
            line = " ".join((head, *clauses))
            if len(INDENT) + len(line) <= LINE_WIDTH_MAX:
                return (line,)
            return (head, *(INDENT + clause for clause in clauses))
        case ast.Advance(by=ast.Quantity() as by):
            return (f"advance {_quantity(by)}",)
        case ast.Advance(to=ast.Date(text=date)):
            return (f"advance to {date}",)
        case ast.Expect():
            return (_expect_line(step),)
    raise InternalError(f"the formatter does not know the example step {step!r}")


def _operation_step_parts(step: ast.OperationStep) -> list[str]:
    """The operation with its amount and sender, then each further clause."""
    head = f"{step.operation} {_quantity(step.amount)}"
    if step.sender is not None:
        head += f" from {_party(step.sender)}"
    parts = [head]
    if step.receiver is not None:
        parts.append(f"to {_party(step.receiver)}")
    if step.provider is not None:
        quote = f" {_facts(step.quote)}" if step.quote else ""
        parts.append(f"via {_quote(step.provider.value)}{quote}")
    if step.channel is not None:
        parts.append(f"with channel {step.channel.name}")
    return parts


def _party(party: ast.Party) -> str:
    # A party without facts is written bare: `individual`, not `individual()`.
    return party.role + (_facts(party.facts) if party.facts else "")


def _facts(facts: Sequence[tuple[str, ast.Expr]]) -> str:
    return "(" + ", ".join(f"{name}: {_expression(value)}" for name, value in facts) + ")"


def _expect_line(expect: ast.Expect) -> str:
    if expect.allowed:
        return "expect allowed"
    if expect.ground is None:
        return "expect denied"
    rule = f" {_atom(expect.rule)}" if expect.rule is not None else ""
    return f"expect denied by {expect.ground}{rule}"


def _example_opening(example: ast.ExampleDef) -> str:
    subject = ""
    if example.corridor is not None:
        subject = f" for {example.corridor[0]} -> {example.corridor[1]}"
    elif example.token is not None:
        subject = f" for {example.token}"
    return f"example {_quote(example.title.value)}{subject} {{"


# ---- layout: pieces that comments attach to --------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Piece:
    """The output lines of one construct, and where that construct stood in the source."""

    lines: tuple[str, ...]  # indented
    start: tuple[int, int]  # (line, column) of its first character in the source
    end_line: int  # the last source line a comment may trail it on
    comment_indent: str = ""  # for a comment on its own line before this piece
    continuations: tuple[int, ...] = ()  # the source lines where lines[1:] begin
    blank_before: bool = False


def _layout(contract: ast.Contract) -> list[_Piece]:
    pieces = [_header_piece(contract.header)]
    previous: ast.Item | None = None
    for item in contract.items:
        first, *rest = _item_pieces(item)
        # A run of sets reads as one table; every other item stands apart.
        grouped = isinstance(item, ast.SetDef) and isinstance(previous, ast.SetDef)
        pieces.append(replace(first, blank_before=not grouped))
        pieces.extend(rest)
        previous = item
    return pieces


def _header_piece(header: ast.Header) -> _Piece:
    lines = [f"contract {header.name} version {header.version}"]
    if header.description is None:
        return _leaf(lines, header.span, "")
    lines.append(INDENT + _quote(header.description.value))
    return _leaf(lines, header.span, "", [header.description.span.line])


def _item_pieces(item: ast.Item) -> list[_Piece]:
    match item:
        case ast.SetDef(name=name, value=value):
            return [_leaf((f"set {name} = {_expression(value)}",), item.span, "")]
        case ast.TokenDef():
            return _token_pieces(item)
        case ast.PolicyDef():
            rules = [_policy_item_piece(rule) for rule in item.items]
            return _block(f"policy {item.token} {{", item.span, item.token_span, rules)
        case ast.FxDef():
            clauses = [_leaf([_fx_clause_line(c)], c.span, INDENT) for c in item.clauses]
            return _block(f"fx {item.label} {{", item.span, item.currencies_span, clauses)
        case ast.ExampleDef():
            return _example_pieces(item)
    raise InternalError(f"the formatter does not know the item {item!r}")


def _token_pieces(token: ast.TokenDef) -> list[_Piece]:
    fields = sorted(token.fields, key=_token_field_rank)
    children = [_leaf([_token_field_line(field)], field.span, INDENT) for field in fields]
    return _block(f"token {token.name} {{", token.span, token.name_span, children)


def _example_pieces(example: ast.ExampleDef) -> list[_Piece]:
    steps = [_leaf(list(_step_lines(step)), step.span, INDENT) for step in example.steps]
    subject = example.subject_span or example.title.span
    return _block(_example_opening(example), example.span, subject, steps)


def _policy_item_piece(item: ast.PolicyItem) -> _Piece:
    lines = _policy_item_lines(item)
    if isinstance(item, ast.Rule) and item.because is not None and len(lines) > 1:
        return _leaf(lines, item.span, INDENT, [item.because.span.line])
    return _leaf(lines, item.span, INDENT)


def _leaf(
    lines: Sequence[str], span: Span, indent: str, continuations: Sequence[int] = ()
) -> _Piece:
    """A construct printed on `lines`.

    `continuations` are the source lines where the lines after the first begin, so that a comment
    the author wrote beside one part of the construct stays beside that part.
    """
    indented = tuple(indent + line for line in lines)
    return _Piece(indented, (span.line, span.column), span.end_line, indent, tuple(continuations))


def _block(
    opening: str,
    span: Span,
    heading: Span,
    children: Iterable[_Piece],
) -> list[_Piece]:
    """The opening line, the children's pieces, and the closing brace.

    `heading` is the last thing before the `{` whose position the tree knows (the block's name);
    a comment on a line up to its end trails the opening line.
    """
    opening_end_line = max(heading.end_line, span.line)
    pieces = [_Piece((opening,), (span.line, span.column), opening_end_line)]
    pieces.extend(children)
    # The closing brace is the last character of the block's span; a comment before it belongs
    # to the block's contents and is indented like them.
    closing = (span.end_line, span.end_column - 1)
    pieces.append(_Piece(("}",), closing, span.end_line, comment_indent=INDENT))
    return pieces


# ---- comments --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Placement:
    """Where each comment goes: before a piece, at the end of one of its lines, or at the end."""

    leading: dict[int, list[ast.Comment]]  # piece index -> comments on their own lines before it
    trailing: dict[tuple[int, int], ast.Comment]  # (piece index, line index) -> comment
    final: list[ast.Comment]  # after the last construct of the file


def _position(comment: ast.Comment) -> tuple[int, int]:
    return (comment.line, comment.column)


def _place(pieces: Sequence[_Piece], comments: Iterable[ast.Comment]) -> _Placement:
    # Pieces come in output order, which differs from the source where token fields are sorted.
    order = sorted(range(len(pieces)), key=lambda index: pieces[index].start)
    starts = [pieces[index].start for index in order]
    leading: defaultdict[int, list[ast.Comment]] = defaultdict(list)
    trailing: defaultdict[tuple[int, int], list[ast.Comment]] = defaultdict(list)
    final: list[ast.Comment] = []
    for comment in sorted(comments, key=_position):
        started = bisect.bisect_left(starts, _position(comment))  # pieces that start before it
        owner = order[started - 1] if started else None
        if owner is not None and pieces[owner].end_line >= comment.line:
            trailing[(owner, _line_index(pieces[owner], comment))].append(comment)
        elif started < len(order):
            leading[order[started]].append(comment)
        else:
            final.append(comment)
    return _Placement(*_settle(leading, trailing), final)


def _line_index(piece: _Piece, comment: ast.Comment) -> int:
    """The output line of `piece` that holds what the author wrote before the comment."""
    return sum(1 for line in piece.continuations if line <= comment.line)


def _settle(
    leading: dict[int, list[ast.Comment]],
    trailing: dict[tuple[int, int], list[ast.Comment]],
) -> tuple[dict[int, list[ast.Comment]], dict[tuple[int, int], ast.Comment]]:
    """Give each output line at most one trailing comment.

    A construct the author spread over several lines, with a comment on each, becomes one line;
    two comments at its end would read back as one, so they go on their own lines before it.
    """
    single: dict[tuple[int, int], ast.Comment] = {}
    for (index, line), group in trailing.items():
        if len(group) == 1:
            single[(index, line)] = group[0]
        else:
            leading[index] = sorted([*leading.get(index, []), *group], key=_position)
    return dict(leading), single


def _render(pieces: Sequence[_Piece], placement: _Placement) -> str:
    lines: list[str] = []
    for index, piece in enumerate(pieces):
        if piece.blank_before:
            lines.append("")
        lines.extend(piece.comment_indent + _text(c) for c in placement.leading.get(index, ()))
        for number, line in enumerate(piece.lines):
            comment = placement.trailing.get((index, number))
            lines.append(line if comment is None else line + COMMENT_GAP + _text(comment))
    if placement.final:
        lines.append("")
        lines.extend(_text(comment) for comment in placement.final)
    return "\n".join(lines) + "\n"


def _text(comment: ast.Comment) -> str:
    return comment.text.rstrip()
