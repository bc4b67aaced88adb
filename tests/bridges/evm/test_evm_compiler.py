"""The Vyper sources kept in the repository compile in-process, once, to what the wrappers use.

Method: compile every shipped contract through `compile_contract` and inspect the ABI, the
bytecode, the cache and the pragmas of the source.
"""

from __future__ import annotations

import pytest

from bridges.evm.compiler import CONTRACT_NAMES, SOURCES, compile_contract, source_of
from bridges.evm.errors import ChainError

# Functions and events each wrapper relies on, by contract.
EXPECTED_ABI = {
    "Stablecoin": {"mint", "transfer", "transferFrom", "approve", "balanceOf", "allowance",
                   "totalSupply", "decimals", "name", "symbol", "issuer", "Transfer", "Approval"},
    "HashedTimelock": {"lock", "claim", "refund", "swaps", "Locked", "Claimed", "Refunded"},
    "Vault": {"deposit", "withdraw", "backing", "paid", "unit", "token", "operator",
              "Deposited", "Withdrawn"},
    "PurposeBoundVoucher": {"set_merchant", "wrap", "pay", "balanceOf", "merchants", "expiry",
                            "Paid"},
}


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_each_contract_compiles_to_what_its_wrapper_calls(name: str) -> None:
    """The contract compiles to creation bytecode and an ABI naming every function and event
    its wrapper uses; a second compile is the cached object itself."""
    compiled = compile_contract(name)
    assert compiled.bytecode.startswith("0x") and len(compiled.bytecode) > 100
    assert EXPECTED_ABI[name] <= {str(entry.get("name")) for entry in compiled.abi}
    assert compile_contract(name) is compiled


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_each_source_pins_the_compiler_and_the_evm_version(name: str) -> None:
    """Each source asks for Vyper 0.4 and the Shanghai EVM, which ganache 7.9 also runs."""
    lines = source_of(name).splitlines()
    assert lines[:2] == ["#pragma version ^0.4.0", "#pragma evm-version shanghai"]


def test_the_shipped_sources_are_exactly_the_known_contracts() -> None:
    """Every `.vy` file is a known contract and every known contract has its file."""
    assert sorted(path.stem for path in SOURCES.glob("*.vy")) == sorted(CONTRACT_NAMES)


def test_an_unknown_contract_is_refused() -> None:
    """A name the bridge does not ship is refused as `unknown_contract`, naming those it does."""
    with pytest.raises(ChainError, match="Vault") as refused:
        compile_contract("Token")
    assert refused.value.code.name == "unknown_contract"
