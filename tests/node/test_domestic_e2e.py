"""End to end over real processes: the white paper's domestic story on a central node and two
bank nodes, on SQLite and on PostgreSQL.

Method: `node.local_network` writes fresh configurations and starts each node as
`earmark node start` on 127.0.0.1; `node.domestic_story` runs issuance, distribution, the
ministry's labelling and distribution, a transfer by phone across banks, a clinic purchase
allowed and a grocery purchase refused with the rule and reason, the tier-1 daily limit and the
raise, cash-out, redemption, the statistics and the isolation checks, each checked as it goes.
After a clean SIGTERM, `earmark ledger verify` replays the central journal against its tables.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from postgres import fresh_postgres

from node import domestic_story
from node.local_network import CENTRAL_NAME, LocalNetwork

NODES = (CENTRAL_NAME, *domestic_story.BANKS)


def _postgres_databases() -> dict[str, str]:
    """One fresh PostgreSQL database per node (a bank's tables are its own)."""
    return {name: fresh_postgres(f"e2e_{name.replace('-', '_')}") for name in NODES}


def _run_story(folder: Path, databases: dict[str, str] | None) -> list[str]:
    network = LocalNetwork.create(folder, [domestic_story.CURRENCY], domestic_story.BANKS,
                                  databases=databases)
    done: list[str] = []

    async def story() -> None:
        await network.start()
        try:
            await domestic_story.run(network, lambda title, _outcome: done.append(title))
        finally:
            statuses = [node.stop() for node in (*network.banks.values(), network.central)]
            assert statuses == [0, 0, 0], f"a node did not stop cleanly: {statuses}"

    asyncio.run(story())
    return done


def _verify(database: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "node.cli", "ledger", "verify", "--db", database],
                          capture_output=True, text=True, check=False, timeout=120)


def test_the_domestic_story_on_sqlite(tmp_path: Path) -> None:
    """Every step of the story ends as expected on the embedded default, and the central
    journal replays to exactly its tables afterwards."""
    done = _run_story(tmp_path, None)
    assert done == [title for title, _ in domestic_story.STEPS]
    verified = _verify(f"sqlite:///{tmp_path / f'{CENTRAL_NAME}.db'}")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_the_domestic_story_on_postgresql(tmp_path: Path) -> None:
    """The same story with every node's database on the PostgreSQL server."""
    databases = _postgres_databases()
    done = _run_story(tmp_path, databases)
    assert done == [title for title, _ in domestic_story.STEPS]
    verified = _verify(databases[CENTRAL_NAME])
    assert verified.returncode == 0, verified.stdout + verified.stderr
