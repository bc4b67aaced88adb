"""What goes wrong underneath, as `ChainError`s: the one place that knows web3's, requests' and
eth-tester's exceptions.

Nodes report a revert in different shapes: web3 raises `ContractLogicError` for geth-like
answers, ganache answers a call with a JSON-RPC error whose `data` is the ABI-encoded reason,
and the embedded eth-tester raises its own `TransactionFailed`. `translated` turns each of them,
and every transport failure, into a `ChainError` with a stable code and the contract's reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import requests
from eth_abi.abi import decode
from eth_abi.exceptions import DecodingError
from eth_tester.exceptions import TransactionFailed  # type: ignore[import-untyped]
from eth_utils.exceptions import ValidationError as EvmValidationError
from web3.exceptions import (
    BadFunctionCallOutput,
    ContractLogicError,
    MismatchedABI,
    ProviderConnectionError,
    TimeExhausted,
    Web3Exception,
    Web3RPCError,
    Web3TypeError,
    Web3ValidationError,
    Web3ValueError,
)

from bridges.evm.errors import (
    BAD_ARGUMENT,
    NO_CONTRACT,
    NOT_CONFIRMED,
    REJECTED,
    REVERTED,
    RPC_TIMEOUT,
    RPC_UNAVAILABLE,
    ChainError,
)

# The selector of Solidity's and Vyper's `Error(string)` revert data.
ERROR_SELECTOR = bytes.fromhex("08c379a0")
# The selector of Solidity's `Panic(uint256)` revert data.
PANIC_SELECTOR = bytes.fromhex("4e487b71")
# Prefixes nodes put before the contract's reason, longest first.
REASON_PREFIXES = (
    "execution reverted: VM Exception while processing transaction: revert ",
    "VM Exception while processing transaction: revert ",
    "execution reverted: ",
)
NO_REASON = "no reason given"


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Run the body and raise any failure of the node or the contract as a `ChainError`.

    `action` says what was being done (`send mint`, `read block 12`) and starts the message.
    """
    try:
        yield
    except ChainError:
        raise
    except requests.Timeout as error:
        raise ChainError(RPC_TIMEOUT, f"{action}: the node did not answer in time ({error})") \
            from error
    except (requests.RequestException, ProviderConnectionError, OSError) as error:
        raise ChainError(RPC_UNAVAILABLE, f"{action}: the node cannot be reached ({error})") \
            from error
    except (ContractLogicError, TransactionFailed) as error:
        raise reverted(action, reason_of(error)) from error
    except Web3RPCError as error:
        raise _from_rpc_error(action, error) from error
    except TimeExhausted as error:
        raise ChainError(NOT_CONFIRMED, f"{action}: {error}") from error
    except BadFunctionCallOutput as error:
        raise ChainError(NO_CONTRACT, f"{action}: the call returned no data ({error})") \
            from error
    except (MismatchedABI, Web3ValidationError, Web3TypeError, Web3ValueError) as error:
        raise ChainError(BAD_ARGUMENT, f"{action}: {error}") from error
    except (EvmValidationError, Web3Exception) as error:
        raise ChainError(REJECTED, f"{action}: {error}") from error


def reverted(action: str, reason: str) -> ChainError:
    """The error for a transaction or call that the contract reverted with `reason`."""
    return ChainError(REVERTED, f"{action}: reverted: {reason}", reason=reason)


def reason_of(error: ContractLogicError | TransactionFailed) -> str:
    """The contract's revert reason carried by a web3 or eth-tester revert exception."""
    if isinstance(error, ContractLogicError):
        if isinstance(error.data, dict) and error.data.get("reason"):
            return error.data["reason"]
        if isinstance(error.data, str) and error.data.startswith("0x"):
            return decode_revert_data(bytes.fromhex(error.data[2:]))
        return _strip_prefix(error.message or "")
    return _strip_prefix(str(error.args[0]) if error.args else "")


def decode_revert_data(data: bytes) -> str:
    """The reason in raw revert data: an `Error(string)` message, a panic code, or none."""
    if data[:4] == ERROR_SELECTOR:
        try:
            (message,) = decode(["string"], data[4:])
        except (DecodingError, UnicodeDecodeError):
            return NO_REASON
        return str(message)
    if data[:4] == PANIC_SELECTOR and len(data) == 36:
        return f"panic 0x{int.from_bytes(data[4:], 'big'):02x}"
    return NO_REASON


def _from_rpc_error(action: str, error: Web3RPCError) -> ChainError:
    """A JSON-RPC error answer: a revert when it carries revert data (ganache), else a refusal."""
    answer = error.rpc_response.get("error") if error.rpc_response else None
    data = answer.get("data") if isinstance(answer, dict) else None
    if isinstance(data, str) and data.startswith("0x") and len(data) > 2:
        return reverted(action, decode_revert_data(bytes.fromhex(data[2:])))
    if "revert" in error.message:
        return reverted(action, _strip_prefix(_rpc_message(error)))
    return ChainError(REJECTED, f"{action}: {_rpc_message(error)}")


def _rpc_message(error: Web3RPCError) -> str:
    """The node's own message in a JSON-RPC error, without web3's added advice."""
    answer = error.rpc_response.get("error") if error.rpc_response else None
    if isinstance(answer, dict) and isinstance(answer.get("message"), str):
        return str(answer["message"])
    return error.message


def _strip_prefix(message: str) -> str:
    """A node's revert message without the words the node puts before the contract's reason."""
    for prefix in REASON_PREFIXES:
        if message.startswith(prefix):
            return message[len(prefix):] or NO_REASON
    return message or NO_REASON
