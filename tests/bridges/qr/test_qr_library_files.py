"""House rules on the QR bridge's own source, which a linter does not check.

The layer raises only `QrError` (one exception type, which also is a `ValueError`), never bare
built-ins; it states invariants with `if …: raise`, never `assert`; it does not print outside
the command line, passes no amount through `float()`, and names no module `utils`/`helpers`.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
from house_rules import VAGUE_MODULE_NAMES, violations

import bridges.qr
import bridges.qr.schemes
from bridges.qr.errors import QrError

PACKAGE = Path(bridges.qr.__file__).parent
SOURCES = sorted(PACKAGE.rglob("*.py"))
MAY_PRINT = {"cli.py"}


def test_the_scan_sees_the_package() -> None:
    """The scan covers the codec, the profiles and the command line."""
    names = {path.relative_to(PACKAGE).as_posix() for path in SOURCES}
    assert {"tlv.py", "decode.py", "schemes/khqr.py", "cli.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: path.relative_to(PACKAGE).as_posix())
def test_source_file_keeps_the_house_rules(path: Path) -> None:
    """No bare built-in raise, assert, print or float() in this file; no utils-like name."""
    assert violations(path, PACKAGE, MAY_PRINT) == []
    assert path.stem not in VAGUE_MODULE_NAMES


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
