"""Checked expressions: every name resolved, every node typed, constants folded.

The checker turns `dsl.ast` expressions into these; the compiler turns these into closures. Values
are exact: integers (money in minor units, durations in seconds, times in seconds since the epoch),
`Decimal` for decimals and percentages, strings, and frozensets.
"""

from __future__ import annotations

from dataclasses import dataclass

from dsl.errors import Span
from dsl.types import Type

Value = int | str | bool | object  # object: Decimal or frozenset; kept loose for folding


@dataclass(frozen=True, slots=True)
class Const:
    """A value known before any transaction."""

    value: Value
    type: Type
    span: Span


@dataclass(frozen=True, slots=True)
class Fact:
    """A fact of the transaction, read at evaluation time."""

    path: str
    type: Type
    span: Span


@dataclass(frozen=True, slots=True)
class Compare:
    """`left OP right` on values of one type."""

    operator: str
    left: Node
    right: Node
    type: Type
    span: Span


@dataclass(frozen=True, slots=True)
class Member:
    """`left in right` (negated: `not in`); right is a set."""

    negated: bool
    left: Node
    right: Node
    type: Type
    span: Span


@dataclass(frozen=True, slots=True)
class Arithmetic:
    """`+`/`-` on numbers, money or durations, time plus duration, or set union/difference."""

    operator: str
    left: Node
    right: Node
    type: Type
    span: Span


@dataclass(frozen=True, slots=True)
class Logic:
    """`and`/`or` over two or more conditions."""

    operator: str
    operands: tuple[Node, ...]
    type: Type
    span: Span


@dataclass(frozen=True, slots=True)
class Negation:
    """`not operand`."""

    operand: Node
    type: Type
    span: Span


Node = Const | Fact | Compare | Member | Arithmetic | Logic | Negation
