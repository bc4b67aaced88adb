"""Nodes as real processes on 127.0.0.1: started, waited for, stopped the way an operator would.

The end-to-end tests, `earmark demo` and `earmark bench http` run the services exactly as
`earmark node start --config FILE` runs them, so what they measure and check is what ships.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from node.config import NodeConfig
from node.errors import NodeError

READY_TIMEOUT_S: Final = 30.0
STOP_TIMEOUT_S: Final = 20.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ChildProcess(ABC):
    """One `earmark ...` child process on 127.0.0.1: started, waited for until its /healthz
    answers, stopped or killed. Subclasses say what to run (`arguments`), where it answers
    (`url`) and under which name it is reported (`label`)."""

    log_path: Path
    _process: subprocess.Popen[bytes] | None

    @property
    @abstractmethod
    def url(self) -> str:
        """Where the service answers."""

    @property
    @abstractmethod
    def label(self) -> str:
        """The service's name, for errors."""

    @property
    @abstractmethod
    def arguments(self) -> list[str]:
        """The `earmark` command line that serves it (after `earmark`)."""

    @property
    def running(self) -> bool:
        """Whether the process was started and has not exited."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the process and wait until /healthz answers."""
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "node.cli", *self.arguments], stdout=log,
            stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        log.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise NodeError(500, "node_exited", "Node did not start",
                                f"{self.label} exited: see {self.log_path}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise NodeError(500, "node_not_ready", "Node did not start",
                        f"{self.label} did not answer within {READY_TIMEOUT_S} s")

    def stop(self) -> int:
        """SIGTERM, as an operator stops it; returns the exit status."""
        return self._signal(signal.SIGTERM)

    def kill(self) -> int:
        """SIGKILL: a crash."""
        return self._signal(signal.SIGKILL)

    def _signal(self, number: signal.Signals) -> int:
        process, self._process = self._process, None
        if process is None:
            return 0
        process.send_signal(number)
        try:
            return process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()


@dataclass
class NodeProcess(ChildProcess):
    """One `earmark node start` child process and the configuration it runs."""

    config: NodeConfig
    config_path: Path
    log_path: Path
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """Where the node answers."""
        return f"http://{self.config.host}:{self.config.port}"

    @property
    def label(self) -> str:
        """The node's name."""
        return self.config.name

    @property
    def arguments(self) -> list[str]:
        """`node start --config FILE`."""
        return ["node", "start", "--config", str(self.config_path)]


@dataclass
class ServiceProcess(ChildProcess):
    """Any other `earmark` service as a child process (`fx run`, `partner-switch run`, a hub's
    `node start`): its name, its command line after `earmark`, and where it answers."""

    name: str
    command: list[str]
    address: str
    log_path: Path
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """Where the service answers."""
        return self.address

    @property
    def label(self) -> str:
        """The service's name."""
        return self.name

    @property
    def arguments(self) -> list[str]:
        """The command line after `earmark`."""
        return self.command
