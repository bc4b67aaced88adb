"""A child process for the crash tests: commits batches as fast as it can and acknowledges each.

Usage: python crash_worker.py URL RUN. Every batch mixes issues and transfers that spend notes
of earlier batches; after the notary returns, the worker prints one line per committed
transaction id ("ack <id>") and flushes, so the parent knows exactly what was acknowledged.
"""

from __future__ import annotations

import sys
from dataclasses import replace

from ledger_world import CENTRAL, CUSTOMERS, HALYK, NOW_S, sign, tx
from test_conservation import BANKS, KASPI, REGISTRY

from dsl.facts import Party
from engine.encoding import note_id
from engine.model import Output
from engine.notary import Notary
from engine.store import SqlStore

BATCH = 20


def main(url: str, run: str) -> None:
    """Commit until killed."""
    store = SqlStore(url)
    notary = Notary(store, REGISTRY, clock=lambda: NOW_S, directory=CUSTOMERS)
    spendable = []  # (note id, owner key, amount) of committed outputs
    number = 0
    while True:
        batch = []
        for _ in range(BATCH):
            number += 1
            if spendable and number % 2:
                note, key, amount = spendable.pop()
                other = KASPI if key is HALYK else HALYK
                transfer = tx("transfer", [], [Output(other.participant, amount, "KZT")],
                              sender=Party(BANKS[key.participant][1], "bank"),
                              receiver=Party(BANKS[other.participant][1], "bank"),
                              nonce=f"{run}-{number}")
                batch.append(sign(replace(transfer, inputs=(note,)), key))
            else:
                batch.append(sign(tx("issue", [], [Output(HALYK.participant, 1_000, "KZT")],
                                     sender=Party("central-bank", "central_bank"),
                                     receiver=Party("halyk", "bank"), nonce=f"{run}-{number}"),
                                  CENTRAL))
        outcomes = notary.submit_batch(batch)
        for signed, outcome in zip(batch, outcomes, strict=True):
            if outcome.committed:
                print(f"ack {signed.id}", flush=True)
                owner = signed.transaction.outputs[0].owner
                key = HALYK if owner == HALYK.participant else KASPI
                spendable.append((note_id(signed.id, 0), key, signed.transaction.outputs[0]
                                  .amount_minor))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
