"""Crash safety: SIGKILL a committing process at random moments; nothing acknowledged is lost.

Method: `crash_worker.py` commits batches on a real database and prints each committed id only
after the notary returned. The test kills it with SIGKILL after a random delay, many times, then
reopens the database: every acknowledged transaction must be committed, and the independent
verifier must find the supply conserved and every balance consistent (a note spent twice would
break both). EARMARK_CRASH_KILLS sets the number of kills (`make soak` raises it).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from test_store import url  # noqa: F401 - the per-store database fixture

from engine.ids import TxId
from engine.store import SqlStore
from engine.verify import verify

KILLS = int(os.environ.get("EARMARK_CRASH_KILLS", "6"))
WORKER = Path(__file__).with_name("crash_worker.py")
FIRST_ACK_TIMEOUT_S = 60


def _run_and_kill(database: str, run: int, delay_s: float) -> list[TxId]:
    """Start the worker, let it commit for `delay_s` after its first ack, SIGKILL it, and
    return every id it acknowledged (including lines still in the pipe)."""
    # The worker imports the test worlds beside it and the shared helpers in tests/support.
    paths = (WORKER.parent, WORKER.parent.parent / "support")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, paths))}
    worker = subprocess.Popen([sys.executable, str(WORKER), database, str(run)],
                              stdout=subprocess.PIPE, text=True, env=environment)
    acks: list[TxId] = []
    first = threading.Event()

    def read() -> None:
        for line in worker.stdout:  # type: ignore[union-attr]
            if line.startswith("ack "):
                acks.append(TxId(line.split()[1]))
                first.set()

    reader = threading.Thread(target=read)
    reader.start()
    first.wait(FIRST_ACK_TIMEOUT_S)
    time.sleep(delay_s)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    reader.join()
    return acks


def test_nothing_acknowledged_is_lost_after_sigkill(url: str) -> None:  # noqa: F811
    """Across many SIGKILLs at random moments, every acknowledged transaction survives and the
    ledger verifies after each restart."""
    SqlStore(url).close()  # migrate once, so no kill lands inside the schema's creation
    chance = random.Random(20261121)
    acknowledged: list[TxId] = []
    for run in range(KILLS):
        acknowledged += _run_and_kill(url, run, chance.uniform(0.0, 0.6))
        store = SqlStore(url)
        results = store.results(acknowledged)
        lost = [tx_id for tx_id in acknowledged if not results.get(tx_id, None)]
        report = verify(store)
        store.close()
        assert not lost, f"run {run}: {len(lost)} acknowledged transactions lost"
        assert report.ok, report.mismatches
    assert acknowledged, "the worker never committed anything"
