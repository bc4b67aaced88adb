"""A central bank on 127.0.0.1 with a provisioned EVM bridge on a fresh embedded chain, for
the bridge's tests: `bridged_world` yields the network, the chain, the bridge (driven pass by
pass with `settle`) and a holder with stablecoin on chain.
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
from engine.encoding import note_id
from engine.ids import ParticipantId, TxId
from engine.model import HashLock
from node.bridge_setup import Provisioned, provision
from node.bridge_store import BridgeStore
from node.client import NodeClient
from node.evm_bridge import EvmBridge, PassReport
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
async def bridged_world(tmp_path: Path, **swap_times: int) -> AsyncIterator[World]:
    """A central bank, a provisioned bridge on a fresh embedded chain, and a funded holder;
    `swap_times` sets the bridge's `swap_margin_s` and `swap_window_min_s`."""
    async with network(tmp_path) as net:
        chain = Chain.connect()
        async with NodeClient(net.central_url, CENTRAL) as central:
            setup = await provision(central, chain, name="yen-bridge", token="JPYS",
                                    currency="JPY", central_url=net.central_url,
                                    database=f"sqlite:///{tmp_path / 'bridge.db'}",
                                    confirmations=CONFIRMATIONS, **swap_times)
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


def run_world(tmp_path: Path, scenario: Callable[[World], Awaitable[None]],
              **swap_times: int) -> None:
    """Run `scenario` in a fresh bridged world."""
    async def run() -> None:
        async with bridged_world(tmp_path, **swap_times) as world:
            await scenario(world)
    asyncio.run(run())


async def settle(world: World) -> None:
    """Passes until one changes nothing."""
    for _ in range(5):
        if await world.bridge.step() == PassReport():
            return


FLOAT_YEN = 5_000  # the bridge operator's float on chain, out-swaps lock from it


async def fund(world: World, yen: int) -> None:
    """The exporter gets `yen` JPYS on the ledger; the bridge's operator gets float on chain."""
    await world.deposit(yen)
    world.chain.mine(CONFIRMATIONS)
    await settle(world)
    world.coin.mint(world.setup.issuer, world.setup.operator.address, FLOAT_YEN * YEN)


async def lock_to_bridge(world: World, yen: int, receiver: str, deadline_s: int,
                         digest: str) -> str:
    """The exporter locks `yen` JPYS to the bridge for `receiver` (the memo the bridge reads,
    `evm:0x…`) under `digest`; the locked note's id."""
    async with NodeClient(world.net.central_url, EXPORTER) as client:
        paid = await LedgerWallet(client, "exporter").pay(
            world.setup.config.key.participant, Party(), yen,
            "JPY", token_from_wire(world.bridge.config.token),
            lock=HashLock(digest, EXPORTER.participant, deadline_s), memo=receiver)
    assert paid.status == "committed", paid
    return note_id(TxId(paid.tx_id), 0)
