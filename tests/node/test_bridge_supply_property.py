"""Property: whatever users do, the vault always holds the bridged supply plus what is in flight,
and exactly the supply once the bridge has caught up.

Method: hypothesis draws a sequence of deposits, withdrawals, out-swaps, mined blocks and bridge
passes; each runs against a fresh bridged world (a central node on 127.0.0.1, the embedded EVM,
the bridge driven pass by pass). `reconcile` must balance after every step, and after the bridge
settles the vault must equal the ledger supply exactly.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from bridged_world import CONFIRMATIONS, EXPORTER, YEN, World, bridged_world, settle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridges.evm.contracts import hashlock_of
from dsl.facts import Party
from engine.model import HashLock
from node.bridge_reconcile import reconcile
from node.client import NodeClient
from node.ledger_wallet import LedgerWallet
from node.wire import token_from_wire

STEP = st.one_of(
    st.tuples(st.just("deposit"), st.integers(1, 500)),
    st.tuples(st.just("withdraw"), st.integers(1, 300)),
    st.tuples(st.just("swap_out"), st.integers(1, 300)),
    st.tuples(st.just("mine"), st.integers(1, CONFIRMATIONS)),
    st.tuples(st.just("pass"), st.just(0)),
)


async def _pay_bridge(world: World, yen: int, receiver: str, lock: HashLock | None) -> None:
    """The exporter pays the bridge if it holds enough (a refusal changes nothing anyway)."""
    if await world.held() < yen:
        return
    async with NodeClient(world.net.central_url, EXPORTER) as client:
        await LedgerWallet(client, "exporter").pay(
            world.setup.config.key.participant, Party(), yen,
            "JPY", token_from_wire(world.bridge.config.token), lock=lock, memo=receiver)


async def _do(world: World, step: tuple[str, int]) -> None:
    kind, amount = step
    if kind == "deposit":
        await world.deposit(amount)
    elif kind == "withdraw":
        await _pay_bridge(world, amount, f"evm:{world.chain.new_account().address}", None)
    elif kind == "swap_out":
        lock = HashLock(hashlock_of(amount.to_bytes(32, "big")).hex(), EXPORTER.participant,
                        int(time.time()) + 3_600)
        await _pay_bridge(world, amount, f"evm:{world.chain.new_account().address}", lock)
    elif kind == "mine":
        world.chain.mine(amount)
    else:
        await world.bridge.step()


async def _story(folder: Path, steps: list[tuple[str, int]]) -> None:
    async with bridged_world(folder) as world:
        world.coin.mint(world.setup.issuer, world.setup.operator.address, 10**6 * YEN)
        await world.deposit(1_000)  # so that withdrawals and swaps have money to spend
        world.chain.mine(CONFIRMATIONS)
        await settle(world)
        for step in steps:
            await _do(world, step)
            found = await reconcile(world.bridge)
            assert found.ok, (step, found)
        world.chain.mine(CONFIRMATIONS)
        await settle(world)
        found = await reconcile(world.bridge)
        assert found.vault_minor == found.supply_minor, found


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STEP, min_size=3, max_size=10))
def test_the_vault_always_backs_the_bridged_supply(steps: list[tuple[str, int]]) -> None:
    """Any sequence of user actions and bridge passes keeps vault = supply + in flight, and
    vault = supply once settled."""
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(_story(Path(folder), steps))
