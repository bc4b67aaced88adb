"""The bounded map of recent rows: it never holds more than its limit, forgets the oldest first,
and answers exactly what was kept last for every key it still holds."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from node.recent import Recent

KEYS = st.integers(min_value=0, max_value=20)
ACTIONS = st.lists(st.tuples(st.sampled_from(["keep", "forget", "forget_odd"]), KEYS,
                             st.integers()), max_size=200)


@given(limit=st.integers(min_value=0, max_value=8), actions=ACTIONS)
def test_recent_matches_a_model_of_the_newest_entries(limit: int,
                                                      actions: list[tuple[str, int, int]]) -> None:
    """After any sequence of keeps and forgets, the map holds the `limit` most recently kept
    keys still unforgotten, each with the value kept last."""
    recent: Recent[int, int] = Recent(limit)
    model: list[tuple[int, int]] = []  # oldest first
    for action, key, value in actions:
        if action == "keep":
            recent.keep(key, value)
            model = [(k, v) for k, v in model if k != key] + [(key, value)]
            model = model[len(model) - limit:] if len(model) > limit else model
        elif action == "forget":
            recent.forget(key)
            model = [(k, v) for k, v in model if k != key]
        else:
            recent.forget_where(lambda k: k % 2 == 1)
            model = [(k, v) for k, v in model if k % 2 == 0]
        assert len(recent) == len(model) <= limit
    for key in range(21):
        assert recent.get(key) == dict(model).get(key)
        assert (key in recent) == (key in dict(model))


def test_keeping_again_makes_an_entry_the_newest() -> None:
    """A key kept again outlives keys kept between its two keeps."""
    recent: Recent[str, int] = Recent(2)
    recent.keep("a", 1)
    recent.keep("b", 2)
    recent.keep("a", 3)
    recent.keep("c", 4)
    assert (recent.get("a"), recent.get("b"), recent.get("c")) == (3, None, 4)


@given(change=st.sampled_from(["none", "keep", "forget", "forget_where"]))
def test_a_read_through_is_kept_only_if_nothing_changed_while_it_read(change: str) -> None:
    """`read_through` answers what it read either way, but keeps it only when no keep or
    forget happened during the read: such a change may be newer than what was read."""
    recent: Recent[str, int] = Recent(4)

    async def load() -> int:
        if change == "keep":
            recent.keep("other", 2)
        elif change == "forget":
            recent.forget("row")
        elif change == "forget_where":
            recent.forget_where(lambda _key: False)
        return 1

    assert asyncio.run(recent.read_through("row", load)) == 1
    assert recent.get("row") == (1 if change == "none" else None)
    recent.keep("row", 3)
    assert asyncio.run(recent.read_through("row", load)) == 3  # kept: no read at all
