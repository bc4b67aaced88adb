"""What the demo's stories share: a step that checks how it ended, the failure that stops the
story, and how each step's outcome is reported.

A story (`node.domestic_story`, `node.cross_border_story`) is a sequence of titled steps over
some state; each step returns one line or a few (newline-separated) of what it did and raises
`StoryFailure` when it did not end as expected.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from node.errors import NodeError

S = TypeVar("S")
Report = Callable[[str, str], None]  # (title, outcome) after each step


class StoryFailure(NodeError):
    """A step of the story did not end as expected."""

    def __init__(self, step: str, detail: str) -> None:
        super().__init__(500, "story_failed", "The story did not go as expected",
                         f"{step}: {detail}")


def expect(ok: bool, step: str, code: str) -> None:
    """Stop the story at `step`, which ended with `code`, unless `ok`."""
    if not ok:
        raise StoryFailure(step, f"ended with {code}")


async def run_steps(state: S, steps: Sequence[tuple[str, Callable[[S], Awaitable[str]]]],
                    report: Report) -> None:
    """Every step in order over `state`; `report(title, outcome)` after each."""
    for title, step in steps:
        report(title, await step(state))
