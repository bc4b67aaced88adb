"""The central bank's totals past 2**63 - 1 over HTTP: issue 21 found they broke.

Method: the central service of `test_central` on SQLite; two notes of 2**63 - 1 each are written
into its ledger without validation (the supply cap now refuses such an issue, but a ledger from
before the cap, or one being audited, may hold them), then `GET /statistics` and
`GET /balances/{owner}` must answer their exact sum, where SQLite's SUM stopped with "integer
overflow" and the service answered 500.
"""

from __future__ import annotations

from pathlib import Path

from test_central import ABA, CENTRAL, World, run

from dsl.facts import Party
from engine.encoding import INTEGER_MAX, signing_bytes, transaction_id
from engine.model import NO_FACTS, Output, Signature, SignedTransaction, Transaction
from engine.validate import Accepted, created_notes


def _two_max_notes_to_aba(world: World) -> None:
    """Commit one issue of two KHR notes of INTEGER_MAX each to aba, bypassing validation."""
    outputs = (Output(ABA.participant, INTEGER_MAX, "KHR"),) * 2
    transaction = Transaction("issue", (), outputs, Party("national-bank", "central_bank"),
                              NO_FACTS, 1_767_225_600, "max")
    tx_id = transaction_id(transaction)
    signed = SignedTransaction(tx_id, transaction, (
        Signature(CENTRAL.participant, CENTRAL.sign(signing_bytes(tx_id))),))
    world.service.store.commit(
        [Accepted(signed, (), created_notes(tx_id, transaction, ()), None, 0,
                  CENTRAL.participant)], 1_767_225_600)


def test_statistics_and_balances_sum_past_2_to_the_63(tmp_path: Path) -> None:
    """Both answer 200 with twice INTEGER_MAX, exactly, for the supply, aba's holdings and its
    balance."""
    async def scenario(world: World) -> None:
        _two_max_notes_to_aba(world)
        stats = await world.central.get("/statistics")
        assert stats.status == 200, stats.body
        assert stats.body["items"] == [{"currency": "KHR", "token": None,
                                        "supply_minor": 2 * INTEGER_MAX,
                                        "held_by_bank": {"aba": 2 * INTEGER_MAX},
                                        "held_elsewhere_minor": 0}]
        assert stats.body["plain_minor"] == {"KHR": 2 * INTEGER_MAX}
        balances = await world.central.get(f"/balances/{ABA.participant}")
        assert balances.status == 200, balances.body
        assert [(b["currency"], b["amount_minor"], b["notes"])
                for b in balances.body["balances"]] == [("KHR", 2 * INTEGER_MAX, 2)]
    run(tmp_path, scenario)
