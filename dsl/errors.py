"""Diagnostics of the contract language: stable codes, positions, and the layer's exception.

Every problem the compiler finds is a `Diagnostic` value with a code from `CATALOGUE`. The codes
are stable: tools and the language reference (`docs/language.md`) key on them. The compiler
collects diagnostics and raises them together as one `ContractError`; a bug inside the compiler
surfaces as `InternalError` (code E0001) so that users can tell it from their own mistakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """How bad a diagnostic is: an error stops deployment, a warning does not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Span:
    """A region of source text; lines and columns count from 1, the end column is exclusive."""

    line: int
    column: int
    end_line: int
    end_column: int

    def merge(self, other: Span) -> Span:
        """The smallest span covering both."""
        start = min((self.line, self.column), (other.line, other.column))
        end = max((self.end_line, self.end_column), (other.end_line, other.end_column))
        return Span(start[0], start[1], end[0], end[1])


UNKNOWN_SPAN = Span(1, 1, 1, 1)


@dataclass(frozen=True, slots=True)
class Code:
    """One entry of the catalogue: the stable code, its severity and a title for the reference."""

    code: str
    severity: Severity
    title: str


def _error(code: str, title: str) -> Code:
    return Code(code, Severity.ERROR, title)


def _warning(code: str, title: str) -> Code:
    return Code(code, Severity.WARNING, title)


# Internal.
INTERNAL = _error("E0001", "internal compiler error (a bug in Earmark)")
# Syntax: the text is not a contract.
UNEXPECTED_TOKEN = _error("E0101", "unexpected token")
UNEXPECTED_END = _error("E0102", "the contract ended too early")
UNEXPECTED_CHARACTER = _error("E0103", "a character that is not part of the language")
BAD_LITERAL = _error("E0104", "malformed literal (number, date or unit)")
# Names and types.
UNKNOWN_NAME = _error("E0201", "unknown name")
TYPE_MISMATCH = _error("E0202", "values of different types compared or combined")
CURRENCY_MISMATCH = _error("E0203", "amounts of different currencies compared or combined")
TOO_MANY_DECIMALS = _error("E0204", "more decimals than the currency has minor units")
UNKNOWN_CURRENCY = _error("E0205", "not an ISO 4217 currency")
UNKNOWN_FACT = _error("E0206", "unknown fact")
FACT_NOT_AVAILABLE = _error("E0207", "fact not available for this operation")
NOT_A_CONDITION = _error("E0208", "a condition that is not true or false")
UNKNOWN_OPERATION = _error("E0209", "unknown operation")
BAD_OPERATOR = _error("E0210", "operator not defined for these values")
# Structure of a contract.
DUPLICATE_NAME = _error("E0301", "a name defined twice")
UNKNOWN_TOKEN = _error("E0302", "policy or example for a token the contract does not define")
MISSING_FIELD = _error("E0303", "a required field is missing")
DUPLICATE_FIELD = _error("E0304", "a field given twice")
CONVERT_CLAUSE_MISPLACED = _error("E0305", "`to`/`via` on an operation other than convert")
BAD_RELEASE = _error("E0306", "release on an operation that does not pay a merchant or bank")
BAD_CORRIDOR = _error("E0307", "an FX corridor that converts a currency to itself")
AMBIGUOUS_EXAMPLE = _error("E0308", "an example that does not say which token it spends")
BAD_STEP = _error("E0309", "an example step that cannot run")
BAD_LIMIT = _error("E0310", "a limit that is zero or negative")
BRIDGED_EXPIRY = _error("E0311", "a bridged token that expires")
# Limits on size, so that checking and evaluation stay bounded.
CONTRACT_TOO_LARGE = _error("E0401", "contract larger than the limit")
NESTING_TOO_DEEP = _error("E0402", "expression nested deeper than the limit")
TOO_MANY_ITEMS = _error("E0403", "more rules, sets, elements, examples or steps than the limit")
# Examples.
EXAMPLE_FAILED = _error("E0501", "an example's expectation does not hold")
EXPECT_WITHOUT_STEP = _error("E0502", "`expect` before any operation")
# Warnings.
NEVER_FIRES = _warning("W0101", "a rule that can never fire")
SHADOWED_ALLOW = _warning("W0102", "an allow shadowed by an unconditional deny")
UNKNOWN_MCC = _warning("W0103", "a merchant category code that ISO 18245 does not assign")
TOKEN_WITHOUT_POLICY = _warning("W0104", "a token without a policy (closed for everything)")
EXAMPLE_WITHOUT_EXPECT = _warning("W0105", "an example without an expectation")

CATALOGUE: dict[str, Code] = {
    entry.code: entry for entry in globals().copy().values() if isinstance(entry, Code)
}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding of the compiler, with where it is and what would fix it."""

    code: Code
    message: str
    span: Span
    label: str = ""
    help: str = ""

    @property
    def severity(self) -> Severity:
        """Error or warning, from the catalogue."""
        return self.code.severity

    @property
    def is_error(self) -> bool:
        """Whether this diagnostic blocks deployment."""
        return self.code.severity is Severity.ERROR


class DslError(Exception):
    """Root of everything the contract language raises."""


class ContractError(DslError, ValueError):
    """The contract has errors; `diagnostics` lists all of them in source order."""

    def __init__(self, path: str, diagnostics: tuple[Diagnostic, ...]) -> None:
        self.path = path
        self.diagnostics = diagnostics
        first = diagnostics[0] if diagnostics else None
        summary = f"{first.code.code}: {first.message}" if first else "no diagnostics"
        super().__init__(f"{path}: {len(diagnostics)} problem(s); first {summary}")


class InternalError(DslError, RuntimeError):
    """A bug inside the compiler: never the contract author's fault."""


class InputError(DslError, ValueError):
    """Input to the evaluator or a query is malformed: unknown token, wrong fact, bad value."""
