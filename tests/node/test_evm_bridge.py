"""The EVM bridge against a real central node (in-process) and the embedded EVM.

Method: `bank_network` serves a central bank on 127.0.0.1; `provision` registers a bridge,
deploys its bridged JPYS token on the ledger and the stablecoin and vault on an embedded chain;
the test moves money through `EvmBridge.step` pass by pass, mining blocks and taking chain
snapshots to stand for reorganisations, and reconciles the vault with the ledger supply after
every story.
"""

from __future__ import annotations

from pathlib import Path

from bridged_world import CONFIRMATIONS, EXPORTER, YEN, World, run_world, settle

from dsl.facts import Party
from node.bridge_reconcile import reconcile
from node.client import NodeClient
from node.evm_bridge import EvmBridge
from node.ledger_wallet import LedgerWallet
from node.wire import token_from_wire


def test_a_deposit_is_credited_after_n_confirmations_and_only_once(tmp_path: Path) -> None:
    """Deposit: nothing is credited while the deposit has fewer than N confirmations; then the
    wallet gets exactly the deposit, however many passes run; the vault reconciles."""
    async def scenario(world: World) -> None:
        await world.deposit(1_500)
        await settle(world)
        assert await world.held() == 0
        world.chain.mine(CONFIRMATIONS - 1)
        await settle(world)
        await settle(world)
        assert await world.held() == 1_500
        found = await reconcile(world.bridge)
        assert found.ok and found.vault_minor == 1_500 and found.supply_minor == 1_500

    run_world(tmp_path, scenario)


def test_a_reorg_shorter_than_n_changes_nothing(tmp_path: Path) -> None:
    """Reorg: a deposit mined and then dropped by a reorganisation (a snapshot reverted) before
    N confirmations is never credited; a later deposit still is."""
    async def scenario(world: World) -> None:
        before = world.chain.snapshot()
        await world.deposit(700)
        world.chain.mine(CONFIRMATIONS - 2)
        await settle(world)
        world.chain.revert(before)
        world.chain.mine(CONFIRMATIONS + 1)
        await settle(world)
        assert await world.held() == 0
        await world.deposit(300)
        world.chain.mine(CONFIRMATIONS)
        await settle(world)
        assert await world.held() == 300
        assert (await reconcile(world.bridge)).ok

    run_world(tmp_path, scenario)


def test_a_withdrawal_burns_then_pays_out_once(tmp_path: Path) -> None:
    """Withdrawal: the exporter pays JPYS to the bridge naming an EVM receiver; the bridge
    burns it and the vault pays the receiver exactly the amount, once, however many passes."""
    async def scenario(world: World) -> None:
        await world.deposit(2_000)
        world.chain.mine(CONFIRMATIONS)
        await settle(world)
        receiver = world.chain.new_account()
        async with NodeClient(world.net.central_url, EXPORTER) as client:
            wallet = LedgerWallet(client, "exporter")
            paid = await wallet.pay(world.setup.config.key.participant, Party(), 800, "JPY",
                                    token_from_wire(world.bridge.config.token),
                                    memo=f"evm:{receiver.address}")
        assert paid.status == "committed", paid
        await settle(world)
        await settle(world)
        assert world.coin.balance_of(receiver.address) == 800 * YEN
        assert await world.held() == 1_200
        found = await reconcile(world.bridge)
        assert found.ok and found.vault_minor == 1_200 and found.payouts_in_flight_minor == 0

    run_world(tmp_path, scenario)


def test_a_deposit_seen_before_a_restart_is_credited_once_after_it(tmp_path: Path) -> None:
    """Crash safety in-process: a bridge that recorded a deposit and died before crediting it
    is replaced by a new one on the same database, which credits it once."""
    async def scenario(world: World) -> None:
        await world.deposit(900)
        world.chain.mine(CONFIRMATIONS)
        await world.bridge._take_in_deposits()  # recorded, then "killed" before _credit
        async with NodeClient(world.net.central_url, world.setup.config.key) as client:
            again = EvmBridge(world.setup.config, world.chain, client, world.bridge.store)
            await again.step()
            await again.step()
        await settle(world)
        assert await world.held() == 900
        assert (await reconcile(world.bridge)).ok

    run_world(tmp_path, scenario)
