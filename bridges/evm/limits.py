"""Limits of the EVM bridge, each a named constant with its unit."""

from __future__ import annotations

# Seconds one JSON-RPC request may take by default. A healthy local node answers in
# milliseconds and a public one in well under a second; 10 s still rides out a busy node.
RPC_TIMEOUT_S_DEFAULT = 10.0
# The longest timeout a configuration may ask for: above a minute a stuck node is down.
RPC_TIMEOUT_S_MAX = 60.0
# Seconds `Chain.wait` waits for a receipt by default; instant on the embedded chain and ganache,
# a few blocks on a public chain.
RECEIPT_TIMEOUT_S_DEFAULT = 30.0
# Seconds between two receipt polls.
RECEIPT_POLL_S = 0.05
# Percent added to the node's gas estimate: a state change between estimation and inclusion (a
# storage slot written first by another transaction) must not make the transaction run out.
GAS_HEADROOM_PERCENT = 20
# Blocks one `get_logs` request may span; public nodes refuse wider ranges (10,000 is common).
LOG_BLOCK_SPAN_MAX = 10_000
# Wei a new local account gets for gas by default: 1 ether pays for thousands of calls.
ACCOUNT_FUNDING_WEI_DEFAULT = 10**18
# Blocks `Chain.mine` mines at once: a test control, not a way to stall a worker.
MINE_BLOCKS_MAX = 10_000
