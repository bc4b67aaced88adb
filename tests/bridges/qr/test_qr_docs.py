"""The pages in docs/qr show real runs of `earmark qr`, and keep doing so.

Method: every ```console block whose first line is `$ earmark qr …` is run again through the
Typer sub-application; `decode --json` output is compared as JSON with what the page shows,
anything else as text (stdout, then stderr). Every scheme has a page with at least one decoded
example, and the index lists every error code of the catalogue.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bridges.qr import errors
from bridges.qr.cli import qr_app
from bridges.qr.schemes import SCHEME_NAMES

DOCS = Path(__file__).resolve().parents[3] / "docs" / "qr"
_CONSOLE = re.compile(r"```console\n\$ earmark qr (?P<command>[^\n]+)\n(?P<shown>.*?)\n```",
                      re.DOTALL)


def _examples() -> list[tuple[str, str, str]]:
    found = []
    for page in sorted(DOCS.glob("*.md")):
        for match in _CONSOLE.finditer(page.read_text(encoding="utf-8")):
            found.append((page.name, match.group("command"), match.group("shown")))
    return found


EXAMPLES = _examples()


def test_every_scheme_has_a_page_with_a_decoded_example() -> None:
    """One page per scheme, each with a `decode --json` example."""
    decoded = {page for page, command, _shown in EXAMPLES if command.startswith("decode --json")}
    assert decoded == {f"{scheme}.md" for scheme in SCHEME_NAMES}


@pytest.mark.parametrize(("page", "command", "shown"), EXAMPLES,
                         ids=[f"{page}-{index}" for index, (page, _c, _s) in enumerate(EXAMPLES)])
def test_example_output_is_what_the_command_prints(page: str, command: str, shown: str) -> None:
    """Run the command again: the output must be exactly what the page shows."""
    arguments = shlex.split(command)
    result = CliRunner().invoke(qr_app, arguments)
    printed = (result.stdout + result.stderr).rstrip("\n")
    if "--json" in arguments and result.exit_code == 0:
        assert json.loads(result.stdout) == json.loads(shown), page
    else:
        assert printed == shown, page


def test_index_lists_every_error_code() -> None:
    """docs/qr/README.md has a row for each code of the catalogue, with its name."""
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    for entry in errors.CATALOGUE.values():
        assert f"| `{entry.code}` | `{entry.name}` |" in index
