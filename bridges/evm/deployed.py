"""What every typed contract wrapper shares: a deployed contract on a `Chain`, read, written and
searched for events by name inside this package only, plus the checks on 32-byte values.

The wrappers in `contracts` are the public face; callers never see an ABI name or a web3 type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

from eth_account.signers.local import LocalAccount
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD
from web3.types import EventData

from bridges.evm.chain import BlockRef, Chain, Receipt
from bridges.evm.errors import BAD_ARGUMENT, ChainError
from bridges.evm.failures import translated

# The largest value of a Solidity/Vyper `uint256`.
UINT256_MAX = 2**256 - 1


@dataclass(frozen=True, slots=True)
class LogPosition:
    """Where an event was logged. `block_hash` tells whether a reorganisation dropped it;
    `(tx_hash, log_index)` names it uniquely, as an idempotency key."""

    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int


class Deployed:
    """A deployed contract on a chain, with the plumbing the typed wrappers share; a wrapper
    names its shipped contract in `CONTRACT`."""

    CONTRACT: ClassVar[str]

    def __init__(self, chain: Chain, contract: Contract) -> None:
        self.chain = chain
        self.contract = contract

    @classmethod
    def at(cls, chain: Chain, address: str) -> Self:
        """The wrapper's contract already deployed at `address`."""
        return cls(chain, chain.contract_at(cls.CONTRACT, address))

    @property
    def address(self) -> str:
        """The contract's checksummed address."""
        return str(self.contract.address)

    def _function(self, name: str, *args: object) -> ContractFunction:
        """The contract function `name` bound to `args`, checked against the ABI."""
        with translated(f"encode {name}"):
            function: ContractFunction = self.contract.functions[name](*args)
        return function

    def _read(self, name: str, *args: object, ref: BlockRef = "latest") -> Any:
        """What the view function `name` returns as of block `ref`."""
        return self.chain.call(self._function(name, *args), ref)

    def _write(self, account: LocalAccount, name: str, *args: object) -> Receipt:
        """Send `name(args)` signed by `account` and wait for its receipt."""
        return self.chain.transact(account, self._function(name, *args))

    def _logs(self, event: str, from_block: int, to_block: int) -> list[EventData]:
        """The contract's `event` logs in blocks `from_block..to_block`."""
        return self.chain.events(self.contract, event, from_block, to_block)

    def _logs_in(self, event: str, receipt: Receipt) -> list[EventData]:
        """The contract's `event` logs in one receipt (other contracts' logs are skipped)."""
        with translated(f"read {event} logs of {receipt.tx_hash}"):
            return list(self.contract.events[event]().process_receipt(receipt.raw,
                                                                      errors=DISCARD))


def position(log: EventData) -> LogPosition:
    """Where `log` was logged."""
    return LogPosition(block_number=int(log["blockNumber"]),
                       block_hash=log["blockHash"].to_0x_hex(),
                       tx_hash=log["transactionHash"].to_0x_hex(), log_index=int(log["logIndex"]))


def bytes32(value: bytes, what: str) -> bytes:
    """`value` if it is exactly 32 bytes (a hash, an id, a reference), else `bad_argument`."""
    if len(value) != 32:
        raise ChainError(BAD_ARGUMENT, f"{what} must be 32 bytes, not {len(value)}")
    return value


def amount(value: int, what: str) -> int:
    """`value` if it is a whole number of wei a `uint256` holds, else `bad_argument`."""
    if isinstance(value, bool) or not 0 <= value <= UINT256_MAX:
        raise ChainError(BAD_ARGUMENT, f"{what} must be an integer from 0 to 2**256 - 1, "
                                       f"not {value!r}")
    return value
