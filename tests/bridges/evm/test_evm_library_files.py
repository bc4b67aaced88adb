"""House rules on the EVM bridge's own source, which a linter does not check.

The layer raises only `ChainError`, never bare built-ins; it states invariants with
`if …: raise`, never `assert`; it does not print, passes no amount through `float()`, and names
no module `utils`/`helpers`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bridges.evm

PACKAGE = Path(bridges.evm.__file__).parent
SOURCES = sorted(PACKAGE.rglob("*.py"))
BUILT_IN_RAISES = {"ValueError", "TypeError", "KeyError", "Exception", "RuntimeError"}


def _name(node: ast.expr | None) -> str | None:
    target = node.func if isinstance(node, ast.Call) else node
    return target.id if isinstance(target, ast.Name) else None


def violations(path: Path) -> list[str]:
    """Every broken rule in the file at `path`, as `file:line: what`."""
    where = path.relative_to(PACKAGE).as_posix()
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), where)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Raise) and _name(node.exc) in BUILT_IN_RAISES:
            found.append(f"{where}:{line}: raise {_name(node.exc)}")
        elif isinstance(node, ast.Assert):
            found.append(f"{where}:{line}: assert")
        elif isinstance(node, ast.Call) and _name(node) in {"float", "print"}:
            found.append(f"{where}:{line}: {_name(node)}()")
    return found


def test_the_scan_sees_the_package() -> None:
    """The scan covers the chain client, the wrappers and the error translation."""
    names = {path.name for path in SOURCES}
    assert {"chain.py", "contracts.py", "failures.py", "errors.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: path.name)
def test_source_file_keeps_the_house_rules(path: Path) -> None:
    """No bare built-in raise, assert, print or float() in this file; no utils-like name."""
    assert violations(path) == []
    assert path.stem not in {"utils", "helpers", "common", "misc"}
