"""House rules that a linter does not check, on the source of `bridges/iso20022/`.

The bridge raises its own `Iso20022Error` (which is also a ValueError), never a bare built-in; it
states invariants with `if …: raise`, since `assert` vanishes under `python -O`; it never prints;
money never passes through a float; and XML is never parsed by anything but the defused reader in
`schemas.py`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "bridges" / "iso20022"
SOURCES = sorted(PACKAGE.glob("*.py"))
BUILT_IN_RAISES = {"ValueError", "TypeError", "KeyError", "Exception", "RuntimeError"}
# Parsers of XML text other than xmlschema's defused one.
XML_PARSERS = {"fromstring", "XML", "XMLParser", "parse", "iterparse", "XMLPullParser"}


def _name(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else None


def violations(path: Path) -> list[str]:
    """Every broken house rule in the file at `path`, as `file:line: what`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        where = f"{path.name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Raise) and _name(node.exc) in BUILT_IN_RAISES:
            found.append(f"{where}: raise {_name(node.exc)}; raise an Iso20022Error")
        elif isinstance(node, ast.Assert):
            found.append(f"{where}: assert; write `if …: raise internal(…)`")
        elif isinstance(node, ast.Call) and _name(node) in {"float", "print"}:
            found.append(f"{where}: {_name(node)}()")
        elif isinstance(node, ast.ImportFrom) and node.module == "xml.etree.ElementTree":
            parsers = {alias.name for alias in node.names} & XML_PARSERS
            if parsers:
                found.append(f"{where}: imports {sorted(parsers)}; read through schemas.py")
    return found


def test_the_scan_sees_the_package() -> None:
    """The scan looks at the real modules."""
    names = {path.name for path in SOURCES}
    assert {"errors.py", "schemas.py", "pacs008.py", "pacs002.py", "acmt.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=[path.name for path in SOURCES])
def test_house_rules(path: Path) -> None:
    assert violations(path) == []


def test_the_scan_catches_what_it_forbids(tmp_path: Path) -> None:
    """Goal: the rules bite. Method: a file breaking each of them yields one finding each."""
    bad = tmp_path / "bad.py"
    bad.write_text("from xml.etree.ElementTree import fromstring\n"
                   "def f(x):\n    assert x\n    print(float(x))\n    raise ValueError(x)\n")
    assert len(violations(bad)) == 5
