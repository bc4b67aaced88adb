"""Hashed-timelock swaps run by the EVM bridge, against a real central node and the embedded EVM.

Method: `bridged_world` serves a central bank and provisions a bridge; the exporter gets JPYS on
the ledger by a deposit, the bridge's operator gets stablecoin float on chain; each story locks
one leg under a hashlock, drives `EvmBridge.step` pass by pass, reveals the preimage (or lets a
deadline pass) and checks both legs, the swap's stored status and that the vault still equals
the bridged supply.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

import pytest
from bank_network import ABA
from bridged_world import (
    CONFIRMATIONS,
    EXPORTER,
    FLOAT_YEN,
    YEN,
    World,
    fund,
    lock_to_bridge,
    run_world,
    settle,
)

from bridges.evm.contracts import HashedTimelock, SwapState, SwapTerms, hashlock_of
from dsl.facts import Party
from node.bridge_reconcile import reconcile
from node.client import ClientError, NodeClient
from node.ledger_wallet import LedgerWallet
from node.messages import NotesQuery
from node.wire import token_from_wire

PREIMAGE = hashlib.sha256(b"the exporter's secret").digest()
DIGEST = hashlock_of(PREIMAGE).hex()
MARGIN_S, WINDOW_S = 60, 30


def _swap(world: World, swap_id: str) -> tuple[str, str]:
    found = [s for status in ("accepted", "locked", "claimed", "refunded", "declined", "lost")
             for direction in ("out", "in")
             for s in world.bridge.store.swaps(status, direction) if s.id == swap_id]
    assert len(found) == 1, found
    return found[0].status, found[0].reason


def _htlc(world: World) -> HashedTimelock:
    return HashedTimelock.at(world.chain, world.bridge.config.htlc)


def test_out_the_receiver_claims_on_chain_and_the_bridge_claims_the_ledger_note(
        tmp_path: Path) -> None:
    """Out, claimed: a ledger lock to the bridge naming an EVM receiver makes the bridge lock
    stablecoin for it with an earlier deadline; the receiver claims with the preimage; the bridge
    then claims the ledger note with the preimage from the Claimed event. Supply and vault are
    untouched."""
    async def scenario(world: World) -> None:
        await fund(world, 1_000)
        receiver = world.chain.new_account()
        ledger_deadline = int(time.time()) + 3_600
        note = await lock_to_bridge(world, 400, f"evm:{receiver.address}", ledger_deadline, DIGEST)
        await settle(world)
        assert _swap(world, note)[0] == "locked"
        [stored] = world.bridge.store.swaps("locked", "out")
        chain_swap = _htlc(world).swap(bytes.fromhex(stored.chain_swap))
        assert (chain_swap.state, chain_swap.receiver, chain_swap.amount) == (
            SwapState.OPEN, receiver.address, 400 * YEN)
        assert chain_swap.deadline == ledger_deadline - MARGIN_S
        assert chain_swap.hashlock == bytes.fromhex(DIGEST)
        _htlc(world).claim(receiver, bytes.fromhex(stored.chain_swap), PREIMAGE)
        await settle(world)
        assert _swap(world, note)[0] == "claimed"
        assert world.coin.balance_of(receiver.address) == 400 * YEN
        assert await world.held(world.setup.config.key.participant) == 400
        assert await world.held() == 600
        assert (await reconcile(world.bridge)).ok

    run_world(tmp_path, scenario, swap_margin_s=MARGIN_S, swap_window_min_s=WINDOW_S)


def test_out_nobody_claims_so_the_bridge_refunds_its_chain_leg(tmp_path: Path) -> None:
    """Out, refunded: the receiver never claims; once the chain lock's deadline passes the bridge
    refunds its float, and the ledger note stays locked for the sender to refund at its own,
    later deadline (the bridge never claims it)."""
    async def scenario(world: World) -> None:
        await fund(world, 1_000)
        receiver = world.chain.new_account()
        note = await lock_to_bridge(world, 250, f"evm:{receiver.address}",
                                     int(time.time()) + 3_600, DIGEST)
        await settle(world)
        assert world.coin.balance_of(world.setup.operator.address) == (FLOAT_YEN - 250) * YEN
        world.chain.advance_time(3_600)
        world.chain.mine()
        await settle(world)
        assert _swap(world, note)[0] == "refunded"
        assert world.coin.balance_of(world.setup.operator.address) == FLOAT_YEN * YEN
        async with NodeClient(world.net.central_url, EXPORTER) as client:
            assert (await client.note(note)).spent_by is None
        assert (await reconcile(world.bridge)).ok

    run_world(tmp_path, scenario, swap_margin_s=MARGIN_S, swap_window_min_s=WINDOW_S)


def test_out_swaps_the_bridge_cannot_serve_safely_are_declined(tmp_path: Path) -> None:
    """Out, declined: a lock ending too soon to leave the receiver the minimum window after the
    margin, a lock naming no EVM receiver, and a lock beyond the bridge's float are all declined
    without any chain lock; the float is untouched."""
    async def scenario(world: World) -> None:
        await fund(world, FLOAT_YEN + 2_000)
        receiver = f"evm:{world.chain.new_account().address}"
        soon = await lock_to_bridge(world, 100, receiver,
                                     int(time.time()) + MARGIN_S + WINDOW_S // 2, DIGEST)
        nowhere = await lock_to_bridge(world, 100, "someone", int(time.time()) + 3_600, DIGEST)
        too_big = await lock_to_bridge(world, FLOAT_YEN + 1, receiver,
                                        int(time.time()) + 3_600, DIGEST)
        await settle(world)
        assert _swap(world, soon) == ("declined", "the ledger lock ends too soon to lock on "
                                      f"chain with a {MARGIN_S} s margin")
        assert "no EVM receiver" in _swap(world, nowhere)[1]
        assert _swap(world, too_big) == ("declined",
                                         "the bridge has not enough stablecoin to lock")
        assert world.coin.balance_of(world.setup.operator.address) == FLOAT_YEN * YEN

    run_world(tmp_path, scenario, swap_margin_s=MARGIN_S, swap_window_min_s=WINDOW_S)


async def _inventory(world: World, yen: int) -> None:
    """The exporter pays the bridge `yen` JPYS for no withdrawal: the bridge's inventory."""
    async with NodeClient(world.net.central_url, EXPORTER) as client:
        paid = await LedgerWallet(client, "exporter").pay(
            world.setup.config.key.participant, Party(id="yen-bridge", role="fx_provider"), yen,
            "JPY", token_from_wire(world.bridge.config.token))
    assert paid.status == "committed", paid
    await settle(world)


def _lock_on_chain(world: World, yen: int, deadline_s: int) -> bytes:
    """The holder locks `yen` of stablecoin for the bridge's operator, for the exporter's
    ledger wallet (the memo); the chain swap's id."""
    htlc = _htlc(world)
    world.coin.approve(world.holder, htlc.address, yen * YEN)
    return htlc.lock(world.holder, SwapTerms(
        token=world.coin.address, receiver=world.setup.operator.address, amount=yen * YEN,
        hashlock=bytes.fromhex(DIGEST), deadline=deadline_s,
        memo=bytes.fromhex(EXPORTER.participant))).swap_id


async def _locked_note_for_exporter(world: World) -> str:
    async with NodeClient(world.net.central_url, EXPORTER) as client:
        page = await client.notes(NotesQuery(owner=EXPORTER.participant, currency="JPY"))
    [locked] = [n for n in page.items if n.lock is not None]
    assert locked.lock is not None and locked.lock.refund_to == world.setup.config.key.participant
    return locked.id


def test_in_the_wallet_claims_on_the_ledger_and_the_bridge_claims_on_chain(
        tmp_path: Path) -> None:
    """In, claimed: a chain lock for the bridge with the exporter's wallet as memo is locked on
    the ledger for that wallet after N confirmations, with a deadline the margin earlier; the
    exporter claims with the preimage; the bridge reads it from the claim (which a stranger may
    not read) and claims the chain lock."""
    async def scenario(world: World) -> None:
        await fund(world, 1_000)
        await _inventory(world, 700)
        chain_deadline = world.chain.timestamp() + 3_600
        swap_id = _lock_on_chain(world, 300, chain_deadline)
        await settle(world)
        assert world.bridge.store.swaps("accepted", "in") == []  # not yet confirmed
        world.chain.mine(CONFIRMATIONS)
        await settle(world)
        assert _swap(world, swap_id.hex())[0] == "locked"
        note = await _locked_note_for_exporter(world)
        async with NodeClient(world.net.central_url, EXPORTER) as client:
            seen = await client.note(note)
            assert seen.lock is not None and seen.lock.deadline_s == chain_deadline - MARGIN_S
            claimed = await LedgerWallet(client, "exporter").settle(seen, PREIMAGE)
        assert claimed.status == "committed", claimed
        async with NodeClient(world.net.central_url, ABA) as stranger:
            with pytest.raises(ClientError) as refused:
                await stranger.note(note)
        assert refused.value.status == 403
        await settle(world)
        assert _swap(world, swap_id.hex())[0] == "claimed"
        assert _htlc(world).swap(swap_id).state == SwapState.CLAIMED
        assert world.coin.balance_of(world.setup.operator.address) == (FLOAT_YEN + 300) * YEN
        assert await world.held() == 1_000 - 700 + 300
        assert (await reconcile(world.bridge)).ok

    run_world(tmp_path, scenario, swap_margin_s=MARGIN_S, swap_window_min_s=WINDOW_S)


def test_in_nobody_claims_so_the_bridge_refunds_its_ledger_leg(tmp_path: Path) -> None:
    """In, refunded: the exporter never claims; once the ledger lock's deadline passes (a few
    real seconds: the notary's clock is the wall clock) the bridge refunds its inventory; the
    holder refunds the chain lock after its own, later deadline."""
    async def scenario(world: World) -> None:
        await fund(world, 1_000)
        await _inventory(world, 500)
        chain_deadline = max(world.chain.timestamp(), int(time.time())) + 2 + 3
        swap_id = _lock_on_chain(world, 200, chain_deadline)
        world.chain.mine(CONFIRMATIONS)
        await settle(world)
        assert _swap(world, swap_id.hex())[0] == "locked"
        await asyncio.sleep(max(0.0, chain_deadline - 2 - time.time() + 1.1))
        await settle(world)
        assert _swap(world, swap_id.hex())[0] == "refunded"
        inventory = await world.held(world.setup.config.key.participant)
        assert inventory == 500
        world.chain.advance_time(10)
        world.chain.mine()
        _htlc(world).refund(world.holder, swap_id)
        assert _htlc(world).swap(swap_id).state == SwapState.REFUNDED

    run_world(tmp_path, scenario, swap_margin_s=2, swap_window_min_s=1)


def test_in_swaps_the_bridge_cannot_serve_are_declined(tmp_path: Path) -> None:
    """In, declined: a chain lock ending too soon for the margin and window, and one beyond the
    bridge's inventory, are declined with no ledger lock; the holder refunds them on chain."""
    async def scenario(world: World) -> None:
        await fund(world, 1_000)
        await _inventory(world, 100)
        now = max(world.chain.timestamp(), int(time.time()))
        soon = _lock_on_chain(world, 50, now + MARGIN_S + WINDOW_S // 2)
        too_big = _lock_on_chain(world, 101, now + 3_600)
        world.chain.mine(CONFIRMATIONS)
        await settle(world)
        assert _swap(world, soon.hex())[0] == "declined"
        status, reason = _swap(world, too_big.hex())
        assert status == "declined" and reason.startswith("not enough inventory")
        assert await world.held(world.setup.config.key.participant) == 100
        assert await world.held() == 900

    run_world(tmp_path, scenario, swap_margin_s=MARGIN_S, swap_window_min_s=WINDOW_S)


def test_a_restart_between_recording_and_locking_locks_once(tmp_path: Path) -> None:
    """Crash safety in-process: the chain lock is sent, then the bridge "dies" before recording
    it; a new bridge on the same database finds the lock by its id and never locks twice."""
    async def scenario(world: World) -> None:
        await fund(world, 1_000)
        receiver = world.chain.new_account()
        note = await lock_to_bridge(world, 300, f"evm:{receiver.address}",
                                     int(time.time()) + 3_600, DIGEST)
        await world.bridge._take_in_notes()
        [accepted] = world.bridge.store.swaps("accepted", "out")
        world.bridge.swaps._lock_on_chain(accepted)  # sent, but the status was never stored
        await settle(world)
        assert _swap(world, note)[0] == "locked"
        assert world.coin.balance_of(world.setup.operator.address) == (FLOAT_YEN - 300) * YEN

    run_world(tmp_path, scenario, swap_margin_s=MARGIN_S, swap_window_min_s=WINDOW_S)
