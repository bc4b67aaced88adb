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


@dataclass
class NodeProcess:
    """One `earmark node start` child process and the configuration it runs."""

    config: NodeConfig
    config_path: Path
    log_path: Path
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """Where the node answers."""
        return f"http://{self.config.host}:{self.config.port}"

    def start(self) -> None:
        """Start the process and wait until /healthz answers."""
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "node", "start", "--config",
             str(self.config_path)], stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        log.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise NodeError(500, "node_exited", "Node did not start",
                                f"{self.config.name} exited: see {self.log_path}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise NodeError(500, "node_not_ready", "Node did not start",
                        f"{self.config.name} did not answer within {READY_TIMEOUT_S} s")

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
