"""The devnet's embedded EVM chain and its bridge, hosted in a thread of the devnet's process.

The embedded chain (py-evm) lives in the memory of one process, so the bridge that watches it
cannot be a child process: it runs here, on an event loop of its own in a daemon thread, beside
its HTTP API (`node.bridge_service.build_bridge_app`). `serve_bridge` would install signal
handlers, which only the main thread may; the devnet's own Ctrl-C handling stops this host.

`provision_chain` sets the chain up from nothing (stablecoin, vault and hashed-timelock contracts
deployed, the bridge registered on the JPY ledger, `node.bridge_setup.provision`) and deposits
stablecoin through the vault for each FX provider's ledger key, so the providers hold bridged
notes once the bridge has credited them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Coroutine, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from aiohttp import web

from bridges.evm.chain import Chain
from bridges.evm.contracts import Stablecoin, Vault
from dsl.money import exponent
from node.bridge_config import BridgeConfig
from node.bridge_service import build_bridge_app
from node.bridge_setup import CHAIN_DECIMALS, Provisioned, provision
from node.bridge_store import BridgeStore
from node.client import NodeClient
from node.errors import NodeError
from node.evm_bridge import EvmBridge

T = TypeVar("T")
HOST_CALL_TIMEOUT_S: Final = 60.0  # one call into the host's loop (opening or closing the bridge)
CREDIT_TIMEOUT_S: Final = 30.0  # the bridge credits a confirmed deposit within this
CREDIT_POLL_S: Final = 0.25
BRIDGE_FLOAT_MINOR: Final = 10_000_000  # yen of stablecoin the operator locks out-swaps from
BRIDGE_POLL_INTERVAL_S: Final = 0.5  # the bridge's passes: quick, for a network on one machine
LOGGERS: Final = ("earmark.bridge", "earmark.node")  # what the hosted bridge logs to its file
log = logging.getLogger("earmark.devnet")


@dataclass(frozen=True, slots=True)
class ChainPlan:
    """What to set up on the chain: the bridge's name, port, database and token, and the
    stablecoin to deposit for each wallet key (in ledger minor units)."""

    bridge: str
    port: int
    database: str
    token: str
    currency: str
    deposits: Mapping[str, int]  # ledger public key -> minor units


@dataclass
class _Running:
    """A bridge being served: what closes it, its passes and its stop signal."""

    bridge: EvmBridge
    stop: asyncio.Event
    passes: asyncio.Task[None]
    resources: AsyncExitStack


class ChainHost:
    """The embedded chain and, once provisioned, its bridge (passes and API) on a loop of its
    own; `log_path` receives the bridge's log."""

    def __init__(self, log_path: Path) -> None:
        self.chain = Chain.connect()
        self.config: BridgeConfig | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="devnet-chain",
                                        daemon=True)
        self._running: _Running | None = None
        self._log = logging.FileHandler(log_path)
        self._log.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        self._thread.start()
        self._levels = {name: logging.getLogger(name).level for name in LOGGERS}
        for name in LOGGERS:
            logging.getLogger(name).addHandler(self._log)
            logging.getLogger(name).setLevel(logging.INFO)

    @property
    def running(self) -> bool:
        """Whether the bridge's passes run."""
        return self._running is not None and not self._running.passes.done()

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        """Run `work` on the host's loop and wait for it (from any other thread)."""
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(HOST_CALL_TIMEOUT_S)

    def start_bridge(self) -> None:
        """Serve the provisioned bridge: its passes and its API on its port."""
        if self.config is None:
            raise NodeError(500, "devnet_failed", "Devnet did not start",
                            "the bridge is not provisioned")
        if self._running is None:
            self._running = self._call(_open(self.config, self.chain))

    def stop_bridge(self) -> None:
        """Stop the bridge's passes and API (the chain stays, so it can start again)."""
        running, self._running = self._running, None
        if running is not None:
            self._call(_close(running))

    def close(self) -> None:
        """Stop the bridge and the host's loop."""
        self.stop_bridge()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(HOST_CALL_TIMEOUT_S)
        self._loop.close()
        for name, level in self._levels.items():
            logging.getLogger(name).removeHandler(self._log)
            logging.getLogger(name).setLevel(level)
        self._log.close()

    async def provision_chain(self, central: NodeClient, plan: ChainPlan) -> BridgeConfig:
        """Deploy the contracts and register the bridge through `central` (signed by the
        central bank), serve the bridge, deposit for each key and wait until it is credited."""
        setup = await provision(central, self.chain, name=plan.bridge, token=plan.token,
                                currency=plan.currency, central_url=str(central.base_url),
                                database=plan.database, confirmations=1)
        self.config = setup.config.model_copy(update={
            "port": plan.port, "poll_interval_s": BRIDGE_POLL_INTERVAL_S})
        await asyncio.to_thread(self.start_bridge)
        await asyncio.to_thread(self._deposit, setup, plan.deposits)
        for owner, amount in plan.deposits.items():
            await _credited(central, owner, self.config, amount)
        return self.config

    def _deposit(self, setup: Provisioned, deposits: Mapping[str, int]) -> None:
        """An issuer mints to a holder, who deposits into the vault for each ledger key, and
        mints the bridge's operator its float (out-swaps lock from it, outside the vault)."""
        unit = 10 ** (CHAIN_DECIMALS - exponent(setup.config.currency))
        coin = Stablecoin.at(self.chain, setup.config.stablecoin)
        vault = Vault.at(self.chain, setup.config.vault)
        holder = self.chain.new_account()
        coin.mint(setup.issuer, holder.address, sum(deposits.values()) * unit)
        operator = Chain.account(setup.config.operator_key).address
        coin.mint(setup.issuer, operator, BRIDGE_FLOAT_MINOR * unit)
        for owner, amount in deposits.items():
            coin.approve(holder, vault.address, amount * unit)
            vault.deposit(holder, amount * unit, bytes.fromhex(owner))


async def _open(config: BridgeConfig, chain: Chain) -> _Running:
    """The bridge on its database, ledger client and API, with its passes started."""
    resources = AsyncExitStack()
    store = BridgeStore(config.database)
    resources.callback(store.close)
    client = await resources.enter_async_context(NodeClient(config.central_url, config.key))
    bridge = EvmBridge(config, chain, client, store)
    runner = web.AppRunner(build_bridge_app(bridge), access_log=None)
    await runner.setup()
    resources.push_async_callback(runner.cleanup)
    await web.TCPSite(runner, config.host, config.port).start()
    stop = asyncio.Event()
    passes = asyncio.create_task(bridge.run(stop), name=f"bridge {config.name}")
    passes.add_done_callback(_report_end)
    log.info("bridge %s listening on http://%s:%d", config.name, config.host, config.port)
    return _Running(bridge, stop, passes, resources)


def _report_end(passes: asyncio.Task[None]) -> None:
    if not passes.cancelled() and passes.exception() is not None:
        log.error("the bridge's passes ended: %s", passes.exception())


async def _close(running: _Running) -> None:
    running.stop.set()
    await asyncio.gather(running.passes, return_exceptions=True)
    await running.resources.aclose()


async def _credited(central: NodeClient, owner: str, config: BridgeConfig, amount: int) -> None:
    """Wait until `owner` holds at least `amount` of the bridged token on the ledger."""
    deadline = time.monotonic() + CREDIT_TIMEOUT_S
    while time.monotonic() < deadline:
        balances = await central.balances(owner)
        held = sum(b.amount_minor for b in balances.balances if b.token == config.token)
        if held >= amount:
            return
        await asyncio.sleep(CREDIT_POLL_S)
    raise NodeError(500, "devnet_failed", "Devnet did not start",
                    f"the bridge did not credit {owner}'s deposit within {CREDIT_TIMEOUT_S} s")
