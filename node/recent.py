"""A bounded map of what a service wrote or read lately, so that its next read of the same row
needs no database.

Each service keeps rows only it writes (its payments, its quotes, its settlements): a row it
keeps is the row as last written, and a row it does not keep is read from the database as
before. The oldest entries are forgotten beyond the bound, so memory stays flat however long
the service runs.

A read from the database that overlaps a write may answer the row as it was before the write;
`read_through` does not keep such an answer. So a store tells the map of every write it makes
(`keep` the row as written, or `forget` it when it cannot know the whole row).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Recent(Generic[K, V]):
    """At most `limit` entries (none at 0: a map that remembers nothing); keeping one makes
    it the newest, and the oldest go first."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._entries: dict[K, V] = {}  # oldest first: a dict keeps insertion order
        self._changes = 0  # keeps and forgets so far: a read that spans one is not kept

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def get(self, key: K) -> V | None:
        """The entry kept for `key`, if any."""
        return self._entries.get(key)

    async def read_through(self, key: K, load: Callable[[], Awaitable[V | None]]) -> V | None:
        """The entry kept for `key`, else what `load()` reads, kept unless the map changed
        while it read."""
        kept = self._entries.get(key)
        if kept is not None:
            return kept
        changes = self._changes
        found = await load()
        if found is not None and changes == self._changes:
            self.keep(key, found)
        return found

    def keep(self, key: K, value: V) -> None:
        """Keep `value` for `key` as the newest entry, forgetting the oldest beyond the limit."""
        self._changes += 1
        self._entries.pop(key, None)
        self._entries[key] = value
        while len(self._entries) > self.limit:
            del self._entries[next(iter(self._entries))]

    def forget(self, key: K) -> None:
        """Forget `key`; a read of it in flight is not kept either."""
        self._changes += 1
        self._entries.pop(key, None)

    def forget_where(self, doomed: Callable[[K], bool]) -> None:
        """Forget every key for which `doomed` holds."""
        self._changes += 1
        for key in [key for key in self._entries if doomed(key)]:
            del self._entries[key]
