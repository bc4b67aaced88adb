"""Fixtures of the EVM bridge tests: every chain test runs on the embedded chain and on ganache.

The embedded chain is fresh for each test. Each test worker runs one ganache node for its whole
session; tests stay independent on it because each deploys its own contracts with its own new
accounts and computes deadlines from the chain's current time.
"""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount
from ganache_process import ganache_url  # noqa: F401 - the fixture, offered here

from bridges.evm import Chain, ChainConfig, Stablecoin

CHAINS = ["embedded", "ganache"]


@pytest.fixture(params=CHAINS)
def chain(request: pytest.FixtureRequest) -> Chain:
    """A chain of each kind: the embedded eth-tester chain, then ganache over JSON-RPC."""
    if request.param == "embedded":
        return Chain.connect()
    return Chain.connect(ChainConfig(rpc_url=request.getfixturevalue("ganache_url")))


@pytest.fixture
def issuer(chain: Chain) -> LocalAccount:
    """A new account with ether for gas, which issues the coin."""
    return chain.new_account()


@pytest.fixture
def coin(chain: Chain, issuer: LocalAccount) -> Stablecoin:
    """A fresh yen stablecoin issued by `issuer`."""
    return Stablecoin.deploy(chain, issuer, "Test Yen", "JPYT")
