"""The on-chain side of the EVM bridge: contracts, a chain client and typed contract wrappers.

`Chain.connect(ChainConfig(...))` opens the embedded eth-tester chain (the default) or a
JSON-RPC node; `Stablecoin`, `HashedTimelock`, `Vault` and `PurposeBoundVoucher` deploy and
drive the Vyper contracts kept in `contracts/`. Everything this package raises is a `ChainError`
with a stable code (see `errors`).
"""

from __future__ import annotations

from bridges.evm.chain import Block, Chain, ChainConfig, Receipt, TxHash
from bridges.evm.contracts import (
    Claimed,
    Deposited,
    HashedTimelock,
    Locked,
    Paid,
    PurposeBoundVoucher,
    Refunded,
    Stablecoin,
    Swap,
    SwapState,
    SwapTerms,
    Transfer,
    Vault,
    Withdrawn,
    hashlock_of,
    swap_id_of,
)
from bridges.evm.deployed import LogPosition
from bridges.evm.errors import ChainError

__all__ = ["Block", "Chain", "ChainConfig", "ChainError", "Claimed", "Deposited",
           "HashedTimelock", "Locked", "LogPosition", "Paid", "PurposeBoundVoucher", "Receipt",
           "Refunded", "Stablecoin", "Swap", "SwapState", "SwapTerms", "Transfer", "TxHash",
           "Vault", "Withdrawn", "hashlock_of", "swap_id_of"]
