"""The house rules a linter does not check, scanned on a bridge package's source.

A layer raises only its own exception type, never a bare built-in; it states invariants with
`if …: raise` (an `assert` vanishes under `python -O`); it passes no amount through `float()`;
and it prints only where it is a command line.
"""

from __future__ import annotations

import ast
from collections.abc import Collection
from pathlib import Path

BUILT_IN_RAISES = frozenset({"ValueError", "TypeError", "KeyError", "Exception", "RuntimeError"})
VAGUE_MODULE_NAMES = frozenset({"utils", "helpers", "common", "misc"})


def call_name(node: ast.expr | None) -> str | None:
    """The bare name a raise or call uses (`raise ValueError(…)` → "ValueError")."""
    target = node.func if isinstance(node, ast.Call) else node
    return target.id if isinstance(target, ast.Name) else None


def violations(path: Path, package: Path, may_print: Collection[str] = ()) -> list[str]:
    """Every broken rule in the file at `path` (inside `package`), as `file:line: what`;
    files named in `may_print` (relative to `package`) may print."""
    where = path.relative_to(package).as_posix()
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), where)):
        line = getattr(node, "lineno", 0)
        name = call_name(node) if isinstance(node, ast.Call) else None
        if isinstance(node, ast.Raise) and call_name(node.exc) in BUILT_IN_RAISES:
            found.append(f"{where}:{line}: raise {call_name(node.exc)}")
        elif isinstance(node, ast.Assert):
            found.append(f"{where}:{line}: assert")
        elif name == "float" or (name == "print" and where not in may_print):
            found.append(f"{where}:{line}: {name}()")
    return found
