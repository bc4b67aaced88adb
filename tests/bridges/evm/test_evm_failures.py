"""Reverts reach callers with the contract's own reason, whatever shape the node gave them in.

Method: feed `translated` the exception shapes seen from geth-like nodes, ganache and
eth-tester, plus raw `Error(string)` and `Panic(uint256)` data, and read the `ChainError`.
"""

from __future__ import annotations

import pytest
from eth_abi.abi import encode
from eth_tester.exceptions import TransactionFailed  # type: ignore[import-untyped]
from web3.exceptions import ContractLogicError, Web3RPCError

from bridges.evm.errors import CATALOGUE, ChainError
from bridges.evm.failures import ERROR_SELECTOR, PANIC_SELECTOR, decode_revert_data, translated

REASON = "withdrawal already paid"
ERROR_DATA = ERROR_SELECTOR + encode(["string"], [REASON])


def _raised(error: Exception) -> ChainError:
    with pytest.raises(ChainError) as caught, translated("test"):
        raise error
    return caught.value


@pytest.mark.parametrize("error", [
    ContractLogicError("execution reverted: " + REASON, "0x" + ERROR_DATA.hex()),
    ContractLogicError("execution reverted: VM Exception while processing transaction: revert "
                       + REASON, {"reason": REASON}),
    TransactionFailed("execution reverted: " + REASON),
    Web3RPCError("{...}", {"jsonrpc": "2.0", "id": 1,
                           "error": {"code": -32000, "message": "VM Exception",
                                     "data": "0x" + ERROR_DATA.hex()}}),
], ids=["geth-data", "ganache-estimate", "eth-tester", "ganache-call"])
def test_every_revert_shape_gives_the_reason(error: Exception) -> None:
    """Each node's way of reporting a revert becomes `reverted` with the bare reason."""
    translated_error = _raised(error)
    assert (translated_error.code.name, translated_error.reason) == ("reverted", REASON)


def test_revert_data_decodes_errors_panics_and_garbage() -> None:
    """`Error(string)` gives its message, `Panic(0x11)` its code, anything else no reason."""
    assert decode_revert_data(ERROR_DATA) == REASON
    assert decode_revert_data(PANIC_SELECTOR + (0x11).to_bytes(32, "big")) == "panic 0x11"
    assert decode_revert_data(ERROR_SELECTOR + b"\x01") == "no reason given"
    assert decode_revert_data(b"") == "no reason given"


def test_an_rpc_error_without_revert_data_is_rejected() -> None:
    """A node's error that is not a revert (insufficient funds) is `rejected` with the node's
    own message."""
    error = Web3RPCError("{...}", {"jsonrpc": "2.0", "id": 1,
                                   "error": {"code": -32003, "message": "insufficient funds"}})
    translated_error = _raised(error)
    assert translated_error.code.name == "rejected"
    assert "insufficient funds" in translated_error.message and translated_error.reason is None


def test_the_catalogue_has_unique_codes_and_names() -> None:
    """Every code and every name appears once, so callers can switch on either."""
    names = [code.name for code in CATALOGUE.values()]
    assert len(CATALOGUE) >= 10 and len(set(names)) == len(names)
    assert {"rpc_unavailable", "rpc_timeout", "reverted", "not_confirmed", "bad_config"} <= set(
        names)
