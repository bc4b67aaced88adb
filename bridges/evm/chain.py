"""One EVM chain as the bridge sees it: an embedded eth-tester chain or a node over JSON-RPC.

`Chain.connect(config)` builds a `web3.Web3` from a `ChainConfig`: without an `rpc_url`, an
in-process eth-tester chain on py-evm (no server, nothing to install); with one, an HTTP
provider with a per-request timeout and no silent retries, so a dead node fails fast. Everything
the bridge does on a chain goes through here: accounts, signed transactions and their receipts,
deployments, calls as of a block, event logs, and the test controls of a development chain.
Transactions are signed locally with the account's key; the node never holds a bridge key.
Whatever fails underneath is raised as a `ChainError` (see `errors`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Literal, NewType, cast
from urllib.parse import urlsplit

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester, PyEVMBackend  # type: ignore[import-untyped]
from hexbytes import HexBytes
from pydantic import BaseModel, ConfigDict, Field
from web3 import EthereumTesterProvider, HTTPProvider, Web3
from web3.contract import Contract
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import BlockNotFound
from web3.types import EventData, TxParams, TxReceipt, Wei

from bridges.evm.compiler import compile_contract
from bridges.evm.controls import Controls, EmbeddedControls, RpcControls
from bridges.evm.errors import BAD_ARGUMENT, BAD_CONFIG, NO_FUNDER, ChainError, internal
from bridges.evm.failures import reverted, translated
from bridges.evm.limits import (
    ACCOUNT_FUNDING_WEI_DEFAULT,
    GAS_HEADROOM_PERCENT,
    LOG_BLOCK_SPAN_MAX,
    RECEIPT_POLL_S,
    RECEIPT_TIMEOUT_S_DEFAULT,
    RPC_TIMEOUT_S_DEFAULT,
    RPC_TIMEOUT_S_MAX,
)

# A transaction hash as 0x-prefixed hex: what the bridge stores before it waits for a receipt.
TxHash = NewType("TxHash", str)
# A block number, or the newest block.
BlockRef = int | Literal["latest"]
# What a transaction runs: a contract function with its arguments, or a constructor.
Runnable = ContractFunction | ContractConstructor
RPC_SCHEMES = ("http", "https")


class ChainConfig(BaseModel):
    """Which chain to use: the embedded one (no `rpc_url`) or a JSON-RPC node."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rpc_url: str | None = None
    rpc_timeout_s: float = Field(default=RPC_TIMEOUT_S_DEFAULT, gt=0, le=RPC_TIMEOUT_S_MAX)


@dataclass(frozen=True, slots=True)
class Block:
    """A block header as far as the bridge cares: where it is, what it follows, when."""

    number: int
    hash: str
    parent_hash: str
    timestamp: int


@dataclass(frozen=True, slots=True)
class Receipt:
    """The receipt of a transaction that succeeded; `raw` keeps web3's receipt for its logs."""

    tx_hash: TxHash
    block_number: int
    block_hash: str
    gas_used: int
    contract_address: str | None
    raw: TxReceipt


class Chain:
    """A connected chain: accounts, transactions, calls, logs and test controls."""

    def __init__(self, web3: Web3, controls: Controls, kind: Literal["embedded", "json-rpc"],
                 chain_id: int) -> None:
        self.web3 = web3
        self.kind = kind
        self.chain_id = chain_id
        self._controls = controls
        # Nonces come from the pending count: two sends from one account must not interleave.
        self._sending = threading.Lock()

    @classmethod
    def connect(cls, config: ChainConfig | None = None) -> Chain:
        """The chain `config` names, checked by asking for its chain id (the embedded default)."""
        config = config or ChainConfig()
        if config.rpc_url is None:
            tester = EthereumTester(PyEVMBackend())
            web3 = Web3(EthereumTesterProvider(tester))
            return cls(web3, EmbeddedControls(tester), "embedded", _chain_id(web3))
        _check_url(config.rpc_url)
        provider = HTTPProvider(config.rpc_url, request_kwargs={"timeout": config.rpc_timeout_s},
                                exception_retry_configuration=None)
        web3 = Web3(provider)
        return cls(web3, RpcControls(web3), "json-rpc", _chain_id(web3))

    # Reading the chain.

    def block_number(self) -> int:
        """The number of the newest block."""
        with translated("read the block number"):
            return int(self.web3.eth.block_number)

    def block(self, ref: BlockRef = "latest") -> Block | None:
        """The block `ref`, or None when the chain has no such block (any more)."""
        with translated(f"read block {ref}"):
            try:
                found = self.web3.eth.get_block(ref)
            except BlockNotFound:
                return None
        return Block(number=int(found["number"]), hash=found["hash"].to_0x_hex(),
                     parent_hash=found["parentHash"].to_0x_hex(),
                     timestamp=int(found["timestamp"]))

    def timestamp(self) -> int:
        """The timestamp of the newest block, in seconds since the epoch."""
        newest = self.block("latest")
        if newest is None:
            raise internal("the chain has no latest block")
        return newest.timestamp

    def balance(self, address: str, ref: BlockRef = "latest") -> int:
        """The ether balance of `address` in wei, as of block `ref`."""
        with translated(f"read the balance of {address}"):
            return int(self.web3.eth.get_balance(_checksum(address), ref))

    def call(self, function: ContractFunction, ref: BlockRef = "latest") -> Any:
        """What a view function returns as of block `ref` (web3's value, untyped: the caller
        converts it)."""
        with translated(f"call {function.fn_name} at block {ref}"):
            return function.call(block_identifier=ref)

    def events(self, contract: Contract, event: str, from_block: int,
               to_block: int) -> list[EventData]:
        """Every `event` the contract logged in blocks `from_block..to_block` (both included),
        asked in spans of at most LOG_BLOCK_SPAN_MAX blocks."""
        if not 0 <= from_block <= to_block:
            raise ChainError(BAD_ARGUMENT, f"read {event} logs: bad block range "
                                           f"{from_block}..{to_block}")
        found: list[EventData] = []
        for start in range(from_block, to_block + 1, LOG_BLOCK_SPAN_MAX):
            end = min(start + LOG_BLOCK_SPAN_MAX - 1, to_block)
            with translated(f"read {event} logs in blocks {start}..{end}"):
                found.extend(contract.events[event]().get_logs(from_block=start, to_block=end))
        return found

    def confirmations(self, receipt: Receipt) -> int:
        """Blocks on top of the receipt's block, that one included; 0 when a reorganisation
        dropped the block (its number now holds another block, or none)."""
        there = self.block(receipt.block_number)
        if there is None or there.hash != receipt.block_hash:
            return 0
        return self.block_number() - receipt.block_number + 1

    # Accounts.

    @staticmethod
    def account(private_key: str | bytes) -> LocalAccount:
        """The local account of a private key (hex text or 32 bytes); nothing is sent."""
        try:
            account: LocalAccount = Account.from_key(private_key)
        except (ValueError, TypeError) as error:
            raise ChainError(BAD_ARGUMENT, f"not a private key ({error})") from error
        return account

    def new_account(self, funding_wei: int = ACCOUNT_FUNDING_WEI_DEFAULT) -> LocalAccount:
        """A fresh random account, given `funding_wei` for gas by the node's first account."""
        account: LocalAccount = Account.create()
        if funding_wei:
            self.fund(account.address, funding_wei)
        return account

    def fund(self, address: str, wei: int) -> Receipt:
        """Send `wei` to `address` from the node's first unlocked account (eth-tester's
        prefunded accounts, a development node's `eth_accounts`)."""
        with translated("list the node's accounts"):
            unlocked = self.web3.eth.accounts
        if not unlocked:
            raise ChainError(NO_FUNDER, f"fund {address}: the node has no unlocked account")
        payment: TxParams = {"from": unlocked[0], "to": _checksum(address), "value": Wei(wei)}
        with self._sending, translated(f"fund {address}"):
            tx_hash = self.web3.eth.send_transaction(payment)
        return self.wait(TxHash(tx_hash.to_0x_hex()))

    # Transactions.

    def send(self, account: LocalAccount, runnable: Runnable, *,
             gas_limit: int | None = None) -> TxHash:
        """Sign `runnable` with the account's key and broadcast it; the hash, without waiting.

        Gas is the node's estimate plus GAS_HEADROOM_PERCENT unless `gas_limit` is given; an
        estimate that reverts is raised at once (code `reverted`) with the contract's reason.
        """
        action = f"send {_name_of(runnable)} from {account.address}"
        with self._sending, translated(action):
            params: TxParams = {"from": account.address,
                                "nonce": self.web3.eth.get_transaction_count(account.address,
                                                                             "pending")}
            if gas_limit is None:
                estimate = int(runnable.estimate_gas({"from": account.address}))
                params["gas"] = estimate + estimate * GAS_HEADROOM_PERCENT // 100
            else:
                params["gas"] = gas_limit
            transaction = runnable.build_transaction(params)
            # web3's TxParams and eth-account's transaction dict describe the same mapping.
            signed = account.sign_transaction(cast("dict[str, Any]", transaction))
            return TxHash(self.web3.eth.send_raw_transaction(signed.raw_transaction).to_0x_hex())

    def wait(self, tx_hash: TxHash, timeout_s: float = RECEIPT_TIMEOUT_S_DEFAULT) -> Receipt:
        """The receipt of `tx_hash` once mined; `not_confirmed` after `timeout_s`, `reverted`
        (with the reason, found by replaying the transaction) if it failed."""
        with translated(f"wait for {tx_hash}"):
            raw = self.web3.eth.wait_for_transaction_receipt(_hash_bytes(tx_hash), timeout_s,
                                                             RECEIPT_POLL_S)
        if raw["status"] != 1:
            raise reverted(f"transaction {tx_hash}", self._replayed_reason(tx_hash, raw))
        address = raw.get("contractAddress")
        return Receipt(tx_hash=tx_hash, block_number=int(raw["blockNumber"]),
                       block_hash=raw["blockHash"].to_0x_hex(), gas_used=int(raw["gasUsed"]),
                       contract_address=str(address) if address else None, raw=raw)

    def transact(self, account: LocalAccount, runnable: Runnable,
                 timeout_s: float = RECEIPT_TIMEOUT_S_DEFAULT) -> Receipt:
        """`send` then `wait`: the receipt of a transaction that succeeded."""
        return self.wait(self.send(account, runnable), timeout_s)

    def deploy(self, account: LocalAccount, name: str, *args: object) -> Contract:
        """Deploy the shipped contract `name` with constructor `args`, signed by `account`."""
        compiled = compile_contract(name)
        factory = self.web3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
        with translated(f"encode the constructor of {name}"):
            constructor = factory.constructor(*args)
        receipt = self.transact(account, constructor)
        if receipt.contract_address is None:
            raise internal(f"deploying {name} gave a receipt without a contract address")
        return self.contract_at(name, receipt.contract_address)

    def contract_at(self, name: str, address: str) -> Contract:
        """The shipped contract `name` already deployed at `address`."""
        compiled = compile_contract(name)
        contract: Contract = self.web3.eth.contract(address=_checksum(address), abi=compiled.abi)
        return contract

    # Test controls (development chains only).

    def mine(self, blocks: int = 1) -> None:
        """Mine `blocks` empty blocks."""
        with translated(f"mine {blocks} blocks"):
            self._controls.mine(blocks)

    def advance_time(self, seconds: int) -> None:
        """Move the clock forward by `seconds`; the next block carries the new time."""
        with translated(f"advance the clock by {seconds} s"):
            self._controls.advance_time(seconds)

    def snapshot(self) -> str:
        """Remember the chain as it is now, for one `revert`."""
        with translated("take a snapshot"):
            return self._controls.snapshot()

    def revert(self, snapshot_id: str) -> None:
        """Go back to the snapshot: every block mined since disappears (a staged reorg)."""
        with translated(f"revert to snapshot {snapshot_id}"):
            self._controls.revert(snapshot_id)

    def _replayed_reason(self, tx_hash: TxHash, raw: TxReceipt) -> str:
        """Why a mined transaction failed: it is replayed as a call on its parent block's state
        (receipts carry no reason)."""
        with translated(f"read transaction {tx_hash}"):
            sent = self.web3.eth.get_transaction(_hash_bytes(tx_hash))
        replay: TxParams = {"from": sent["from"], "data": sent["input"], "value": sent["value"],
                            "gas": sent["gas"]}
        if sent.get("to"):
            replay["to"] = sent["to"]
        try:
            with translated(f"replay transaction {tx_hash}"):
                self.web3.eth.call(replay, int(raw["blockNumber"]) - 1)
        except ChainError as error:
            if error.reason is not None:
                return error.reason
            raise
        return "no reason given (the replay on the parent block did not revert)"


def _chain_id(web3: Web3) -> int:
    with translated("read the chain id"):
        return int(web3.eth.chain_id)


def _check_url(url: str) -> None:
    """Refuse a JSON-RPC URL that is not http(s) with a host: nothing else is supported."""
    parts = urlsplit(url)
    if parts.scheme not in RPC_SCHEMES or not parts.hostname:
        raise ChainError(BAD_CONFIG, f"rpc_url {url!r} is not an http:// or https:// URL "
                                     "with a host")


def _checksum(address: str) -> Any:
    """`address` in the checksummed form web3 requires."""
    if not Web3.is_address(address):
        raise ChainError(BAD_ARGUMENT, f"{address!r} is not an address")
    return Web3.to_checksum_address(address)


def _hash_bytes(tx_hash: TxHash) -> HexBytes:
    """The 32 bytes of a transaction hash."""
    try:
        raw = bytes.fromhex(tx_hash.removeprefix("0x"))
    except ValueError as error:
        raise ChainError(BAD_ARGUMENT, f"{tx_hash!r} is not a transaction hash") from error
    if len(raw) != 32:
        raise ChainError(BAD_ARGUMENT, f"{tx_hash!r} is not a transaction hash")
    return HexBytes(raw)


def _name_of(runnable: Runnable) -> str:
    return runnable.fn_name if isinstance(runnable, ContractFunction) else "constructor"
