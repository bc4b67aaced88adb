"""SIGKILL the bridge at any moment: no deposit is credited twice or dropped, no withdrawal is
paid twice, no swap leg is locked twice or left unclaimed.

Method: real processes on 127.0.0.1 — a central node, a ganache node, and `earmark bridge run`
— with deposits into the vault, withdrawals (payments to the bridge naming an EVM receiver) and
hashed-timelock swaps both ways, made while the bridge process is killed with SIGKILL and
restarted at random moments. Then the bridge runs until everything settles, and the ledger
balances, the receivers' on-chain balances, the vault's Withdrawn events, the HTLC's Locked
events, the ledger's locked notes and `earmark bridge reconcile` are checked.
EARMARK_BRIDGE_KILLS sets the number of kills in each phase (`make soak` runs more).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bank_network import key
from eth_account.signers.local import LocalAccount

from bridges.evm.chain import Chain, ChainConfig
from bridges.evm.contracts import (
    HashedTimelock,
    Stablecoin,
    SwapState,
    SwapTerms,
    Vault,
    hashlock_of,
    swap_id_of,
)
from dsl.facts import Party
from engine.encoding import note_id
from engine.ids import TxId
from engine.model import HashLock
from node.bridge_config import BridgeConfig
from node.bridge_setup import provision
from node.client import NodeClient
from node.config import write
from node.ledger_wallet import LedgerWallet
from node.local_network import CENTRAL_NAME, LocalNetwork
from node.messages import PAGE_SIZE_MAX, NotesQuery, NoteWire, RegisterParticipant
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

    try:
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
                    paid = await exporter.pay(config.key.participant, Party(), amount, "JPY",
                                              token_from_wire(config.token), memo=f"evm:{receiver}")
                    assert paid.status == "committed", paid
                    time.sleep(rng.uniform(0.05, 0.6))
                    bridge.kill()
                    bridge.start()
            await _until(chain, lambda: _on_chain(coin, receivers), sum(amounts))
            assert await _held(central, config.token) == sum(deposits) - sum(amounts)
            async with NodeClient(central_url, EXPORTER) as client:
                story = SwapStory(chain, config, setup.operator, bridge, rng,
                                  LedgerWallet(client, "exporter"))
                coin.mint(setup.issuer, setup.operator.address, 10**6 * YEN)
                await story.out_swaps()
                await story.in_swaps(holder)
    finally:
        bridge.stop()  # also when the story fails: no bridge outlives its test

    assert [coin.balance_of(r) for r in receivers] == [a * YEN for a in amounts]
    paid_ids = [w.withdrawal_id for w in vault.withdrawals(0, chain.block_number())]
    assert len(paid_ids) == len(set(paid_ids)) == len(amounts)
    reconciled = subprocess.run(
        [sys.executable, "-m", "node.cli", "bridge", "reconcile", "--config",
         str(folder / "bridge.toml")], capture_output=True, text=True, timeout=60, check=False)
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
    assert "reconciled" in reconciled.stdout


@dataclass
class SwapStory:
    """Swaps both ways, the bridge killed after each lock and claim."""

    chain: Chain
    config: BridgeConfig
    operator: LocalAccount
    bridge: BridgeProcess
    rng: random.Random
    exporter: LedgerWallet

    def _crash(self) -> None:
        time.sleep(self.rng.uniform(0.05, 0.6))
        self.bridge.kill()
        self.bridge.start()

    async def out_swaps(self) -> None:
        """The exporter locks JPYS to the bridge for new EVM receivers; each chain lock appears
        once and is claimed; the bridge then claims every ledger note."""
        htlc, coin = HashedTimelock.at(self.chain, self.config.htlc), self._coin()
        swaps = []
        for _ in range(KILLS):
            preimage, amount = self.rng.randbytes(32), self.rng.randint(1, 10)
            receiver, deadline = self.chain.new_account(), int(time.time()) + 3_600
            paid = await self.exporter.pay(
                self.config.key.participant, Party(), amount, "JPY",
                token_from_wire(self.config.token),
                lock=HashLock(hashlock_of(preimage).hex(), EXPORTER.participant, deadline),
                memo=f"evm:{receiver.address}")
            assert paid.status == "committed", paid
            note = note_id(TxId(paid.tx_id), 0)
            terms = SwapTerms(token=coin.address, receiver=receiver.address,
                              amount=amount * YEN, hashlock=hashlock_of(preimage),
                              deadline=deadline - self.config.swap_margin_s,
                              memo=bytes.fromhex(note))
            swaps.append((note, receiver, amount, preimage,
                          swap_id_of(self.operator.address, terms)))
            self._crash()
        for _, receiver, _, preimage, swap_id in swaps:
            await _until(self.chain, lambda s=swap_id: _state(htlc, s), int(SwapState.OPEN))
            htlc.claim(receiver, swap_id, preimage)
            self._crash()
        await _until(self.chain, lambda: self._spent([n for n, *_ in swaps]), len(swaps))
        assert [coin.balance_of(r.address) for _, r, *_ in swaps] == [
            a * YEN for _, _, a, *_ in swaps]
        locks = htlc.locks(0, self.chain.block_number())
        assert len([lock for lock in locks if lock.sender == self.operator.address]) == len(swaps)

    async def in_swaps(self, holder: LocalAccount) -> None:
        """The holder locks stablecoin for the bridge naming the exporter; each ledger lock
        appears once and the exporter claims it; the bridge then claims every chain lock."""
        htlc, coin = HashedTimelock.at(self.chain, self.config.htlc), self._coin()
        paid = await self.exporter.pay(self.config.key.participant,
                                       Party(id="yen-bridge", role="fx_provider"), 10 * KILLS,
                                       "JPY", token_from_wire(self.config.token))
        assert paid.status == "committed", paid  # the bridge's inventory for these swaps
        before = coin.balance_of(self.operator.address)
        coin.approve(holder, htlc.address, 10**6 * YEN)
        secrets: dict[str, bytes] = {}
        amounts = []
        for _ in range(KILLS):
            preimage, amount = self.rng.randbytes(32), self.rng.randint(1, 10)
            secrets[hashlock_of(preimage).hex()] = preimage
            amounts.append(amount)
            htlc.lock(holder, SwapTerms(
                token=coin.address, receiver=self.operator.address, amount=amount * YEN,
                hashlock=hashlock_of(preimage), deadline=self.chain.timestamp() + 3_600,
                memo=bytes.fromhex(EXPORTER.participant)))
            self._crash()
        await _until(self.chain, self._locked_for_exporter, len(secrets))
        for note in await self._exporter_locks(include_spent=False):
            assert note.lock is not None
            claimed = await self.exporter.settle(note, secrets[note.lock.digest])
            assert claimed.status == "committed", claimed
            self._crash()
        await _until(self.chain, lambda: _gained(coin, self.operator.address, before),
                     sum(amounts))
        digests = [n.lock.digest for n in await self._exporter_locks(include_spent=True)
                   if n.lock is not None]
        assert sorted(digests) == sorted(secrets), "one ledger lock per chain lock"

    def _coin(self) -> Stablecoin:
        return Stablecoin.at(self.chain, self.config.stablecoin)

    async def _spent(self, notes: list[str]) -> int:
        found = [await self.exporter.client.note(n) for n in notes]
        return sum(n.spent_by is not None for n in found)

    async def _exporter_locks(self, *, include_spent: bool) -> list[NoteWire]:
        page = await self.exporter.client.notes(NotesQuery(
            owner=EXPORTER.participant, currency="JPY", include_spent=include_spent,
            limit=PAGE_SIZE_MAX))
        return [n for n in page.items if n.lock is not None
                and n.lock.refund_to == self.config.key.participant]

    async def _locked_for_exporter(self) -> int:
        return len(await self._exporter_locks(include_spent=False))


async def _state(htlc: HashedTimelock, swap_id: bytes) -> int:
    return int(htlc.swap(swap_id).state)


async def _gained(coin: Stablecoin, holder: str, before: int) -> int:
    return (coin.balance_of(holder) - before) // YEN


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
