"""House rules on the EVM bridge's own source, which a linter does not check.

The layer raises only `ChainError`, never bare built-ins; it states invariants with
`if …: raise`, never `assert`; it does not print, passes no amount through `float()`, and names
no module `utils`/`helpers`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from house_rules import VAGUE_MODULE_NAMES, violations

import bridges.evm

PACKAGE = Path(bridges.evm.__file__).parent
SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_the_scan_sees_the_package() -> None:
    """The scan covers the chain client, the wrappers and the error translation."""
    names = {path.name for path in SOURCES}
    assert {"chain.py", "contracts.py", "failures.py", "errors.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: path.name)
def test_source_file_keeps_the_house_rules(path: Path) -> None:
    """No bare built-in raise, assert, print or float() in this file; no utils-like name."""
    assert violations(path, PACKAGE) == []
    assert path.stem not in VAGUE_MODULE_NAMES
