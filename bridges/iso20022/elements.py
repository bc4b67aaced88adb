"""Writing and reading the elements of a message: names, text, dates, and where each one is.

Writing builds a plain ElementTree in document order, then `finish` serializes it with the
message's namespace, two-space indentation and a UTF-8 declaration, and reads the bytes back
through `schemas.check_document`, so that what a builder returns has passed the same checks as what
a parser accepts. Reading wraps each element in a `Node` that knows its path (`/Document/…`), so
that a rule broken anywhere is reported where it is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TypeVar
from xml.etree.ElementTree import Element, SubElement, indent, tostring

from bridges.catalogue import Code
from bridges.iso20022.errors import (
    NOT_XML,
    TIME_WITHOUT_OFFSET,
    TOO_MANY,
    UNKNOWN_CODE,
    UNSUPPORTED,
    Iso20022Error,
    internal,
    refuse,
)
from bridges.iso20022.schemas import MessageDefinition, check_document, read_document

CodeT = TypeVar("CodeT", bound=StrEnum)
ReadT = TypeVar("ReadT")
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def start(message: MessageDefinition) -> tuple[Element, Element]:
    """A new `Document` and the message element under it (`FIToFICstmrCdtTrf`, …)."""
    document = Element("Document", {"xmlns": message.namespace})
    return document, SubElement(document, message.root)


def add(parent: Element, tag: str, text: str | None = None) -> Element:
    """A child element named `tag`, with `text` when given."""
    child = SubElement(parent, tag)
    if text is not None:
        child.text = text
    return child


def add_optional(parent: Element, tag: str, text: str | None) -> None:
    """A child element with `text`, or nothing when `text` is None."""
    if text is not None:
        add(parent, tag, text)


def finish(message: MessageDefinition, document: Element) -> bytes:
    """The document as bytes, once they read back as a valid `message`."""
    for element in document.iter():
        # XML readers turn a carriage return into a line feed: the text would not come back.
        if element.text is not None and "\r" in element.text:
            raise refuse(element.tag, "a carriage return cannot cross XML unchanged")
    indent(document, space="  ")
    data = _DECLARATION + tostring(document, encoding="unicode").encode("utf-8") + b"\n"
    try:
        check_document(message, data)
    except Iso20022Error as error:
        if error.code is NOT_XML:
            raise refuse(message.identifier,
                         f"a text holds characters that XML 1.0 cannot carry: {error.reason}"
                         ) from None
        raise
    return data


def format_datetime(moment: datetime, field: str) -> str:
    """ISO 8601 with its UTC offset (`Z` for UTC); a naive datetime is refused."""
    offset = moment.utcoffset()
    if offset is None:
        raise refuse(field, "a date and time needs a UTC offset (use an aware datetime)")
    text = moment.isoformat()
    return text.removesuffix("+00:00") + "Z" if offset == timedelta(0) else text


def format_decimal(number: Decimal) -> str:
    """A decimal in plain notation, never with an exponent (`1E+2` is not an xs:decimal)."""
    return format(number, "f")


def format_boolean(flag: bool) -> str:
    """`true` or `false`, the canonical xs:boolean."""
    return "true" if flag else "false"


class Node:
    """An element of a validated document and its path, with typed accessors for its children.

    The document has passed its XSD, so a mandatory child is always there: a missing one means
    the bridge's reading disagrees with the schema, which is reported as an internal error.
    """

    # A message reads dozens of elements and reports at most one: each node keeps its parent
    # and its step, and spells its path only when asked. All share the document's namespace.
    __slots__ = ("_namespace", "_parent", "_step", "element")

    def __init__(self, element: Element, step: str, parent: Node | None = None) -> None:
        self.element = element
        self._parent = parent
        self._step = step
        self._namespace: str = (parent._namespace if parent is not None
                                else element.tag.partition("}")[0] + "}")

    @property
    def path(self) -> str:
        """Where this element is: `/Document/…`, with `[n]` for a repeated one."""
        steps: list[str] = []
        node: Node | None = self
        while node is not None:
            steps.append(node._step)
            node = node._parent
        return "/" + "/".join(reversed(steps))

    @classmethod
    def document(cls, message: MessageDefinition, data: bytes) -> Node:
        """The message element (`/Document/<root>`) of `data`, validated."""
        root = Node(read_document(message, data), "Document")
        return root.child(message.root)

    def fail(self, code: Code, reason: str) -> Iso20022Error:
        """An error about this element, to raise."""
        return Iso20022Error(code, self.path, reason)

    def maybe(self, tag: str) -> Node | None:
        """The child named `tag`, or None."""
        found = self.element.find(self._namespace + tag)
        return None if found is None else Node(found, tag, self)

    def optional(self, tag: str, read: Callable[[Node], ReadT]) -> ReadT | None:
        """`read` applied to the child named `tag`, or None when there is no such child."""
        found = self.maybe(tag)
        return None if found is None else read(found)

    def child(self, tag: str) -> Node:
        """The child named `tag`, which the XSD makes mandatory."""
        found = self.maybe(tag)
        if found is None:
            raise internal(f"{self.path}/{tag} is mandatory in the XSD but missing")
        return found

    def children(self, tag: str, limit: int) -> tuple[Node, ...]:
        """Every child named `tag`, refusing more than `limit` (I0307)."""
        found = self.element.findall(self._namespace + tag)
        if len(found) > limit:
            raise self.fail(TOO_MANY, f"{len(found)} {tag} elements; the limit is {limit}")
        return tuple(Node(element, f"{tag}[{index}]", self)
                     for index, element in enumerate(found, start=1))

    @property
    def value(self) -> str:
        """The text of this element (the XSD has checked its form)."""
        return self.element.text or ""

    def attribute(self, name: str) -> str:
        """An attribute that the XSD makes mandatory."""
        found = self.element.get(name)
        if found is None:
            raise internal(f"attribute {name} of {self.path} is mandatory in the XSD but missing")
        return found

    def text(self, tag: str) -> str:
        """The text of the mandatory child `tag`."""
        return self.child(tag).value

    def maybe_text(self, tag: str) -> str | None:
        """The text of the child `tag`, or None."""
        found = self.maybe(tag)
        return None if found is None else found.value

    def timestamp(self, tag: str) -> datetime:
        """The mandatory child `tag` as an aware datetime."""
        return self.child(tag).as_timestamp()

    def maybe_timestamp(self, tag: str) -> datetime | None:
        """The child `tag` as an aware datetime, or None."""
        found = self.maybe(tag)
        return None if found is None else found.as_timestamp()

    def as_timestamp(self) -> datetime:
        """This element as an aware datetime; one without a UTC offset is refused (I0306)."""
        try:
            moment = datetime.fromisoformat(self.value)
        except ValueError:
            raise self.fail(UNSUPPORTED, f"{self.value!r} is outside Python's datetime") from None
        if moment.tzinfo is None:
            raise self.fail(TIME_WITHOUT_OFFSET, f"{self.value!r} has no UTC offset")
        return moment

    def maybe_day(self, tag: str) -> date | None:
        """The child `tag` as a date, or None."""
        found = self.maybe(tag)
        return None if found is None else found.as_day()

    def as_day(self) -> date:
        """This element as a date (xs:date without a time zone, as ISO 20022 uses it)."""
        try:
            return date.fromisoformat(self.value)
        except ValueError:
            raise self.fail(UNSUPPORTED, f"{self.value!r} is not a plain YYYY-MM-DD date"
                            ) from None

    def as_decimal(self) -> Decimal:
        """This element as an exact decimal."""
        try:
            return Decimal(self.value)
        except InvalidOperation:
            raise internal(f"{self.path} passed the XSD but is not a decimal") from None

    def as_boolean(self) -> bool:
        """This element as a boolean (`true`, `false`, `1` or `0`)."""
        return self.value.strip() in {"true", "1"}

    def code(self, tag: str, codes: type[CodeT]) -> CodeT:
        """The mandatory child `tag` as a member of `codes`; another code is refused (I0303)."""
        return self.child(tag).as_code(codes)

    def as_code(self, codes: type[CodeT]) -> CodeT:
        """This element as a member of `codes`; another code is refused (I0303)."""
        try:
            return codes(self.value)
        except ValueError:
            known = ", ".join(member.value for member in codes)
            raise self.fail(UNKNOWN_CODE, f"{self.value!r} is not one of {known}") from None
