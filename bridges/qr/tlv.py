"""The ID-length-value codec of EMVCo payloads: text to a tree of data objects and back.

A data object is a two-digit ID, a two-digit length from 01 to 99 and a value of exactly that
many characters (Unicode code points, not bytes: EMVCo's own sample writes `0104最佳运输`).
Some values are templates, themselves a run of data objects; which ones is not in the text but
in the specification, so the reader takes a predicate that says, for a path of IDs such as
`("62", "50")`, whether to read the value as a template. Reading refuses anything malformed with
a `QrError` naming the offset (characters from the start of the payload) and the tag path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bridges.qr import errors, limits
from bridges.qr.errors import QrError

Path = tuple[str, ...]
TemplatePredicate = Callable[[Path], bool]

_DIGITS = frozenset("0123456789")
HEADER_CHARACTERS = 4  # two for the ID, two for the length


@dataclass(frozen=True, slots=True)
class DataObject:
    """One data object: its ID, its value as written, where it starts, and its children.

    `children` is None for a primitive value and a tuple for a template; `offset` counts
    characters from the start of the payload to the first digit of the ID (0 for objects built
    by the encoder, which have no position yet).
    """

    id: str
    value: str
    offset: int = 0
    children: tuple[DataObject, ...] | None = None

    @property
    def is_template(self) -> bool:
        """Whether the value was read as (or built from) nested data objects."""
        return self.children is not None

    def child(self, child_id: str) -> DataObject | None:
        """The direct child with this ID, or None (also for a primitive)."""
        for item in self.children or ():
            if item.id == child_id:
                return item
        return None

    def child_value(self, child_id: str) -> str | None:
        """The value of the direct child with this ID, or None."""
        found = self.child(child_id)
        return found.value if found is not None else None


def primitive(object_id: str, value: str) -> DataObject:
    """A data object with a plain value, for the encoder."""
    return DataObject(object_id, value)


def template(object_id: str, children: Iterable[DataObject]) -> DataObject:
    """A template built from `children` (kept in the given order), for the encoder."""
    items = tuple(children)
    return DataObject(object_id, serialize(items), children=items)


def serialize(objects: Iterable[DataObject]) -> str:
    """The text of data objects in order: ID, two-digit length, value."""
    return "".join(f"{item.id}{len(item.value):02d}{item.value}" for item in objects)


def path_text(path: Path) -> str:
    """A tag path as people read it: `62.05`."""
    return ".".join(path)


def _is_number(text: str) -> bool:
    # str.isdigit() would also accept "²" and other Unicode digits, which int() then rejects.
    return bool(text) and all(character in _DIGITS for character in text)


class _Reader:
    """Reads a run of data objects; one instance per payload, so errors share the context."""

    def __init__(self, is_template: TemplatePredicate) -> None:
        self.is_template = is_template

    def read(self, text: str, start: int, path: Path) -> tuple[DataObject, ...]:
        objects: list[DataObject] = []
        seen: set[str] = set()
        position = 0
        while position < len(text):
            item = self._one(text, position, start, path)
            if item.id in seen:
                raise QrError(errors.DUPLICATE_ID,
                              f"at offset {item.offset}, tag {path_text((*path, item.id))}: "
                              f"ID {item.id} appears twice",
                              offset=item.offset, tag=path_text((*path, item.id)))
            seen.add(item.id)
            objects.append(item)
            position += HEADER_CHARACTERS + len(item.value)
        return tuple(objects)

    def _one(self, text: str, position: int, start: int, path: Path) -> DataObject:
        offset = start + position
        object_id = text[position:position + 2]
        if not _is_number(object_id) or len(object_id) < 2:
            where = path_text(path) if path else "root"
            raise QrError(errors.BAD_ID,
                          f"at offset {offset}, in {where}: expected a two-digit ID, "
                          f"found {object_id!r}", offset=offset, tag=path_text(path) or None)
        tag = path_text((*path, object_id))
        length_text = text[position + 2:position + HEADER_CHARACTERS]
        if not _is_number(length_text) or len(length_text) < 2 or length_text == "00":
            raise QrError(errors.BAD_LENGTH,
                          f"at offset {offset + 2}, tag {tag}: expected a length from 01 to 99, "
                          f"found {length_text!r}", offset=offset + 2, tag=tag)
        length = int(length_text)
        value = text[position + HEADER_CHARACTERS:position + HEADER_CHARACTERS + length]
        if len(value) < length:
            raise QrError(errors.TRUNCATED,
                          f"at offset {offset + HEADER_CHARACTERS}, tag {tag}: the length says "
                          f"{length} characters but only {len(value)} follow",
                          offset=offset + HEADER_CHARACTERS, tag=tag)
        child_path = (*path, object_id)
        children = None
        if len(child_path) <= limits.TEMPLATE_DEPTH_MAX and self.is_template(child_path):
            children = self.read(value, offset + HEADER_CHARACTERS, child_path)
        return DataObject(object_id, value, offset, children)


def read(text: str, is_template: TemplatePredicate, *, start: int = 0,
         path: Path = ()) -> tuple[DataObject, ...]:
    """The data objects of `text`, reading as templates the paths that `is_template` names.

    `start` is the offset of `text` in the whole payload and `path` the IDs of the template it
    is the value of, so that errors inside a template still point into the payload.
    """
    return _Reader(is_template).read(text, start, path)


def expand(objects: tuple[DataObject, ...], path: Path, *,
           prefix: Path = ()) -> tuple[DataObject, ...]:
    """`objects` with the primitive at `path` re-read as a template (for scheme templates).

    A scheme may nest templates that the generic specification does not know about, such as
    VietQR's 38.01; once the scheme is known its reader expands them. Paths that are missing or
    already templates are left as they are. `prefix` is the path of `objects` themselves.
    """
    head, rest = path[0], path[1:]
    expanded = []
    for item in objects:
        replacement = item
        if item.id == head and not rest and item.children is None:
            children = read(item.value, lambda _path: False,
                            start=item.offset + HEADER_CHARACTERS, path=(*prefix, head))
            replacement = DataObject(item.id, item.value, item.offset, children)
        elif item.id == head and rest and item.children is not None:
            replacement = DataObject(item.id, item.value, item.offset,
                                     expand(item.children, rest, prefix=(*prefix, head)))
        expanded.append(replacement)
    return tuple(expanded)
