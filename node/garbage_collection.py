"""How a long-running Earmark process uses Python's cyclic garbage collector.

CPython frees most objects by reference counting; the cyclic collector only finds garbage in
reference cycles (asyncio's futures and tracebacks make some on every request). With CPython's
defaults it runs a young collection every 700 container objects allocated and not freed, and
now and then a full one that walks every object the process holds: the modules of web3, py-evm,
pydantic and SQLAlchemy, the compiled statements and contracts, the caches. In `earmark bench
hub` (1 000 payments at 100/s), the eleven processes were inside the collector for about 4 s
of the 11 s the payments took, and one full collection held a process for up to 450 ms while
every request it was serving waited.

So a process collects rarely (`collect_rarely`) and, once started, moves what it holds into
the collector's permanent generation (`freeze_heap`): objects that live as long as the process
are never walked again. Garbage in cycles is still collected, in larger and fewer batches. Side
by side, the same run spent 0.12-0.15 s in the collector instead of 3.9-4.1 s, and its longest
pause was about 60 ms instead of 450 ms (docs/hub.md, Benchmark). Each process's resident
memory after 3 000 payments was the same as with CPython's defaults, within 5 MiB.
"""

from __future__ import annotations

import gc
from typing import Final

# A young collection after this many container objects allocated and not yet freed. Bigger
# batches cost less per object; 50 000 young objects are a few megabytes.
YOUNG_OBJECTS: Final = 50_000
# An older generation is collected after this many collections of the one below it. A full
# collection walks only what is not frozen (the caches, what is in flight), so it keeps
# CPython's pace there: cyclic garbage that outlived two generations is not left for long.
YOUNG_COLLECTIONS_PER_MIDDLE: Final = 20
MIDDLE_COLLECTIONS_PER_FULL: Final = 10


def collect_rarely() -> None:
    """Set this process's collector to run in large batches (call once, at start)."""
    gc.set_threshold(YOUNG_OBJECTS, YOUNG_COLLECTIONS_PER_MIDDLE, MIDDLE_COLLECTIONS_PER_FULL)


def freeze_heap() -> None:
    """Exempt every object the process holds now from later collections: call when start-up
    is done (modules imported, service opened), as what exists then lives as long as the
    process. Objects made later are collected as usual."""
    gc.freeze()
