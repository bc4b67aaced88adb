"""House rules on the QR bridge's own source, which a linter does not check.

The layer raises only `QrError` (one exception type, which also is a `ValueError`), never bare
built-ins; it states invariants with `if …: raise`, never `assert`; it does not print outside
the command line, passes no amount through `float()`, and names no module `utils`/`helpers`.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import bridges.qr
import bridges.qr.schemes
from bridges.qr.errors import QrError

PACKAGE = Path(bridges.qr.__file__).parent
SOURCES = sorted(PACKAGE.rglob("*.py"))
BUILT_IN_RAISES = {"ValueError", "TypeError", "KeyError", "Exception", "RuntimeError"}
MAY_PRINT = {"cli.py"}


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
        elif isinstance(node, ast.Call) and _name(node) == "float":
            found.append(f"{where}:{line}: float()")
        elif isinstance(node, ast.Call) and _name(node) == "print" and where not in MAY_PRINT:
            found.append(f"{where}:{line}: print()")
    return found


def test_the_scan_sees_the_package() -> None:
    """The scan covers the codec, the profiles and the command line."""
    names = {path.relative_to(PACKAGE).as_posix() for path in SOURCES}
    assert {"tlv.py", "decode.py", "schemes/khqr.py", "cli.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: path.relative_to(PACKAGE).as_posix())
def test_source_file_keeps_the_house_rules(path: Path) -> None:
    """No bare built-in raise, assert, print or float() in this file; no utils-like name."""
    assert violations(path) == []
    assert path.stem not in {"utils", "helpers", "common", "misc"}


def test_the_only_exception_class_is_qr_error() -> None:
    """One exception type for the layer: every exception class in the package is QrError."""
    modules = [importlib.import_module(f"bridges.qr.{info.name}")
               for info in pkgutil.iter_modules(bridges.qr.__path__)]
    modules += [importlib.import_module(f"bridges.qr.schemes.{info.name}")
                for info in pkgutil.iter_modules(bridges.qr.schemes.__path__)]
    classes = {value for module in modules for value in vars(module).values()
               if inspect.isclass(value) and issubclass(value, BaseException)
               and value.__module__.startswith("bridges.qr")}
    assert classes == {QrError}
    assert issubclass(QrError, ValueError)
