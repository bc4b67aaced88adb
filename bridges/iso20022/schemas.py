"""The official XSDs of the four messages: loaded once, and the safe, validating document reader.

The schemas ship as package data in `schemas/` (provenance in `schemas/README.md`). Each is
compiled by xmlschema the first time it is needed and kept for the life of the process. Reading a
document refuses, in this order: input over `MESSAGE_BYTES_MAX`, text that is not well-formed
XML, entity declarations and references to outside resources (xmlschema's defused parser, with
no resource access at all), a root that is not the expected message's `Document`, and finally
anything the XSD refuses, naming the first invalid path.

Why two validators: xmlschema, in pure Python, took about 2.4 ms to check one pacs.008, and a
cross-border payment checks four messages twice (each builder reads back what it wrote): it was
the largest cost of the hub and the switch. libxml2's XSD validator (through lxml) checks the same
document in under 0.1 ms. So a document with no markup declaration at all (no `<!`: no DTD, so no
entity can be declared or reach outside) is first checked by libxml2; if it passes, it is read
with the standard library's expat parser and accepted. Anything else, and anything libxml2
refuses, takes the careful path above, which names the refusal exactly as before.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Final
from xml.etree import ElementTree
from xml.etree.ElementTree import Element

import xmlschema
from lxml import etree
from xmlschema.exceptions import (
    XMLResourceBlocked,
    XMLResourceError,
    XMLResourceExceeded,
    XMLResourceForbidden,
)

from bridges.iso20022.errors import (
    FORBIDDEN_XML,
    MESSAGE_TOO_LARGE,
    NOT_XML,
    SCHEMA_INVALID,
    WRONG_MESSAGE,
    Iso20022Error,
)
from bridges.iso20022.limits import MESSAGE_BYTES_MAX

_NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"
_UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class MessageDefinition:
    """One ISO 20022 message in one version: its identifier and the element under `Document`."""

    identifier: str
    root: str
    title: str

    @property
    def namespace(self) -> str:
        """The XML namespace of the message, `urn:iso:std:iso:20022:tech:xsd:<identifier>`."""
        return _NAMESPACE_PREFIX + self.identifier

    @property
    def schema_file(self) -> str:
        """The file name of the XSD under `schemas/`."""
        return f"{self.identifier}.xsd"


PACS_008 = MessageDefinition(
    "pacs.008.001.08", "FIToFICstmrCdtTrf", "FI to FI customer credit transfer"
)
PACS_002 = MessageDefinition(
    "pacs.002.001.11", "FIToFIPmtStsRpt", "FI to FI payment status report"
)
ACMT_023 = MessageDefinition(
    "acmt.023.001.04", "IdVrfctnReq", "identification verification request"
)
ACMT_024 = MessageDefinition(
    "acmt.024.001.04", "IdVrfctnRpt", "identification verification report"
)
MESSAGES: tuple[MessageDefinition, ...] = (PACS_008, PACS_002, ACMT_023, ACMT_024)


@cache
def schema(message: MessageDefinition) -> xmlschema.XMLSchema:
    """The compiled XSD of `message`, built on first use and cached."""
    folder = files("bridges.iso20022").joinpath("schemas")
    text = folder.joinpath(message.schema_file).read_text(encoding="utf-8")
    return xmlschema.XMLSchema(text, allow="none")


class _FastSchemas(threading.local):
    """libxml2's compiled XSDs and parser, one set per thread (lxml shares neither safely)."""

    def __init__(self) -> None:
        self.parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        self.compiled: dict[MessageDefinition, etree.XMLSchema] = {}

    def validator(self, message: MessageDefinition) -> etree.XMLSchema:
        compiled = self.compiled.get(message)
        if compiled is None:
            folder = files("bridges.iso20022").joinpath("schemas")
            compiled = etree.XMLSchema(etree.fromstring(
                folder.joinpath(message.schema_file).read_bytes(), self.parser))
            self.compiled[message] = compiled
        return compiled


_FAST: Final = _FastSchemas()


def read_document(message: MessageDefinition, data: bytes) -> Element:
    """The root `Document` element of `data`, once it has passed every check of this module."""
    if _size_checked(data) and _plainly_valid(message, data):
        return ElementTree.fromstring(data)
    return _carefully_read(message, data)


def check_document(message: MessageDefinition, data: bytes) -> None:
    """Raise what `read_document` would raise; a builder's read-back, which needs no tree."""
    if not (_size_checked(data) and _plainly_valid(message, data)):
        _carefully_read(message, data)


def _size_checked(data: bytes) -> bool:
    if len(data) > MESSAGE_BYTES_MAX:
        raise Iso20022Error(MESSAGE_TOO_LARGE, "",
                            f"{len(data)} bytes; the limit is {MESSAGE_BYTES_MAX}")
    return True


def _carefully_read(message: MessageDefinition, data: bytes) -> Element:
    """The careful path: xmlschema's defused reader, then the XSD, naming any refusal."""
    resource = _resource(data)
    root = resource.root
    expected = f"{{{message.namespace}}}Document"
    if root.tag != expected:
        raise Iso20022Error(WRONG_MESSAGE, "/" + _local(root.tag),
                            f"expected the Document of {message.identifier}, found "
                            f"{_describe(root.tag)}")
    _check_schema(message, resource)
    return root


def _plainly_valid(message: MessageDefinition, data: bytes) -> bool:
    """Whether `data` declares nothing and libxml2 finds it a valid `message`; False sends it
    down the careful path (see the module's notes)."""
    if b"<!" in data:
        return False
    try:
        document = etree.fromstring(data, _FAST.parser)
    except etree.XMLSyntaxError:
        return False
    return (document.tag == f"{{{message.namespace}}}Document"
            and bool(_FAST.validator(message).validate(document)))


def _resource(data: bytes) -> xmlschema.XMLResource:
    # xmlschema reads bytes that do not start with "<" as a URL; a message is never one.
    if not data.removeprefix(_UTF8_BOM).lstrip().startswith(b"<"):
        raise Iso20022Error(NOT_XML, "", "the bytes do not start with an XML tag or declaration")
    try:
        return xmlschema.XMLResource(data, defuse="always", allow="none")
    except (XMLResourceForbidden, XMLResourceBlocked) as error:
        raise Iso20022Error(FORBIDDEN_XML, "", str(error)) from None
    except XMLResourceExceeded as error:
        raise Iso20022Error(MESSAGE_TOO_LARGE, "", str(error)) from None
    except XMLResourceError as error:
        raise Iso20022Error(NOT_XML, "", str(error)) from None


def _check_schema(message: MessageDefinition, resource: xmlschema.XMLResource) -> None:
    error = next(schema(message).iter_errors(resource), None)
    if error is not None:
        reason = (error.reason or error.message).replace(f"{{{message.namespace}}}", "")
        raise Iso20022Error(SCHEMA_INVALID, error.path or "/Document", reason)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _describe(tag: str) -> str:
    namespace = tag[1:].split("}", 1)[0] if tag.startswith("{") else ""
    if namespace.startswith(_NAMESPACE_PREFIX):
        return f"{_local(tag)} of {namespace.removeprefix(_NAMESPACE_PREFIX)}"
    return f"{_local(tag)} in namespace {namespace!r}" if namespace else f"{tag} without namespace"
