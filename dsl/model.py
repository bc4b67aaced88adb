"""A checked contract: what the checker hands to the compiler and the example runner.

Everything here is resolved and exact: amounts in minor units, durations in seconds, dates in
seconds since the epoch (midnight UTC), conditions as typed IR.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from dsl import ir
from dsl.errors import Span
from dsl.facts import Party, Quote


@dataclass(frozen=True, slots=True)
class ExpirySpec:
    """When notes of a token expire and what happens to them then."""

    at_s: int | None  # a fixed moment (the day after the written date, 00:00 UTC)
    after_s: int | None  # or a time after issue
    then: str  # "return", "burn" or "release"
    span: Span


@dataclass(frozen=True, slots=True)
class TokenSpec:
    """An earmarked token: its currency, issuer, expiry, and whether it is bridged."""

    name: str
    currency: str
    issuer: str
    expiry: ExpirySpec | None
    span: Span
    bridged: bool = False


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """An `allow` or `deny` rule."""

    kind: str
    operation: str
    targets: frozenset[str] | None  # convert: currencies it may go to
    providers: frozenset[str] | None  # convert: FX providers it may go through
    condition: ir.Node | None
    because: str | None
    span: Span

    @property
    def name(self) -> str:
        """`deny purchase`: how examples and traces name the rule."""
        return f"{self.kind} {self.operation}"


@dataclass(frozen=True, slots=True)
class LimitSpec:
    """`limit` per transaction, per wallet per period or per merchant per period."""

    amount_minor: int
    scope: str
    period: str | None
    span: Span

    @property
    def name(self) -> str:
        """`limit per wallet per month`."""
        if self.period is None:
            return f"limit per {self.scope}"
        return f"limit per {self.scope} per {self.period}"


@dataclass(frozen=True, slots=True)
class HoldSpec:
    """`hold at most` per wallet."""

    amount_minor: int
    span: Span

    name = "hold at most"


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """The rules of one token, in source order."""

    token: TokenSpec
    rules: tuple[RuleSpec, ...]
    limits: tuple[LimitSpec, ...]
    holds: tuple[HoldSpec, ...]
    releases: frozenset[str]
    span: Span


@dataclass(frozen=True, slots=True)
class CorridorClause:
    """One bound of an FX corridor; `value` is exact (Decimal percent, minor units, seconds)."""

    key: str
    value: frozenset[str] | Decimal | int
    span: Span

    @property
    def name(self) -> str:
        """`max spread`, `providers`: how refusals name the clause."""
        return self.key.replace("_", " ")


@dataclass(frozen=True, slots=True)
class CorridorSpec:
    """What the hub accepts when converting `source` to `target`."""

    source: str
    target: str
    clauses: tuple[CorridorClause, ...]
    span: Span

    @property
    def label(self) -> str:
        """`KHR -> THB`."""
        return f"{self.source} -> {self.target}"


@dataclass(frozen=True, slots=True)
class OperationStepSpec:
    """One operation of an example, with every fact filled in."""

    operation: str
    amount_minor: int
    currency: str
    sender: Party
    receiver: Party
    quote: Quote | None
    channel: str
    span: Span


@dataclass(frozen=True, slots=True)
class AdvanceSpec:
    """Move the example's clock by a duration or to a date."""

    by_s: int | None
    to_s: int | None
    span: Span


@dataclass(frozen=True, slots=True)
class ExpectSpec:
    """What the previous operation's decision must be."""

    allowed: bool
    ground: str | None
    rule_name: str | None
    rule_line: int | None
    span: Span


StepSpec = OperationStepSpec | AdvanceSpec | ExpectSpec


@dataclass(frozen=True, slots=True)
class ExampleSpec:
    """An example, bound to a token or a corridor."""

    title: str
    token: str | None
    corridor: tuple[str, str] | None
    steps: tuple[StepSpec, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class CheckedContract:
    """A contract whose names, types and structure have been checked."""

    name: str
    version: int
    description: str
    tokens: dict[str, TokenSpec]
    policies: dict[str, PolicySpec]
    corridors: dict[tuple[str, str], CorridorSpec]
    examples: tuple[ExampleSpec, ...]
