"""Errors of the EVM bridge: stable codes and the layer's one exception.

Every problem is a `ChainError` carrying a `Code` from `CATALOGUE`. Codes are stable: the bridge
service, the tests and the docs key on them, and a code never changes its meaning. Families:

* `E00xx` internal: a bug in Earmark, never the chain's or the caller's fault;
* `E01xx` configuration and arguments: what Earmark was asked to do cannot be done at all;
* `E02xx` the node: it cannot be reached, does not answer in time, or answers with an error;
* `E03xx` transactions and calls: a contract reverted, a receipt did not come, nothing to call.

Whatever web3, requests or eth-tester raise underneath is translated into one of these (see
`failures.translated`), so a caller handles one type and switches on `code`.
"""

from __future__ import annotations

from bridges.catalogue import Code, catalogue

# Internal.
INTERNAL = Code("E0001", "internal", "internal error of the EVM bridge (a bug in Earmark)")
# Configuration and arguments.
BAD_CONFIG = Code("E0101", "bad_config", "a chain configuration that cannot be used")
UNKNOWN_CONTRACT = Code("E0102", "unknown_contract", "a contract the bridge does not ship")
BAD_ARGUMENT = Code("E0103", "bad_argument", "a value the chain cannot take (type or range)")
# The node.
RPC_UNAVAILABLE = Code("E0201", "rpc_unavailable", "the JSON-RPC node cannot be reached")
RPC_TIMEOUT = Code("E0202", "rpc_timeout", "the JSON-RPC node did not answer in time")
REJECTED = Code("E0203", "rejected", "the node answered the request with an error")
# Transactions and calls.
REVERTED = Code("E0301", "reverted", "a contract reverted the transaction or call")
NOT_CONFIRMED = Code("E0302", "not_confirmed", "no receipt for the transaction within the timeout")
NO_FUNDER = Code("E0303", "no_funder", "the node has no unlocked account to fund new accounts")
NO_CONTRACT = Code("E0304", "no_contract", "no contract code at the address (as of that block)")

CATALOGUE: dict[str, Code] = catalogue(globals().copy())


class ChainError(RuntimeError):
    """Everything the EVM bridge raises: a code, a message, and the revert reason if any.

    `reason` is the contract's own revert string (such as `withdrawal already paid`) for code
    `reverted`, and None otherwise.
    """

    def __init__(self, code: Code, message: str, *, reason: str | None = None) -> None:
        super().__init__(f"{code.code} {code.name}: {message}")
        self.code = code
        self.message = message
        self.reason = reason

    def to_json(self) -> dict[str, str]:
        """The error as one JSON object; `reason` is left out when there is none."""
        shape = {"code": self.code.code, "name": self.code.name, "message": self.message}
        if self.reason is not None:
            shape["reason"] = self.reason
        return shape


def internal(message: str) -> ChainError:
    """A broken invariant of the bridge itself: reported as E0001, never blamed on the chain."""
    return ChainError(INTERNAL, f"{message} (this is a bug in Earmark)")
