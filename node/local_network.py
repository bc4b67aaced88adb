"""A two-tier network on this machine: a central node and its banks as real processes.

Each node gets a fresh configuration (its own key and database) in one folder, starts as
`earmark node start` would, and is registered with the central bank by the central bank's key.
The demo, the end-to-end tests and `earmark bench http` stand on this.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.keys import KeyPair
from node.client import NodeClient
from node.config import CentralLink, NodeConfig, fresh, write
from node.messages import RegisterParticipant
from node.processes import NodeProcess, free_port

CENTRAL_NAME = "national-bank"


@dataclass
class LocalNetwork:
    """The central node and the bank nodes, by name."""

    central: NodeProcess
    banks: dict[str, NodeProcess]

    @classmethod
    def create(cls, folder: Path, currencies: Sequence[str], bank_names: Sequence[str], *,
               databases: Mapping[str, str] | None = None,
               daily_limits: Mapping[str, list[int]] | None = None) -> LocalNetwork:
        """Configurations for a central node and `bank_names` in `folder` (not started yet).

        `databases` maps a node's name to its database URL (SQLite files in `folder` by
        default); `daily_limits` overrides the banks' KYC limits per currency."""
        urls = dict(databases or {})
        central = _node(folder, fresh("central", CENTRAL_NAME, free_port(), list(currencies),
                                      database=urls.get(CENTRAL_NAME, _sqlite(folder,
                                                                              CENTRAL_NAME))))
        link = CentralLink(url=central.url, key=central.config.key.participant)
        banks = {}
        for name in bank_names:
            config = fresh("bank", name, free_port(), list(currencies),
                           database=urls.get(name, _sqlite(folder, name)), central=link)
            if daily_limits:
                config = config.model_copy(update={"daily_limits": dict(daily_limits)})
            banks[name] = _node(folder, config)
        return cls(central, banks)

    async def start(self) -> None:
        """Start the central node, register the banks with it, then start the banks."""
        self.central.start()
        async with NodeClient(self.central.url, self.central.config.key) as central:
            for name, bank in self.banks.items():
                await central.register_participant(RegisterParticipant(
                    name=name, role="bank", key=bank.config.key.participant))
        for bank in self.banks.values():
            bank.start()

    def stop(self) -> None:
        """SIGTERM every node, banks first (they forward to the central node)."""
        for bank in self.banks.values():
            bank.stop()
        self.central.stop()

    def key(self, name: str) -> KeyPair:
        """A node's key (the central bank's or a bank operator's)."""
        node = self.central if name == CENTRAL_NAME else self.banks[name]
        return node.config.key


def _sqlite(folder: Path, name: str) -> str:
    return f"sqlite:///{folder / f'{name}.db'}"


def _node(folder: Path, config: NodeConfig) -> NodeProcess:
    path = folder / f"{config.name}.toml"
    write(config, path)
    return NodeProcess(config, path, folder / f"{config.name}.log")
