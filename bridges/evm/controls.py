"""Test controls of a development chain: mine blocks, move the clock, snapshot and revert.

The embedded chain (eth-tester) and a development node over JSON-RPC (ganache, anvil, hardhat)
offer the same four controls under different names; `controls_for` picks the right set. Reverting
to a snapshot drops every block mined since, which is how the tests stage a chain reorganisation.
A snapshot is used once: ganache forgets it on revert, so the embedded chain is held to the same.
"""

from __future__ import annotations

from typing import Any, Protocol

from eth_tester import EthereumTester  # type: ignore[import-untyped]
from eth_tester.exceptions import SnapshotNotFound  # type: ignore[import-untyped]
from web3 import Web3
from web3.types import RPCEndpoint

from bridges.evm.errors import BAD_ARGUMENT, REJECTED, ChainError
from bridges.evm.limits import MINE_BLOCKS_MAX


class Controls(Protocol):
    """The four controls, whatever the chain calls them."""

    def mine(self, blocks: int) -> None:
        """Mine `blocks` empty blocks."""

    def advance_time(self, seconds: int) -> None:
        """Move the clock forward by `seconds` and mine a block stamped with the new time."""

    def snapshot(self) -> str:
        """Remember the chain as it is now; the id is used once, by `revert`."""

    def revert(self, snapshot_id: str) -> None:
        """Go back to the snapshot, dropping every block mined since."""


def check_blocks(blocks: int) -> None:
    """Refuse a block count outside 1..MINE_BLOCKS_MAX."""
    if not 1 <= blocks <= MINE_BLOCKS_MAX:
        raise ChainError(BAD_ARGUMENT, f"mine {blocks} blocks: the count must be 1 to "
                                       f"{MINE_BLOCKS_MAX}")


def check_seconds(seconds: int) -> None:
    """Refuse a clock move that is not forward."""
    if seconds < 1:
        raise ChainError(BAD_ARGUMENT, f"advance the clock by {seconds} s: it only moves forward")


class EmbeddedControls:
    """The controls of eth-tester, called in-process."""

    def __init__(self, tester: EthereumTester) -> None:
        self._tester = tester
        self._used: set[str] = set()

    def mine(self, blocks: int) -> None:
        """Mine `blocks` empty blocks."""
        check_blocks(blocks)
        self._tester.mine_blocks(blocks)

    def advance_time(self, seconds: int) -> None:
        """Stamp the pending block `seconds` later than it would have been, then mine it."""
        check_seconds(seconds)
        pending = int(self._tester.get_block_by_number("pending")["timestamp"])
        self._tester.time_travel(pending + seconds)
        self._tester.mine_blocks(1)

    def snapshot(self) -> str:
        """eth-tester's snapshot counter, as text."""
        return str(self._tester.take_snapshot())

    def revert(self, snapshot_id: str) -> None:
        """Revert to the snapshot once; a second revert to it is refused as ganache does."""
        if snapshot_id in self._used or not snapshot_id.isdigit():
            raise _unknown_snapshot(snapshot_id)
        try:
            self._tester.revert_to_snapshot(int(snapshot_id))
        except SnapshotNotFound as error:
            raise _unknown_snapshot(snapshot_id) from error
        self._used.add(snapshot_id)


class RpcControls:
    """The `evm_*` methods of a development node (ganache, anvil, hardhat)."""

    def __init__(self, web3: Web3) -> None:
        self._web3 = web3

    def mine(self, blocks: int) -> None:
        """`evm_mine` with a block count (ganache and anvil take `{"blocks": n}`)."""
        check_blocks(blocks)
        self._request("evm_mine", [{"blocks": blocks}])

    def advance_time(self, seconds: int) -> None:
        """`evm_increaseTime` then `evm_mine`: the new time counts from the next block on."""
        check_seconds(seconds)
        self._request("evm_increaseTime", [seconds])
        self._request("evm_mine", [])

    def snapshot(self) -> str:
        """`evm_snapshot`: the node's id (hex text on ganache)."""
        return str(self._request("evm_snapshot", []))

    def revert(self, snapshot_id: str) -> None:
        """`evm_revert`, which answers false for an unknown or already used id."""
        if self._request("evm_revert", [snapshot_id]) is not True:
            raise _unknown_snapshot(snapshot_id)

    def _request(self, method: str, params: list[Any]) -> Any:
        """One raw JSON-RPC request; a node without the method refuses it (code `rejected`)."""
        answer = self._web3.provider.make_request(RPCEndpoint(method), params)
        if "error" in answer:
            raise ChainError(REJECTED, f"{method}: the node refused it ({answer['error']})")
        return answer.get("result")


def _unknown_snapshot(snapshot_id: str) -> ChainError:
    return ChainError(BAD_ARGUMENT, f"revert to snapshot {snapshot_id!r}: no such snapshot, "
                                    "or it was used already")
