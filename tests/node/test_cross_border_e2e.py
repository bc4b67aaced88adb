"""End to end over the devnet: the cross-border story that `make demo` shows, checked as it goes.

Method: a fresh devnet (`node.devnet`: three ledgers, the PromptPay switch stand-in, two FX
providers, the hub as processes, the embedded chain and its bridge in this process) starts in
`tmp_path`; `node.cross_border_story` opens a buyer at aba, pays a PromptPay QR code and an EVM
address through the hub, and checks every balance, the supply of each ledger and the bridge's
vault. Each step raises `StoryFailure` when it does not end as expected, so reaching the end is
the assertion; the outcomes are read for the figures the demo prints.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from node import cross_border_story
from node.devnet import Devnet
from node.story import StoryFailure, run_steps


def test_the_cross_border_story_on_a_fresh_devnet(tmp_path: Path) -> None:
    """Start a fresh devnet, run every step of the cross-border story, and check that both
    payments ended ACCC, each provider won its corridor, and supply and vault reconcile."""
    devnet = Devnet.open(tmp_path / "devnet", fresh=True)
    outcomes: dict[str, str] = {}
    devnet.start()
    try:
        asyncio.run(cross_border_story.run(devnet, outcomes.__setitem__))
    finally:
        devnet.stop()
    titles = [title for title, _ in cross_border_story.STEPS]
    assert list(outcomes) == titles
    merchant, seller = outcomes[titles[3]], outcomes[titles[6]]
    assert "ACCC" in merchant and "150.00 THB" in merchant
    assert "ACCC" in seller and "holds 20_000 JPY of stablecoin" in seller
    assert "won: acleda-fx" in outcomes[titles[2]] and "won: kbank-fx" in outcomes[titles[5]]
    assert outcomes[titles[-1]].endswith("reconciled")
    assert not any(devnet.running(piece.name) for piece in devnet.manifest.pieces)


def test_a_step_that_does_not_end_as_expected_stops_the_story() -> None:
    """Run three steps whose second fails: the first is reported, the failure names the step
    and why, and the third never runs."""
    reported: list[str] = []

    async def fine(_state: None) -> str:
        return "done"

    async def failing(_state: None) -> str:
        raise StoryFailure("paying", "ended with RJCT")

    steps = (("first", fine), ("second", failing), ("third", fine))
    with pytest.raises(StoryFailure) as stopped:
        asyncio.run(run_steps(None, steps, lambda title, _outcome: reported.append(title)))
    assert reported == ["first"]
    assert stopped.value.problem.detail == "paying: ended with RJCT"
