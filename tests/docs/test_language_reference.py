"""The language reference (`docs/language.md`) against the compiler: its examples are real.

Blocks marked ```earmark are complete contracts that must check without errors; blocks marked
```earmark fails=CODE must produce CODE; every code of `dsl.errors.CATALOGUE` has its own section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from dsl.errors import CATALOGUE
from dsl.phases import CompiledContract
from dsl.render import render_all

REFERENCE = Path(__file__).parents[2] / "docs" / "language.md"
# Codes that no small contract can show: a compiler bug, and a contract over 256 KiB.
CODES_WITHOUT_EXAMPLE = frozenset({"E0001", "E0401"})
_FENCE_OPEN = re.compile(r"^```earmark(?: fails=(?P<code>\S+))?\s*$")


@dataclass(frozen=True, slots=True)
class Block:
    """One ```earmark block of the reference: where it starts, the code it must fail with."""

    line: int
    code: str | None
    text: str


def _blocks() -> list[Block]:
    found: list[Block] = []
    lines = REFERENCE.read_text(encoding="utf-8").split("\n")
    index = 0
    while index < len(lines):
        opening = _FENCE_OPEN.match(lines[index])
        index += 1
        if opening is None:
            continue
        start = index
        while index < len(lines) and lines[index] != "```":
            index += 1
        found.append(Block(start, opening.group("code"), "\n".join(lines[start:index]) + "\n"))
        index += 1
    return found


BLOCKS = _blocks()
FAILING = [block for block in BLOCKS if block.code is not None]
PASSING = [block for block in BLOCKS if block.code is None]


def _checked(block: Block) -> CompiledContract:
    return CompiledContract(block.text, "doc.earmark")


def test_reference_has_both_kinds_of_block() -> None:
    """The extraction finds blocks at all: a changed fence syntax must not pass silently."""
    assert len(PASSING) >= 5
    assert len(FAILING) >= len(CATALOGUE) - len(CODES_WITHOUT_EXAMPLE)


@pytest.mark.parametrize("block", FAILING, ids=lambda b: f"{b.code}-line{b.line}")
def test_failing_block_produces_its_code(block: Block) -> None:
    """A `fails=CODE` block is checked with the real compiler and must report CODE."""
    assert block.code in CATALOGUE, f"line {block.line}: {block.code} is not a catalogue code"
    contract = _checked(block)
    codes = {diagnostic.code.code for diagnostic in contract.diagnostics}
    assert block.code in codes, (
        f"docs/language.md line {block.line}: expected {block.code}, got {sorted(codes)}:\n"
        + render_all(contract.diagnostics, block.text, "doc.earmark")
    )


@pytest.mark.parametrize("block", PASSING, ids=lambda b: f"line{b.line}")
def test_plain_block_checks_without_errors(block: Block) -> None:
    """A plain `earmark` block is a complete contract: checking it (examples run) finds no error."""
    contract = _checked(block)
    problems = tuple(d for d in contract.diagnostics if d.is_error)
    assert not problems, (
        f"docs/language.md line {block.line}:\n"
        + render_all(problems, block.text, "doc.earmark")
    )


def test_every_catalogue_code_has_a_section() -> None:
    """Each catalogue entry has a heading `### CODE — title` with the catalogue's own title."""
    headings = set(re.findall(r"^### ([EW]\d{4} — .+)$", REFERENCE.read_text(encoding="utf-8"),
                              flags=re.MULTILINE))
    missing = [f"{code} — {entry.title}" for code, entry in CATALOGUE.items()
               if f"{code} — {entry.title}" not in headings]
    assert not missing, f"docs/language.md lacks the sections: {missing}"


def test_every_catalogue_code_has_a_failing_example() -> None:
    """Every code but E0001 and E0401 is shown by at least one `fails=` block."""
    shown = {block.code for block in FAILING}
    missing = sorted(set(CATALOGUE) - CODES_WITHOUT_EXAMPLE - shown)
    assert not missing, f"docs/language.md has no `earmark fails=` block for {missing}"
