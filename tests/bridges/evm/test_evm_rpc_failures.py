"""A JSON-RPC node that is absent, mute or misconfigured gives a `ChainError` with a stable
code, quickly, never a bare requests or web3 exception.

Method: point `Chain.connect` at a free 127.0.0.1 port, at a socket that accepts connections
but never answers, and at URLs that are not http(s), and time the failures.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from ganache_process import free_port
from pydantic import ValidationError

from bridges.evm import Chain, ChainConfig, ChainError

# The tests' own bound on how long a failure may take to surface.
FAILURE_S_MAX = 5.0


@pytest.fixture
def mute_node() -> Iterator[str]:
    """The URL of a socket that accepts TCP connections (the kernel's backlog does) but never
    reads or answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_a_node_nobody_runs_is_unavailable() -> None:
    """Connecting to a free port fails at once with `rpc_unavailable`, without retries."""
    started = time.monotonic()
    with pytest.raises(ChainError) as failed:
        Chain.connect(ChainConfig(rpc_url=f"http://127.0.0.1:{free_port()}", rpc_timeout_s=1))
    assert failed.value.code.name == "rpc_unavailable"
    assert time.monotonic() - started < FAILURE_S_MAX


def test_a_node_that_never_answers_times_out(mute_node: str) -> None:
    """A node that accepts but never answers fails with `rpc_timeout` after the configured
    half second, not web3's default."""
    started = time.monotonic()
    with pytest.raises(ChainError) as failed:
        Chain.connect(ChainConfig(rpc_url=mute_node, rpc_timeout_s=0.5))
    assert failed.value.code.name == "rpc_timeout"
    assert 0.4 < time.monotonic() - started < FAILURE_S_MAX


@pytest.mark.parametrize("url", ["ws://127.0.0.1:8545", "127.0.0.1:8545", "http://", ""])
def test_a_url_that_is_not_http_is_bad_config(url: str) -> None:
    """A URL that is not http(s) with a host is refused as `bad_config` before any request."""
    with pytest.raises(ChainError) as refused:
        Chain.connect(ChainConfig(rpc_url=url))
    assert refused.value.code.name == "bad_config"


@pytest.mark.parametrize("timeout_s", [0, -1, 61])
def test_the_configured_timeout_is_bounded(timeout_s: float) -> None:
    """A timeout that is not positive or exceeds the one-minute limit is refused by the
    configuration model itself."""
    with pytest.raises(ValidationError):
        ChainConfig(rpc_url="http://127.0.0.1:8545", rpc_timeout_s=timeout_s)
