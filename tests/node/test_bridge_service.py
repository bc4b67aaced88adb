"""The EVM bridge's HTTP API (`node.bridge_service`), against a real central node and the
embedded EVM.

Method: `bridged_world` serves a central bank and provisions a bridge on an in-process chain; the
bridge's application is served by aiohttp's `TestServer` in the same process, so it shares the
embedded chain, and called through `BridgeClient` as the hub would call it. The exporter locks a
JPYS note to the bridge naming an EVM receiver (an out-swap); the passes are driven one by one
with `settle`, so each test sees the stored swap before and after the bridge's next pass.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import socket
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from bank_network import key
from bridged_world import (
    CONFIRMATIONS,
    YEN,
    World,
    fund,
    lock_to_bridge,
    run_world,
    settle,
)

from bridges.evm.contracts import HashedTimelock, SwapState, hashlock_of
from node.bridge_reconcile import reconcile
from node.bridge_service import BridgeClient, build_bridge_app, serve_bridge
from node.client import ClientError

PREIMAGE = hashlib.sha256(b"the hub's secret").digest()
DIGEST = hashlock_of(PREIMAGE).hex()
WRONG = hashlib.sha256(b"a guess").hexdigest()
MARGIN_S, WINDOW_S = 60, 30
HUB = key("hub")
STOP_WAIT_S = 10.0


@asynccontextmanager
async def _api(world: World) -> AsyncIterator[BridgeClient]:
    """The bridge's API served in this process, and the hub's client of it."""
    server = TestServer(build_bridge_app(world.bridge))
    await server.start_server()
    try:
        async with BridgeClient(str(server.make_url("")), HUB) as client:
            yield client
    finally:
        await server.close()


async def _refused(call: Awaitable[object]) -> ClientError:
    """The error a call to the API raised."""
    with pytest.raises(ClientError) as refused:
        await call
    return refused.value


def test_a_relayed_claim_pays_the_receiver_and_the_bridge_then_claims_the_ledger_note(
        tmp_path: Path) -> None:
    """Out-swap relayed: a wrong preimage is refused, the right one pays the receiver on chain
    (seen through GET /chain/balances), a repeated claim changes nothing, and after the bridge's
    next pass the swap is claimed and the ledger note is the bridge's; unknown swaps are 404 and
    unsigned requests 401."""
    async def scenario(world: World) -> None:
        await fund(world, 1_000)
        receiver = world.chain.new_account().address
        ledger_deadline = int(time.time()) + 3_600
        note = await lock_to_bridge(world, 400, f"evm:{receiver}", ledger_deadline, DIGEST)
        await settle(world)
        async with _api(world) as bridge:
            seen = await bridge.swap(note)
            assert (seen.direction, seen.status, seen.receiver, seen.amount_minor) == (
                "out", "locked", receiver, 400)
            assert (seen.hashlock, seen.chain_deadline_s) == (DIGEST, ledger_deadline - MARGIN_S)
            assert (await bridge.balance(receiver)).amount_minor == 0
            wrong = await _refused(bridge.claim(note, WRONG))
            assert (wrong.status, wrong.code) == (422, "wrong_preimage")
            assert (await bridge.claim(note, PREIMAGE.hex())).status == "locked"
            assert (await bridge.balance(receiver.lower())).amount_minor == 400
            assert (await bridge.claim(note, PREIMAGE.hex())).status == "locked"  # idempotent
            assert world.coin.balance_of(receiver) == 400 * YEN
            await settle(world)
            assert (await bridge.swap(note)).status == "claimed"
            assert (await bridge.claim(note, PREIMAGE.hex())).status == "claimed"
            assert await world.held(world.setup.config.key.participant) == 400
            missing = await _refused(bridge.claim("ab" * 32, PREIMAGE.hex()))
            assert (missing.status, missing.code) == (404, "not_found")
            async with aiohttp.ClientSession() as anonymous:
                reply = await anonymous.get(f"{bridge.base_url}/swaps/{note}")
                assert reply.status == 401
        assert (await reconcile(world.bridge)).ok

    run_world(tmp_path, scenario, swap_margin_s=MARGIN_S, swap_window_min_s=WINDOW_S)


def test_claims_the_bridge_must_not_relay_are_refused(tmp_path: Path) -> None:
    """Refusals: a claim once the chain deadline has passed is 422 `swap_expired` and leaves the
    lock open for the bridge to refund; a claim of a declined swap (no EVM receiver named) is
    409 `swap_not_locked`; a malformed address is 400."""
    async def scenario(world: World) -> None:
        await fund(world, 1_000)
        receiver = f"evm:{world.chain.new_account().address}"
        late = await lock_to_bridge(world, 100, receiver, int(time.time()) + 3_600, DIGEST)
        nowhere = await lock_to_bridge(world, 100, "someone", int(time.time()) + 3_600, DIGEST)
        await settle(world)
        async with _api(world) as bridge:
            declined = await bridge.swap(nowhere)
            assert (declined.status, declined.chain_swap_id) == ("declined", None)
            refused = await _refused(bridge.claim(nowhere, PREIMAGE.hex()))
            assert (refused.status, refused.code) == (409, "swap_not_locked")
            world.chain.advance_time(3_600)
            world.chain.mine()
            expired = await _refused(bridge.claim(late, PREIMAGE.hex()))
            assert (expired.status, expired.code) == (422, "swap_expired")
            chain_swap = (await bridge.swap(late)).chain_swap_id
            assert chain_swap is not None
            htlc = HashedTimelock.at(world.chain, world.bridge.config.htlc)
            assert htlc.swap(bytes.fromhex(chain_swap)).state == SwapState.OPEN
            bad = await _refused(bridge.balance("0x1234"))
            assert (bad.status, bad.code) == (400, "invalid_request")
        await settle(world)
        stored = world.bridge.store.swap_of_note(late)
        assert stored is not None and stored.status == "refunded"

    run_world(tmp_path, scenario, swap_margin_s=MARGIN_S, swap_window_min_s=WINDOW_S)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_bridge_runs_the_passes_beside_the_api_and_stops_on_sigterm(
        tmp_path: Path) -> None:
    """Hosting: `serve_bridge` answers /healthz as the bridge and credits a deposit by its own
    passes while it serves; SIGTERM stops both, and it returns."""
    async def scenario(world: World) -> None:
        port, ready = _free_port(), asyncio.Event()
        world.bridge.config = world.bridge.config.model_copy(update={"poll_interval_s": 0.1})
        await world.deposit(70)
        world.chain.mine(CONFIRMATIONS)
        hosted = asyncio.create_task(serve_bridge(world.bridge, "127.0.0.1", port, ready))
        await asyncio.wait_for(ready.wait(), STOP_WAIT_S)
        async with BridgeClient(f"http://127.0.0.1:{port}", HUB) as bridge:
            health = await bridge.health()
        assert (health["role"], health["name"]) == ("bridge", "yen-bridge")
        for _ in range(100):
            if await world.held() == 70:
                break
            await asyncio.sleep(0.1)
        assert await world.held() == 70
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(hosted, STOP_WAIT_S)

    run_world(tmp_path, scenario)
