"""SIGKILL the bridge at any moment: no deposit is credited twice or dropped, no withdrawal is
paid twice.

Method: real processes on 127.0.0.1 — a central node, a ganache node, and `earmark bridge run`
— with deposits into the vault and withdrawals (payments to the bridge naming an EVM receiver)
made while the bridge process is killed with SIGKILL and restarted at random moments. Then the
bridge runs until everything settles, and the ledger balances, the receivers' on-chain balances,
the vault's Withdrawn events and `earmark bridge reconcile` are checked. EARMARK_BRIDGE_KILLS
sets the number of kills (`make soak` runs more).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from bank_network import key

from bridges.evm.chain import Chain, ChainConfig
from bridges.evm.contracts import Stablecoin, Vault
from dsl.facts import Party
from node.bridge_setup import provision
from node.client import NodeClient
from node.config import write
from node.ledger_wallet import LedgerWallet
from node.local_network import CENTRAL_NAME, LocalNetwork
from node.messages import RegisterParticipant
from node.wire import token_from_wire

KILLS = int(os.environ.get("EARMARK_BRIDGE_KILLS", "4"))
YEN = 10**18
CONFIRMATIONS = 2
SETTLE_TIMEOUT_S = 90
START_TIMEOUT_S = 60
EXPORTER = key("exporter")


class BridgeProcess:
    """`earmark bridge run` as a process of its own."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config, self.log = config, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it (it logs to `log`) and wait until it is connected and passing, so that a
        kill lands in its work rather than in Python's start-up."""
        started = self._banners()
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "node.cli", "bridge", "run", "--config", str(self.config)],
                stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while self._banners() == started:
            assert time.monotonic() < deadline, self.log.read_text()[-2000:]
            assert self.process.poll() is None, self.log.read_text()[-2000:]
            time.sleep(0.05)

    def _banners(self) -> int:
        return self.log.read_text().count("bridge yen-bridge:") if self.log.exists() else 0

    def kill(self) -> None:
        """SIGKILL: no chance to finish anything."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """SIGTERM and wait."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)


def test_sigkill_never_double_credits_double_pays_or_drops(tmp_path: Path,
                                                           ganache_url: str) -> None:
    """The whole story above; `KILLS` kills spread over deposits and withdrawals."""
    network = LocalNetwork.create(tmp_path, ["JPY"], [])
    asyncio.run(network.start())
    try:
        asyncio.run(_story(tmp_path, network, ganache_url))
    finally:
        network.stop()


async def _story(folder: Path, network: LocalNetwork, rpc_url: str) -> None:
    rng = random.Random(KILLS)
    chain = Chain.connect(ChainConfig(rpc_url=rpc_url))
    central_url = network.central.url
    async with NodeClient(central_url, network.key(CENTRAL_NAME)) as central:
        setup = await provision(central, chain, name="yen-bridge", token="JPYS", currency="JPY",
                                central_url=central_url,
                                database=f"sqlite:///{folder / 'bridge.db'}",
                                chain_config=ChainConfig(rpc_url=rpc_url),
                                confirmations=CONFIRMATIONS)
        await central.register_participant(RegisterParticipant(
            name="exporter", role="agency", key=EXPORTER.participant))
    config = setup.config.model_copy(update={"poll_interval_s": 0.05})
    write(config, folder / "bridge.toml")
    bridge = BridgeProcess(folder / "bridge.toml", folder / "bridge.log")
    coin, vault = Stablecoin.at(chain, config.stablecoin), Vault.at(chain, config.vault)
    holder = chain.new_account()
    coin.mint(setup.issuer, holder.address, 10**6 * YEN)
    coin.approve(holder, vault.address, 10**6 * YEN)

    deposits = [rng.randint(1, 500) for _ in range(KILLS * 2)]
    for round_deposits in (deposits[i::KILLS] for i in range(KILLS)):
        bridge.start()
        for amount in round_deposits:
            vault.deposit(holder, amount * YEN, bytes.fromhex(EXPORTER.participant))
            chain.mine(1)
            time.sleep(rng.uniform(0.0, 0.3))
        bridge.kill()
    bridge.start()
    async with NodeClient(central_url, network.key(CENTRAL_NAME)) as central:
        await _until(chain, lambda: _held(central, config.token), sum(deposits))

        async with NodeClient(central_url, EXPORTER) as client:
            exporter = LedgerWallet(client, "exporter")
            receivers = [chain.new_account().address for _ in range(KILLS)]
            amounts = [rng.randint(1, 50) for _ in receivers]
            for receiver, amount in zip(receivers, amounts, strict=True):
                paid = await exporter.pay(config.key.participant,
                                          Party(id=f"evm:{receiver}", role="fx_provider"),
                                          amount, "JPY", token_from_wire(config.token))
                assert paid.status == "committed", paid
                time.sleep(rng.uniform(0.05, 0.6))
                bridge.kill()
                bridge.start()
        await _until(chain, lambda: _on_chain(coin, receivers), sum(amounts))
        assert await _held(central, config.token) == sum(deposits) - sum(amounts)
    bridge.stop()

    assert [coin.balance_of(r) for r in receivers] == [a * YEN for a in amounts]
    paid_ids = [w.withdrawal_id for w in vault.withdrawals(0, chain.block_number())]
    assert len(paid_ids) == len(set(paid_ids)) == len(amounts)
    reconciled = subprocess.run(
        [sys.executable, "-m", "node.cli", "bridge", "reconcile", "--config",
         str(folder / "bridge.toml")], capture_output=True, text=True, timeout=60, check=False)
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
    assert "reconciled" in reconciled.stdout


async def _held(central: NodeClient, token: object) -> int:
    statistics = await central.statistics()
    return sum(item.supply_minor for item in statistics.items if item.token == token)


async def _on_chain(coin: Stablecoin, receivers: list[str]) -> int:
    return sum(coin.balance_of(r) for r in receivers) // YEN


async def _until(chain: Chain, read: object, expected: int) -> None:
    """Mine a block now and then (confirmations) until `read()` gives `expected`."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    found = None
    while time.monotonic() < deadline:
        found = await read()  # type: ignore[operator]
        if found == expected:
            return
        assert found < expected, f"more than expected: {found} > {expected}"
        chain.mine(1)
        await asyncio.sleep(0.2)
    raise AssertionError(f"not settled in {SETTLE_TIMEOUT_S} s: {found} of {expected}")
