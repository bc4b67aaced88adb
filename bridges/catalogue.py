"""Stable error codes of the bridges: one `Code` per entry, gathered into a catalogue per bridge.

Each bridge keeps its own family of codes and its own exception (`QrError`, `Iso20022Error`);
what an entry is, and how a module's entries become its catalogue, is the same for all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Code:
    """One entry of a catalogue: the stable code, a snake-case name and a title for the docs."""

    code: str
    name: str
    title: str


def catalogue(namespace: Mapping[str, object]) -> dict[str, Code]:
    """Every `Code` defined in a module's namespace, by its code."""
    return {entry.code: entry for entry in namespace.values() if isinstance(entry, Code)}
