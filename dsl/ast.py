"""The syntax tree of a contract: frozen dataclasses that carry their source spans.

Spans are excluded from equality, so two trees compare equal when they say the same thing however
they were laid out; the formatter's round-trip test relies on that. Literals keep the text the
author wrote (`200_000`, `0.50`) so the formatter can give it back unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from dsl.errors import Span


def _span() -> Any:
    """A span field that takes no part in equality or repr."""
    return field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Name:
    """A bare identifier: a set, a fact such as `amount`, a role, a channel, a currency."""

    name: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class FactPath:
    """A dotted fact such as `receiver.mcc`."""

    parts: tuple[str, ...]
    span: Span = _span()

    @property
    def dotted(self) -> str:
        """The path as written: `receiver.mcc`."""
        return ".".join(self.parts)


@dataclass(frozen=True, slots=True)
class Number:
    """An integer or decimal literal without a unit, e.g. `8011` or `1.5`."""

    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Quantity:
    """A number with a unit: money (`200_000 KZT`) or a duration (`90 days`)."""

    number: str
    unit: str
    span: Span = _span()
    unit_span: Span = _span()


@dataclass(frozen=True, slots=True)
class Percent:
    """A percentage such as `0.75 %`."""

    number: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class String:
    """A double-quoted string; `value` has its escapes resolved."""

    value: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Date:
    """A calendar date `YYYY-MM-DD` (UTC)."""

    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Boolean:
    """`true` or `false`."""

    value: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class SetLiteral:
    """`{a, b, c}`."""

    elements: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Compare:
    """`left OP right` with OP one of == != < <= > >=."""

    operator: str
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Membership:
    """`left in right` or `left not in right`."""

    negated: bool
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Arithmetic:
    """`left + right` or `left - right`: numbers, money, durations, or set union/difference."""

    operator: str
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Logic:
    """`a and b and c` or `a or b`: chains are flat, so they do not count as nesting."""

    operator: str
    operands: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Not:
    """`not operand`."""

    operand: Expr
    span: Span = _span()


Expr = (
    Name | FactPath | Number | Quantity | Percent | String | Date | Boolean | SetLiteral
    | Compare | Membership | Arithmetic | Logic | Not
)
Literal = Number | Quantity | Percent | String | Date | Boolean | Name


@dataclass(frozen=True, slots=True)
class Header:
    """`contract NAME version N` and its optional description."""

    name: str
    version: str
    description: String | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class SetDef:
    """`set NAME = expr`."""

    name: str
    value: Expr
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True, slots=True)
class Expiry:
    """`expires <date | duration after issue>, then <return to issuer | burn | release>`."""

    moment: Date | Quantity
    then: str  # "return", "burn" or "release"
    span: Span = _span()


# A token is a record: its fields' order carries no meaning, so the parser keeps them, and the
# formatter writes them, in this order.
TOKEN_FIELD_ORDER: Final = ("currency", "issuer", "expires", "bridged")


@dataclass(frozen=True, slots=True)
class TokenField:
    """One line of a token block: `currency`, `issuer`, `expires` or `bridged` (no value)."""

    key: str
    value: Name | String | Expiry | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TokenDef:
    """`token NAME { ... }`."""

    name: str
    fields: tuple[TokenField, ...]
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True, slots=True)
class Rule:
    """`allow`/`deny` OP [to X] [via Y] [when C] [because "…"]."""

    kind: str  # "allow" or "deny"
    operation: str
    targets: Expr | None
    providers: Expr | None
    condition: Expr | None
    because: String | None
    span: Span = _span()
    operation_span: Span = _span()


@dataclass(frozen=True, slots=True)
class Limit:
    """`limit MONEY per transaction | per wallet per P | per merchant per P`."""

    amount: Quantity
    scope: str  # "transaction", "wallet" or "merchant"
    period: str | None  # "day", "week", "month"; None per transaction
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Hold:
    """`hold at most MONEY per wallet`."""

    amount: Quantity
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Release:
    """`release on purchase | cash_out`: the receiver gets plain money."""

    operation: str
    span: Span = _span()
    operation_span: Span = _span()


PolicyItem = Rule | Limit | Hold | Release


@dataclass(frozen=True, slots=True)
class PolicyDef:
    """`policy TOKEN { rules }`."""

    token: str
    items: tuple[PolicyItem, ...]
    span: Span = _span()
    token_span: Span = _span()


@dataclass(frozen=True, slots=True)
class FxClause:
    """One clause of a corridor: providers, max spread, max fee, max amount, quote valid."""

    key: str  # "providers", "max_spread", "max_fee", "max_amount", "quote_valid"
    value: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class FxDef:
    """`fx SRC -> DST { clauses }`: what the hub accepts between two currencies."""

    source: str
    target: str
    clauses: tuple[FxClause, ...]
    span: Span = _span()
    currencies_span: Span = _span()

    @property
    def label(self) -> str:
        """`KHR -> THB`."""
        return f"{self.source} -> {self.target}"


@dataclass(frozen=True, slots=True)
class Party:
    """`merchant(mcc: 5912)`: a role with the facts an example gives it."""

    role: str
    facts: tuple[tuple[str, Expr], ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class OperationStep:
    """`purchase 12_500 KZT to merchant(mcc: 5912)`, `convert 1_000 JPY to KHR via "x" (…)`."""

    operation: str
    amount: Quantity
    sender: Party | None
    receiver: Party | None  # for convert: the target currency as role, no facts
    provider: String | None
    quote: tuple[tuple[str, Expr], ...]
    channel: Name | None
    span: Span = _span()
    operation_span: Span = _span()


@dataclass(frozen=True, slots=True)
class Advance:
    """`advance 91 days` or `advance to 2027-02-01`."""

    by: Quantity | None
    to: Date | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Expect:
    """`expect allowed`, `expect denied [by limit | expiry | default | rule "name" | rule 12]`."""

    allowed: bool
    ground: str | None  # "limit", "expiry", "default", "rule"
    rule: String | Number | None
    span: Span = _span()


Step = OperationStep | Advance | Expect


@dataclass(frozen=True, slots=True)
class ExampleDef:
    """`example "title" [for TOKEN | for SRC -> DST] { steps }`."""

    title: String
    token: str | None
    corridor: tuple[str, str] | None
    steps: tuple[Step, ...]
    span: Span = _span()
    subject_span: Span | None = _span()


Item = SetDef | TokenDef | PolicyDef | FxDef | ExampleDef


@dataclass(frozen=True, slots=True)
class Comment:
    """A `#` comment, kept aside from the tree so the formatter can put it back."""

    text: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Contract:
    """A whole `.earmark` file."""

    header: Header
    items: tuple[Item, ...]
    span: Span = _span()
    comments: tuple[Comment, ...] = field(default=(), compare=False, repr=False)
