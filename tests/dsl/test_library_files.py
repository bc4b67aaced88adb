"""House rules that a linter does not check, enforced on the library's own source files.

Library code raises the package's exceptions (which also inherit the built-in ones), never bare
built-ins; it states invariants with `if …: raise`, since `assert` vanishes under `python -O`; it
logs rather than prints; and money never passes through a float.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from house_rules import violations

import dsl
import dsl.errors

REPO_ROOT = Path(__file__).resolve().parents[2]
LIBRARY_FILES = sorted([*(REPO_ROOT / "dsl").glob("*.py"), *(REPO_ROOT / "node").glob("*.py")])
# The command line and the demo talk to a terminal; they may print.
MAY_PRINT = {"node/cli.py", "node/demo.py"}


def _relative(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix()


def test_the_scan_finds_library_files() -> None:
    """The scan looks at the real packages: the compiler, the evaluator and the CLI are listed."""
    names = {_relative(path) for path in LIBRARY_FILES}
    assert {"dsl/errors.py", "dsl/evaluate.py", "dsl/parse.py", "node/cli.py"} <= names


def test_the_scan_catches_each_kind_of_violation(tmp_path: Path) -> None:
    """A sample with one of each forbidden construct yields exactly one finding for each."""
    (tmp_path / "dsl").mkdir()
    sample = tmp_path / "dsl" / "sample.py"
    sample.write_text("raise ValueError('x')\nraise KeyError\nassert True\nprint(1)\n"
                      "float('1.5')\nraise errors.InputError('fine')\nconsole.print('fine')\n")
    found = violations(sample, tmp_path, MAY_PRINT)
    assert [finding.split(": ", 1)[1] for finding in found] == [
        "raise ValueError", "raise KeyError", "assert", "print()", "float()",
    ]
    (tmp_path / "node").mkdir()
    (tmp_path / "node" / "cli.py").write_text("print(1)\n")
    assert violations(tmp_path / "node" / "cli.py", tmp_path, MAY_PRINT) == []


@pytest.mark.parametrize("path", LIBRARY_FILES, ids=_relative)
def test_library_file_keeps_the_house_rules(path: Path) -> None:
    """No bare built-in raise, assert, stray print or float() call in this library file."""
    assert violations(path, REPO_ROOT, MAY_PRINT) == []


def _public_exceptions(module: object) -> list[type[BaseException]]:
    return [value for name, value in vars(module).items()
            if inspect.isclass(value) and issubclass(value, BaseException)
            and not name.startswith("_") and value.__module__ == getattr(module, "__name__", "")]


def test_every_public_exception_in_errors_inherits_dsl_error() -> None:
    """`except DslError` catches everything the language raises: check each class in errors.py."""
    classes = _public_exceptions(dsl.errors)
    assert {cls.__name__ for cls in classes} >= {"DslError", "ContractError", "InternalError",
                                                 "InputError"}
    for cls in classes:
        assert issubclass(cls, dsl.errors.DslError), cls


def test_user_errors_also_inherit_a_built_in() -> None:
    """As in web3.py, each user-facing error is also a built-in, so generic handlers still work."""
    assert issubclass(dsl.errors.ContractError, ValueError)
    assert issubclass(dsl.errors.InputError, ValueError)
    assert issubclass(dsl.errors.InternalError, RuntimeError)


def test_every_exception_class_in_the_dsl_package_inherits_dsl_error() -> None:
    """One root per package: any exception class defined in a dsl/ module is a DslError."""
    import importlib  # noqa: PLC0415 - only this test imports every module
    import pkgutil  # noqa: PLC0415

    strays = []
    for module_info in pkgutil.iter_modules(dsl.__path__):
        module = importlib.import_module(f"dsl.{module_info.name}")
        strays += [f"{module.__name__}.{cls.__name__}" for cls in _public_exceptions(module)
                   if not issubclass(cls, dsl.errors.DslError)]
    assert strays == []
