"""The shipped XSDs are the recorded files, they define the messages the bridge says they do, and
every sample message validates against them.

Method: each file's sha256 is compared with the provenance table of `schemas/README.md`; each
schema is compiled and its target namespace and `Document` content checked against its
`MessageDefinition`; each sample is validated by xmlschema directly.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from iso20022_samples import samples
from xmlschema.validators import XsdComplexType, XsdGroup

from bridges.iso20022.errors import CATALOGUE
from bridges.iso20022.schemas import (
    ACMT_023,
    ACMT_024,
    MESSAGES,
    PACS_002,
    PACS_008,
    MessageDefinition,
    schema,
)

SCHEMAS = Path(__file__).resolve().parents[3] / "bridges" / "iso20022" / "schemas"
_ROW = re.compile(
    r"^\| `(?P<file>[a-z]{4}\.\d{3}\.\d{3}\.\d{2}\.xsd)` \|.*\| `(?P<sha>[0-9a-f]{64})` \|$"
)
# Samples are named after their message: `pacs008-…`, `acmt024-…`.
SAMPLE_MESSAGES = {"pacs008": PACS_008, "pacs002": PACS_002, "acmt023": ACMT_023,
                   "acmt024": ACMT_024}


def _recorded_hashes() -> dict[str, str]:
    text = (SCHEMAS / "README.md").read_text(encoding="utf-8")
    return {match["file"]: match["sha"]
            for match in map(_ROW.match, text.splitlines()) if match is not None}


def test_every_shipped_schema_is_recorded_with_its_hash() -> None:
    recorded = _recorded_hashes()
    shipped = {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
               for path in SCHEMAS.glob("*.xsd")}
    assert shipped == recorded
    assert set(shipped) == {message.schema_file for message in MESSAGES}


@pytest.mark.parametrize("message", MESSAGES, ids=[message.identifier for message in MESSAGES])
def test_each_schema_defines_its_message(message: MessageDefinition) -> None:
    compiled = schema(message)
    assert compiled is schema(message), "compiled once and cached"
    assert compiled.target_namespace == message.namespace
    document_type = compiled.elements["Document"].type
    assert isinstance(document_type, XsdComplexType)
    content = document_type.content
    assert isinstance(content, XsdGroup)
    assert [child.local_name for child in content] == [message.root]


def _message_of(sample: str) -> MessageDefinition:
    prefix = sample.split("-", maxsplit=1)[0]
    return next(message for message in MESSAGES
                if message.identifier.replace(".", "").startswith(prefix[:7]))


@pytest.mark.parametrize("name", list(samples()))
def test_every_sample_validates_against_its_xsd(name: str) -> None:
    data = samples()[name]()
    assert schema(SAMPLE_MESSAGES[name.split("-", maxsplit=1)[0]]).is_valid(data)


def test_error_codes_are_unique_and_grouped() -> None:
    names = [code.name for code in CATALOGUE.values()]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"I0[0-4]\d\d", code) for code in CATALOGUE)
