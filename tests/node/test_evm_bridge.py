"""The EVM bridge against a real central node (in-process) and the embedded EVM.

Method: `bank_network` serves a central bank on 127.0.0.1; `provision` registers a bridge,
deploys its bridged JPYS token on the ledger and the stablecoin and vault on an embedded chain;
the test moves money through `EvmBridge.step` pass by pass, mining blocks and taking chain
snapshots to stand for reorganisations, and reconciles the vault with the ledger supply after
every story.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bank_network import CENTRAL, Network, key, network
from eth_account.signers.local import LocalAccount

from bridges.evm.chain import Chain
from bridges.evm.contracts import Stablecoin
from dsl.facts import Party
from engine.ids import ParticipantId
from node.bridge_reconcile import reconcile
from node.bridge_setup import Provisioned, provision
from node.bridge_store import BridgeStore
from node.client import NodeClient
from node.evm_bridge import EvmBridge
from node.ledger_wallet import LedgerWallet
from node.messages import RegisterParticipant
from node.wire import token_from_wire

CONFIRMATIONS = 3
YEN = 10**18  # one JPY on chain (18 decimals; the yen has no minor unit)
EXPORTER = key("exporter")


@dataclass
class World:
    """The network, the chain, the bridge and a depositor with stablecoin on chain."""

    net: Network
    chain: Chain
    setup: Provisioned
    bridge: EvmBridge
    coin: Stablecoin
    holder: LocalAccount

    async def deposit(self, yen: int, owner: ParticipantId = EXPORTER.participant) -> None:
        """The holder deposits `yen` into the vault for the ledger wallet `owner`."""
        self.coin.approve(self.holder, self.bridge.vault.address, yen * YEN)
        self.bridge.vault.deposit(self.holder, yen * YEN, bytes.fromhex(owner))

    async def held(self, owner: ParticipantId = EXPORTER.participant) -> int:
        """What `owner` holds of JPYS on the ledger."""
        async with NodeClient(self.net.central_url, CENTRAL) as central:
            balances = await central.balances(owner)
        return sum(b.amount_minor for b in balances.balances if b.token == self.bridge.config.token)


@asynccontextmanager
async def bridged_world(tmp_path: Path) -> AsyncIterator[World]:
    """A central bank, a provisioned bridge on a fresh embedded chain, and a funded holder."""
    async with network(tmp_path) as net:
        chain = Chain.connect()
        async with NodeClient(net.central_url, CENTRAL) as central:
            setup = await provision(central, chain, name="yen-bridge", token="JPYS",
                                    currency="JPY", central_url=net.central_url,
                                    database=f"sqlite:///{tmp_path / 'bridge.db'}",
                                    confirmations=CONFIRMATIONS)
            await central.register_participant(RegisterParticipant(
                name="exporter", role="agency", key=EXPORTER.participant))
        coin = Stablecoin.at(chain, setup.config.stablecoin)
        holder = chain.new_account()
        coin.mint(setup.issuer, holder.address, 1_000_000 * YEN)
        store = BridgeStore(setup.config.database)
        async with NodeClient(net.central_url, setup.config.key) as client:
            yield World(net, chain, setup, EvmBridge(setup.config, chain, client, store), coin,
                        holder)
        store.close()


def _run(tmp_path: Path, scenario: Callable[[World], Awaitable[None]]) -> None:
    async def run() -> None:
        async with bridged_world(tmp_path) as world:
            await scenario(world)
    asyncio.run(run())


async def _settle(world: World) -> None:
    """Passes until one changes nothing."""
    for _ in range(5):
        report = await world.bridge.step()
        if not (report.deposits_seen or report.credited or report.withdrawals_seen
                or report.burned or report.paid):
            return


def test_a_deposit_is_credited_after_n_confirmations_and_only_once(tmp_path: Path) -> None:
    """Deposit: nothing is credited while the deposit has fewer than N confirmations; then the
    wallet gets exactly the deposit, however many passes run; the vault reconciles."""
    async def scenario(world: World) -> None:
        await world.deposit(1_500)
        await _settle(world)
        assert await world.held() == 0
        world.chain.mine(CONFIRMATIONS - 1)
        await _settle(world)
        await _settle(world)
        assert await world.held() == 1_500
        found = await reconcile(world.bridge)
        assert found.ok and found.vault_minor == 1_500 and found.supply_minor == 1_500

    _run(tmp_path, scenario)


def test_a_reorg_shorter_than_n_changes_nothing(tmp_path: Path) -> None:
    """Reorg: a deposit mined and then dropped by a reorganisation (a snapshot reverted) before
    N confirmations is never credited; a later deposit still is."""
    async def scenario(world: World) -> None:
        before = world.chain.snapshot()
        await world.deposit(700)
        world.chain.mine(CONFIRMATIONS - 2)
        await _settle(world)
        world.chain.revert(before)
        world.chain.mine(CONFIRMATIONS + 1)
        await _settle(world)
        assert await world.held() == 0
        await world.deposit(300)
        world.chain.mine(CONFIRMATIONS)
        await _settle(world)
        assert await world.held() == 300
        assert (await reconcile(world.bridge)).ok

    _run(tmp_path, scenario)


def test_a_withdrawal_burns_then_pays_out_once(tmp_path: Path) -> None:
    """Withdrawal: the exporter pays JPYS to the bridge naming an EVM receiver; the bridge
    burns it and the vault pays the receiver exactly the amount, once, however many passes."""
    async def scenario(world: World) -> None:
        await world.deposit(2_000)
        world.chain.mine(CONFIRMATIONS)
        await _settle(world)
        receiver = world.chain.new_account()
        async with NodeClient(world.net.central_url, EXPORTER) as client:
            wallet = LedgerWallet(client, "exporter")
            paid = await wallet.pay(world.setup.config.key.participant,
                                    Party(id=f"evm:{receiver.address}", role="fx_provider"), 800,
                                    "JPY", token_from_wire(world.bridge.config.token))
        assert paid.status == "committed", paid
        await _settle(world)
        await _settle(world)
        assert world.coin.balance_of(receiver.address) == 800 * YEN
        assert await world.held() == 1_200
        found = await reconcile(world.bridge)
        assert found.ok and found.vault_minor == 1_200 and found.payouts_in_flight_minor == 0

    _run(tmp_path, scenario)


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
        await _settle(world)
        assert await world.held() == 900
        assert (await reconcile(world.bridge)).ok

    _run(tmp_path, scenario)
