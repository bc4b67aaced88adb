"""The bridge's contracts, compiled from the Vyper sources kept in `contracts/`.

Sources are compiled in-process by the `vyper` package on first use and cached for the life of
the process: the repository holds no build artefacts that could drift from their sources.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import vyper  # type: ignore[import-untyped]
from vyper.exceptions import VyperException  # type: ignore[import-untyped]

from bridges.evm.errors import UNKNOWN_CONTRACT, ChainError, internal

SOURCES = Path(__file__).parent / "contracts"
# Every contract the bridge ships, by the stem of its `.vy` file.
CONTRACT_NAMES = ("HashedTimelock", "PurposeBoundVoucher", "Stablecoin", "Vault")


@dataclass(frozen=True, slots=True)
class CompiledContract:
    """A contract ready to deploy: its name, its ABI as JSON text and its creation bytecode."""

    name: str
    abi_json: str
    bytecode: str

    @property
    def abi(self) -> list[dict[str, object]]:
        """The ABI as the list of entries web3 takes (a fresh copy, safe to hand out)."""
        entries: list[dict[str, object]] = json.loads(self.abi_json)
        return entries


def source_of(name: str) -> str:
    """The Vyper source of the contract `name`."""
    if name not in CONTRACT_NAMES:
        raise ChainError(UNKNOWN_CONTRACT, f"no contract {name!r}; the bridge ships "
                                           f"{', '.join(CONTRACT_NAMES)}")
    return (SOURCES / f"{name}.vy").read_text(encoding="utf-8")


@cache
def compile_contract(name: str) -> CompiledContract:
    """The contract `name` compiled (once per process) to its ABI and bytecode."""
    source = source_of(name)
    try:
        output = vyper.compile_code(source, contract_path=f"{name}.vy",
                                    output_formats=["abi", "bytecode"])
    except VyperException as error:
        raise internal(f"the shipped contract {name} does not compile: {error}") from error
    return CompiledContract(name=name, abi_json=json.dumps(output["abi"]),
                            bytecode=str(output["bytecode"]))
