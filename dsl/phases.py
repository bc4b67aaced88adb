"""`CompiledContract`: one object that holds every phase of a contract, each run once, lazily.

source text → syntax tree → checked contract → compiled policies and corridors → example results.
Each phase is a cached property; `diagnostics` gathers what every phase found. A failure inside
the compiler becomes an E0001 diagnostic ("a bug in Earmark"), never a traceback for the user.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TypeVar

from dsl import errors
from dsl.check import check
from dsl.compile import compile_corridor, compile_policy
from dsl.errors import Diagnostic
from dsl.evaluate import CompiledCorridor, CompiledPolicy
from dsl.examples import ExampleResult, run_examples
from dsl.model import CheckedContract
from dsl.parse import ParseResult, parse_contract


class CompiledContract:
    """A contract and all that the compiler learns about it."""

    def __init__(self, text: str, path: str = "<contract>") -> None:
        self.text = text
        self.path = path

    @classmethod
    def from_file(cls, path: Path | str) -> CompiledContract:
        """Read a `.earmark` file (UTF-8)."""
        # utf-8-sig: editors on some systems start files with a byte-order mark.
        return cls(Path(path).read_text(encoding="utf-8-sig"), str(path))

    @cached_property
    def parsed(self) -> ParseResult:
        """The syntax tree, or the syntax errors."""
        return _guarded(lambda: parse_contract(self.text), ParseResult(None, ()), self)

    @cached_property
    def _checked(self) -> tuple[CheckedContract | None, tuple[Diagnostic, ...]]:
        tree = self.parsed.contract
        if tree is None:
            return None, ()
        nothing: tuple[CheckedContract | None, tuple[Diagnostic, ...]] = (None, ())
        return _guarded(lambda: check(tree), nothing, self)

    @property
    def checked(self) -> CheckedContract | None:
        """The checked contract, or None when the text does not parse."""
        return self._checked[0]

    @cached_property
    def policies(self) -> dict[str, CompiledPolicy]:
        """Compiled policies by token name; empty while the contract has errors."""
        checked = self.checked
        if checked is None or not self._front_ok:
            return {}
        return _guarded(lambda: {name: compile_policy(checked.name, policy)
                                 for name, policy in checked.policies.items()}, {}, self)

    @cached_property
    def corridors(self) -> dict[tuple[str, str], CompiledCorridor]:
        """Compiled FX corridors by (source, target); empty while the contract has errors."""
        checked = self.checked
        if checked is None or not self._front_ok:
            return {}
        return _guarded(lambda: {key: compile_corridor(checked.name, corridor)
                                 for key, corridor in checked.corridors.items()}, {}, self)

    @cached_property
    def example_results(self) -> tuple[ExampleResult, ...]:
        """The outcome of every example; empty while the contract has errors."""
        checked = self.checked
        if checked is None or not self._front_ok:
            return ()
        policies, corridors = self.policies, self.corridors
        return _guarded(lambda: run_examples(checked.examples, policies, corridors), (), self)

    @cached_property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        """Everything every phase found, in source order; examples run only on a clean contract."""
        found = [*self.parsed.diagnostics, *self._checked[1]]
        if self._front_ok:
            found += [r.failure for r in self.example_results if r.failure is not None]
        found += self._internal
        return tuple(sorted(found, key=lambda d: (d.span.line, d.span.column, d.code.code)))

    @property
    def ok(self) -> bool:
        """Whether the contract can be deployed: no errors in any phase, examples included."""
        return not any(d.is_error for d in self.diagnostics)

    def policy(self, token: str) -> CompiledPolicy:
        """The compiled policy of `token`; raises `ContractError` if the contract has errors."""
        self.require_ok()
        if token not in self.policies:
            known = ", ".join(sorted(self.policies)) or "none"
            raise errors.InputError(f"{self.path} has no token {token!r} (tokens: {known})")
        return self.policies[token]

    def require_ok(self) -> None:
        """Raise `ContractError` with every error unless the contract is deployable."""
        if not self.ok:
            raise errors.ContractError(self.path, tuple(d for d in self.diagnostics if d.is_error))

    @cached_property
    def _internal(self) -> list[Diagnostic]:
        return []

    @property
    def _front_ok(self) -> bool:
        """Parsed and checked without errors, so compiling makes sense."""
        found = [*self.parsed.diagnostics, *self._checked[1], *self._internal]
        return self.checked is not None and not any(d.is_error for d in found)


_T = TypeVar("_T")
_log = logging.getLogger(__name__)


def _guarded(phase: Callable[[], _T], fallback: _T, contract: CompiledContract) -> _T:
    """Run a phase; a crash inside it is a compiler bug, reported as E0001 with the fallback."""
    try:
        return phase()
    except Exception as crash:
        # The diagnostic tells the user; the traceback is for Earmark's developers (debug log).
        _log.debug("internal compiler error in %s", contract.path, exc_info=True)
        contract._internal.append(Diagnostic(
            errors.INTERNAL,
            f"internal compiler error: {type(crash).__name__}: {crash}; this is a bug in "
            "Earmark, not in your contract; please report it with the contract attached",
            errors.UNKNOWN_SPAN))
        return fallback
