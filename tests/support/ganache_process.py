"""A real ganache node for the tests: installed with npm on first use, started on a free port,
killed afterwards.

ganache@7.9.2 is installed once into `$EARMARK_CACHE/npm` (default `~/.cache/earmark/npm`)
under a file lock, so parallel test workers share one install; each worker then runs its own
node. Without npm (or node) the tests that need ganache skip, except under CI (the `CI`
environment variable set), where they fail: CI must run them.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import pytest

GANACHE_VERSION = "7.9.2"
CHAIN_ID = 1337
# Seconds an `npm install` of ganache may take (about 7 s with a warm network).
NPM_INSTALL_TIMEOUT_S = 300
# Seconds ganache may take to answer its first `eth_chainId` (about 2 s on a busy machine).
STARTUP_TIMEOUT_S = 60
STARTUP_POLL_S = 0.1
# Seconds ganache gets to exit after SIGTERM before it is killed.
SHUTDOWN_TIMEOUT_S = 5
# Times a start is tried: another process may take the free port between probe and bind.
START_ATTEMPTS = 3


def cache_directory() -> Path:
    """Where npm packages for the tests are installed: `$EARMARK_CACHE/npm` or the default."""
    base = os.environ.get("EARMARK_CACHE") or str(Path.home() / ".cache" / "earmark")
    return Path(base) / "npm"


def unavailable(reason: str) -> NoReturn:
    """Skip the test for a missing tool, or fail it under CI, where nothing may be skipped."""
    if os.environ.get("CI"):
        pytest.fail(f"ganache is needed under CI: {reason}")
    pytest.skip(reason)


def installed_ganache() -> Path:
    """The ganache executable, installed into the cache on first use (node runs it, npm
    installs it)."""
    if shutil.which("node") is None:
        unavailable("node is needed to run ganache")
    target = cache_directory() / f"ganache-{GANACHE_VERSION}"
    executable = target / "node_modules" / ".bin" / "ganache"
    if executable.exists():
        return executable
    npm = shutil.which("npm")
    if npm is None:
        unavailable("npm is needed to install ganache")
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / ".install.lock").open("w") as lock:
        # Another worker may be installing: wait for it, then use its install.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not executable.exists():
            _install(npm, target)
    return executable


def _install(npm: str, target: Path) -> None:
    """`npm install` into a scratch folder renamed into place, so a half install never shows."""
    scratch = Path(tempfile.mkdtemp(prefix="ganache-", dir=target.parent))
    try:
        done = subprocess.run(
            [npm, "install", "--prefix", str(scratch), f"ganache@{GANACHE_VERSION}",
             "--no-audit", "--no-fund", "--loglevel=error"],
            capture_output=True, text=True, timeout=NPM_INSTALL_TIMEOUT_S, check=False)
        if done.returncode != 0:
            unavailable(f"npm install ganache@{GANACHE_VERSION} failed: {done.stderr[-2000:]}")
        scratch.rename(target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def chain_id_answer(url: str) -> int | None:
    """The node's `eth_chainId`, or None while it does not answer."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
    request = urllib.request.Request(url, data=body.encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=1) as answer:
            return int(json.load(answer)["result"], 16)
    except (OSError, ValueError, KeyError):
        return None


@contextmanager
def running_ganache(log_path: Path) -> Iterator[str]:
    """A ganache node on a free 127.0.0.1 port for the body; yields its JSON-RPC URL."""
    executable = installed_ganache()
    for attempt in range(1, START_ATTEMPTS + 1):
        port = free_port()
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [str(executable), "--server.host", "127.0.0.1", "--server.port", str(port),
                 "--chain.chainId", str(CHAIN_ID), "--logging.quiet", "--wallet.deterministic",
                 "--chain.hardfork", "shanghai"],
                stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            if _started(process, url):
                yield url
                return
            if attempt == START_ATTEMPTS:
                pytest.fail(f"ganache did not start: {log_path.read_text()[-2000:]}")
        finally:
            _stop(process)


def _started(process: subprocess.Popen[bytes], url: str) -> bool:
    """Whether ganache answers with its chain id before STARTUP_TIMEOUT_S or exits."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        if chain_id_answer(url) == CHAIN_ID:
            return True
        time.sleep(STARTUP_POLL_S)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate this ganache process (and only it), killing it if it lingers."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(SHUTDOWN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(SHUTDOWN_TIMEOUT_S)


@pytest.fixture(scope="session")
def ganache_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The JSON-RPC URL of this worker's ganache node (started on first use); a test folder's
    conftest imports this fixture to offer it."""
    with running_ganache(tmp_path_factory.mktemp("ganache") / "ganache.log") as url:
        yield url
