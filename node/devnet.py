"""A whole cross-border network on this machine: `earmark devnet` and the end-to-end tests.

Three ledgers (KHR with aba and acleda, THB with kbank, JPY with the EVM bridge), the PromptPay
switch stand-in, two FX providers and the hub run as `earmark` child processes, each with its
configuration, SQLite file and log in one folder (`node.devnet_plan` writes them). The embedded
EVM chain and its bridge run inside this process (`node.devnet_chain`).

The first start provisions: the providers and the hub are registered on every ledger, the banks
are issued money, kbank pays each provider its baht. A later start over the same folder reuses
the files and databases and provisions nothing again, except the chain side: the embedded chain
does not outlive its process, so every start deploys it anew, starts the JPY ledger and the
bridge from empty databases, registers the providers and the hub there again and deposits their
stablecoin once more.
"""

from __future__ import annotations

import asyncio
import shutil
import tomllib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from dsl.facts import Party
from engine.ids import ParticipantId
from engine.keys import KeyPair
from node import config as node_config
from node.bridge_config import BridgeConfig
from node.client import NodeClient
from node.devnet_chain import ChainHost, ChainPlan
from node.devnet_plan import (
    BRIDGE,
    BRIDGED_TOKEN,
    CHAIN,
    HUB,
    JPY_LIQUIDITY_MINOR,
    LEDGERS,
    MANIFEST_FILE,
    PROVIDERS,
    SWITCH,
    THB_LIQUIDITY_MINOR,
    ChainFacts,
    LedgerPlan,
    Manifest,
    load_manifest,
    save_manifest,
    write_configs,
)
from node.errors import NodeError
from node.fx_provider_config import ChainRoute, FxProviderConfig
from node.hub_config import ChainSystem, HubConfig
from node.ledger_wallet import LedgerWallet
from node.local_network import LocalNetwork
from node.messages import IssuanceRequest, OutcomeWire, RegisterParticipant, ReserveDeposit
from node.processes import ChildProcess, NodeProcess, ServiceProcess

DEFAULT_DIRECTORY: Final = Path("devnet")
FUNDING_BANK: Final = ("thb", "kbank")  # the bank that pays the providers their baht


class DevnetError(NodeError):
    """The devnet could not be set up or started."""

    def __init__(self, detail: str) -> None:
        super().__init__(500, "devnet_failed", "Devnet did not start", detail)


class Devnet:
    """The devnet in one folder: its pieces as processes, the chain host, the manifest."""

    def __init__(self, directory: Path, manifest: Manifest) -> None:
        self.directory = directory.resolve()
        self.manifest = manifest
        self.networks = {plan.system: self._network(plan) for plan in LEDGERS}
        self.services = {piece.name: self._service(piece.name, piece.kind)
                         for piece in manifest.pieces
                         if piece.kind in ("switch", "fx_provider", "hub")}
        self.host: ChainHost | None = None

    @classmethod
    def create(cls, directory: Path) -> Devnet:
        """Write every piece's configuration into `directory` (nothing starts yet)."""
        return cls(directory, write_configs(directory))

    @classmethod
    def open(cls, directory: Path, *, fresh: bool = False) -> Devnet:
        """The devnet in `directory`: the one there (reused), or a new one; `fresh` wipes the
        folder first."""
        if fresh and directory.exists():
            if not (directory / MANIFEST_FILE).exists() and any(directory.iterdir()):
                raise DevnetError(f"{directory} holds no {MANIFEST_FILE}: it is not a devnet's "
                                  "folder, so --fresh does not wipe it")
            shutil.rmtree(directory)
        if (directory / MANIFEST_FILE).exists():
            return cls(directory, load_manifest(directory))
        return cls.create(directory)

    # ---- the pieces ---------------------------------------------------------------------------

    def _network(self, plan: LedgerPlan) -> LocalNetwork:
        central = self._node(plan.central)
        return LocalNetwork(central, {name: self._node(name) for name in plan.banks})

    def _node(self, name: str) -> NodeProcess:
        path = self.config_path(name)
        return NodeProcess(node_config.load(path), path, self.log_path(name))

    def _service(self, name: str, kind: str) -> ServiceProcess:
        path = str(self.config_path(name))
        command = {"switch": ["partner-switch", "run", "--config", path],
                   "fx_provider": ["fx", "run", "--config", path],
                   "hub": ["node", "start", "--config", path]}[kind]
        return ServiceProcess(name, command, self.url(name), self.log_path(name))

    def process(self, name: str) -> ChildProcess:
        """The child process of the piece `name` (every piece but the bridge)."""
        if name in self.services:
            return self.services[name]
        for network in self.networks.values():
            if name == network.central.config.name:
                return network.central
            if name in network.banks:
                return network.banks[name]
        raise DevnetError(f"{name!r} is not a process of the devnet")

    def url(self, name: str) -> str:
        """Where the piece `name` answers."""
        return self.manifest.piece(name).url

    def public_key(self, name: str) -> str | None:
        """The piece's public key (the bridge's changes with every start; the switch has
        none)."""
        return self.manifest.piece(name).key

    def key(self, name: str) -> KeyPair:
        """The piece's signing key, from its configuration file."""
        data = tomllib.loads(self.config_path(name).read_text(encoding="utf-8"))
        return KeyPair.from_seed(bytes.fromhex(data["key_seed"]))

    def config_path(self, name: str) -> Path:
        """The piece's configuration file."""
        return self.directory / self.manifest.piece(name).config

    def log_path(self, name: str) -> Path:
        """Where the piece logs."""
        return self.directory / self.manifest.piece(name).log

    def running(self, name: str) -> bool:
        """Whether the piece's process (or, for the bridge, its passes) runs."""
        if name == BRIDGE:
            return self.host is not None and self.host.running
        return self.process(name).running

    # ---- starting and stopping ------------------------------------------------------------

    def start(self) -> None:
        """Start every piece, provisioning what this folder has not had yet; on a failure,
        stop what started and raise."""
        self._wipe_chain_side()
        try:
            self.host = ChainHost(self.log_path(BRIDGE))
            parallel([*(_starter(network) for network in self.networks.values()),
                      self.services[SWITCH].start])
            asyncio.run(self._provision())
            parallel([service.start for name, service in self.services.items()
                      if name != SWITCH])
        except BaseException:
            self.stop()
            raise
        self.manifest.starts += 1
        save_manifest(self.directory, self.manifest)

    def stop(self) -> None:
        """SIGTERM the hub, the providers and the switch, stop the bridge, then the ledgers
        (banks before their central node)."""
        parallel([service.stop for service in self.services.values()])
        if self.host is not None:
            self.host.close()
            self.host = None
        parallel([network.stop for network in self.networks.values()])

    def kill(self, name: str) -> None:
        """SIGKILL the piece `name` (a crash); the bridge's passes and API are stopped."""
        if name == BRIDGE:
            if self.host is not None:
                self.host.stop_bridge()
            return
        self.process(name).kill()

    def restart(self, name: str) -> None:
        """Start the piece `name` again (stopping it first if it still runs)."""
        if name == BRIDGE:
            if self.host is None:
                raise DevnetError("the devnet is not started")
            self.host.stop_bridge()
            self.host.start_bridge()
            return
        process = self.process(name)
        if process.running:
            process.stop()
        process.start()

    def _wipe_chain_side(self) -> None:
        """The JPY ledger and the bridge start empty: the chain they mirror is new."""
        names = [plan.central for plan in LEDGERS if plan.fresh_each_start] + [BRIDGE]
        for name in names:
            for path in self.directory.glob(f"{name}.db*"):
                path.unlink()

    # ---- provisioning ---------------------------------------------------------------------

    async def _provision(self) -> None:
        if not self.manifest.provisioned:
            for plan in LEDGERS:
                if not plan.fresh_each_start:
                    await self._open_ledger(plan)
            await self._fund_providers()
            self.manifest.provisioned = True
            save_manifest(self.directory, self.manifest)
        for plan in LEDGERS:
            if plan.fresh_each_start:
                await self._open_ledger(plan)
        await self._deploy_chain()

    async def _open_ledger(self, plan: LedgerPlan) -> None:
        """Register the providers and the hub; issue each bank its money against reserves."""
        central_url = self.url(plan.central)
        async with NodeClient(central_url, self.key(plan.central)) as central:
            for provider in PROVIDERS:
                await central.register_participant(RegisterParticipant(
                    name=provider.name, role="fx_provider", key=self._public(provider.name)))
            # The hub has no role of its own: as an agency it may read the directory.
            await central.register_participant(RegisterParticipant(
                name=HUB, role="agency", key=self._public(HUB)))
            for bank in plan.banks:
                await central.deposit_reserves(ReserveDeposit(
                    bank=bank, currency=plan.currency, amount_minor=plan.issued_minor))
        for bank in plan.banks:
            async with NodeClient(central_url, self.key(bank)) as client:
                issued = await client.request_issuance(IssuanceRequest(
                    currency=plan.currency, amount_minor=plan.issued_minor))
            _committed(issued, f"{bank}'s issuance")

    async def _fund_providers(self) -> None:
        """kbank pays each provider its baht liquidity on the THB ledger."""
        ledger, bank = FUNDING_BANK
        plan = next(p for p in LEDGERS if p.system == ledger)
        async with NodeClient(self.url(plan.central), self.key(bank)) as client:
            wallet = LedgerWallet(client, bank, role="bank")
            for provider in PROVIDERS:
                paid = await wallet.pay(ParticipantId(self._public(provider.name)),
                                        Party(provider.name, "fx_provider"),
                                        THB_LIQUIDITY_MINOR, plan.currency)
                _committed(paid, f"{bank} paying {provider.name}")

    async def _deploy_chain(self) -> None:
        """Deploy the chain, serve the bridge, give each provider its stablecoin, and point
        the providers' and the hub's files at this start's bridge."""
        if self.host is None:
            raise DevnetError("the chain host is not open")
        plan = next(p for p in LEDGERS if p.fresh_each_start)
        chain_plan = ChainPlan(
            bridge=BRIDGE, port=_port(self.url(BRIDGE)), token=BRIDGED_TOKEN,
            currency=plan.currency,
            database=f"sqlite:///{self.directory / f'{BRIDGE}.db'}",
            deposits={self._public(p.name): JPY_LIQUIDITY_MINOR for p in PROVIDERS})
        async with NodeClient(self.url(plan.central), self.key(plan.central)) as central:
            bridge = await self.host.provision_chain(central, chain_plan)
        node_config.write(bridge, self.config_path(BRIDGE))
        self._record_chain(bridge, plan)

    def _record_chain(self, bridge: BridgeConfig, plan: LedgerPlan) -> None:
        route = ChainRoute(bridge=bridge.key.participant, bridge_name=bridge.name,
                           currency=bridge.currency, token=bridge.token)
        for provider in PROVIDERS:
            path = self.config_path(provider.name)
            config = node_config.read(path, FxProviderConfig)
            node_config.write(config.model_copy(update={"chains": {CHAIN: route}}), path)
        path = self.config_path(HUB)
        hub = node_config.read(path, HubConfig)
        node_config.write(hub.model_copy(update={
            "chains": [ChainSystem(name=CHAIN, ledger=plan.system, bridge=bridge.name,
                                   bridge_url=self.url(BRIDGE), token=bridge.token)],
            # As text: the TOML writer takes no Path.
            "corridors": [str(corridor) for corridor in hub.corridors]}), path)
        self.manifest.piece(BRIDGE).key = bridge.key.participant
        if self.host is None:
            raise DevnetError("the chain host is not open")
        self.manifest.chain = ChainFacts(
            name=CHAIN, ledger=plan.system, bridge=bridge.name,
            chain_id=self.host.chain.chain_id, stablecoin=bridge.stablecoin,
            vault=bridge.vault, htlc=bridge.htlc, token=bridge.token)

    def _public(self, name: str) -> str:
        key = self.public_key(name)
        if key is None:
            raise DevnetError(f"{name} has no key")
        return key


def parallel(work: Sequence[Callable[[], object]]) -> None:
    """Run each of `work` in a thread of its own and wait for all; the first failure is
    raised once every one has ended."""
    if not work:
        return
    with ThreadPoolExecutor(max_workers=len(work)) as pool:
        futures = [pool.submit(job) for job in work]
    for future in futures:
        future.result()


def _starter(network: LocalNetwork) -> Callable[[], None]:
    return lambda: asyncio.run(network.start())


def _committed(outcome: OutcomeWire, what: str) -> None:
    if outcome.status != "committed":
        raise DevnetError(f"{what} was refused: {outcome.code}: {outcome.reason}")


def _port(url: str) -> int:
    port = urlsplit(url).port
    if port is None:
        raise DevnetError(f"{url} names no port")
    return port
