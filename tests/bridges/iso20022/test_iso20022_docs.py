"""`docs/iso20022.md` against the code: its examples are what the bridge builds, its tables are
the bridge's codes.

Method: every XML block after a `<!-- example: NAME -->` line is compared, byte for byte, with the
sample of that name built by the bridge, and every sample must appear; every error code of the
catalogue, every message version and every row of the refusal map must appear in the page. When an
example changes on purpose, `python tests/bridges/iso20022/iso20022_samples.py` prints the new
blocks.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from iso20022_samples import samples

from bridges.iso20022.errors import CATALOGUE
from bridges.iso20022.refusals import REFUSAL_REASONS
from bridges.iso20022.schemas import MESSAGES

PAGE = Path(__file__).resolve().parents[3] / "docs" / "iso20022.md"
_EXAMPLE = re.compile(r"^<!-- example: (?P<name>[a-z0-9-]+) -->\n```xml\n(?P<xml>.*?)```$",
                      re.MULTILINE | re.DOTALL)


def _examples() -> dict[str, str]:
    text = PAGE.read_text(encoding="utf-8")
    found: dict[str, str] = {}
    for match in _EXAMPLE.finditer(text):
        if match["name"] in found:
            raise AssertionError(f"example {match['name']} appears twice")
        found[match["name"]] = match["xml"]
    return found


def test_every_sample_is_on_the_page() -> None:
    assert set(_examples()) == set(samples())


@pytest.mark.parametrize("name", list(samples()))
def test_the_example_is_what_the_bridge_builds(name: str) -> None:
    assert _examples()[name] == samples()[name]().decode("utf-8")


def test_every_error_code_is_explained() -> None:
    text = PAGE.read_text(encoding="utf-8")
    for entry in CATALOGUE.values():
        assert f"| `{entry.code}` | `{entry.name}` |" in text, entry.code


def test_every_message_version_is_named() -> None:
    text = PAGE.read_text(encoding="utf-8")
    for message in MESSAGES:
        assert f"`{message.identifier}`" in text, message.identifier


def test_the_refusal_table_is_the_refusal_map() -> None:
    text = PAGE.read_text(encoding="utf-8")
    for result, reason in REFUSAL_REASONS.items():
        assert f"| `{result.value}` | `{reason.value}` |" in text, result.value
