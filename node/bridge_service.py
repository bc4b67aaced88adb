"""The EVM bridge's HTTP API, on the service shell every Earmark service shares.

`GET /swaps/{ledger_note}` answers a swap by the id of its ledger leg (the note locked to the
bridge for an out-swap, the bridge's own lock for an in-swap). `POST /swaps/{ledger_note}/claim`
relays an out-swap's on-chain claim for its receiver: whoever knows the preimage (the hub) may
ask, because the hashed-timelock contract pays the lock's receiver whoever sends the claim, so
relaying can never redirect money; the bridge's passes then see the `Claimed` event and claim
the ledger note as they always do. `GET /chain/balances/{address}` reads what an address holds
of the bridged stablecoin, in the ledger currency's minor units. Every operation is signed by
the caller's key; the swaps are readable by any signed caller, since on-chain locks are public.

Chain calls block, so they run in a thread; transactions are sent through the bridge's one
`Chain`, whose send lock gives the passes and the API distinct nonces.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final, ParamSpec, TypeVar
from urllib.parse import quote

from aiohttp import web
from pydantic import TypeAdapter, ValidationError
from web3 import Web3

from bridges.evm.contracts import SwapState, hashlock_of
from bridges.evm.errors import REVERTED, ChainError
from bridges.evm.limits import RECEIPT_TIMEOUT_S_DEFAULT
from engine.keys import KeyPair
from node.api import Api, Call
from node.bridge_config import Address
from node.bridge_store import SwapIntent
from node.client import NodeClient
from node.database import Writer
from node.errors import NodeError, bad_request, conflict, not_found, unprocessable
from node.evm_bridge import EvmBridge
from node.evm_swaps import OUT
from node.http_service import serve_app, service_app
from node.idempotency import IdempotencyStore
from node.metrics import Metrics
from node.settlement_messages import ChainBalanceWire, ChainSwapWire, ClaimRequest

API_VERSION: Final = "1.0.0"
ROLE: Final = "bridge"
_ADDRESS: Final = TypeAdapter(Address)
# A relayed claim answers once its receipt is in: the client outwaits the bridge's own wait.
CLIENT_TIMEOUT_S: Final = RECEIPT_TIMEOUT_S_DEFAULT + 15.0
P = ParamSpec("P")
T = TypeVar("T")


class BridgeService:
    """The bridge's operations over a running `EvmBridge` (whose owner opens and closes it)."""

    def __init__(self, bridge: EvmBridge) -> None:
        self.bridge = bridge
        self._writer = Writer(bridge.store.engine)
        self.idempotency = IdempotencyStore(bridge.store.engine, self._writer)
        self.api = Api(f"Earmark EVM bridge {bridge.config.name}", API_VERSION,
                       "An EVM bridge's swaps and the chain balances it reads (docs/evm.md).")
        self._declare()

    async def start(self) -> None:
        """Nothing to start: the bridge's passes are run by whoever hosts it."""

    async def close(self) -> None:
        """Commit the idempotency records still queued (the bridge's store stays open)."""
        await asyncio.to_thread(self._writer.close)

    def _declare(self) -> None:
        route = self.api.route
        route("GET", "/swaps/{ledger_note}", summary="A swap, by the id of its ledger note",
              tag="swaps", response=ChainSwapWire)(self.swap)
        route("POST", "/swaps/{ledger_note}/claim", summary="Relay an out-swap's claim on chain "
              "for its receiver", tag="swaps", body=ClaimRequest,
              response=ChainSwapWire)(self.claim)
        route("GET", "/chain/balances/{address}", summary="An address's stablecoin, in ledger "
              "minor units", tag="chain", response=ChainBalanceWire)(self.balance)

    async def swap(self, call: Call) -> ChainSwapWire:
        """GET /swaps/{ledger_note}: the swap as the bridge stored it."""
        return swap_wire(await self._stored(call.path("ledger_note")))

    async def claim(self, call: Call) -> ChainSwapWire:
        """POST /swaps/{ledger_note}/claim: claim the out-swap's chain lock for its receiver
        with the preimage given, and wait for the receipt."""
        preimage = bytes.fromhex(call.body(ClaimRequest).preimage)
        swap = await self._stored(call.path("ledger_note"))
        if hashlock_of(preimage).hex() != swap.hashlock.lower():
            raise unprocessable("wrong_preimage", "the preimage's SHA-256 is not the swap's "
                                "hashlock")
        if swap.status == "claimed":
            return swap_wire(swap)
        if swap.direction != OUT or swap.status != "locked":
            raise conflict("swap_not_locked", f"the swap is {swap.direction}, {swap.status}: "
                           "only a locked out-swap has a chain lock to claim")
        await self._on_chain(self._relay, swap, preimage)
        return swap_wire(swap)

    async def balance(self, call: Call) -> ChainBalanceWire:
        """GET /chain/balances/{address}: the stablecoin `address` holds, rounded down to whole
        minor units of the ledger currency."""
        try:
            address = Web3.to_checksum_address(_ADDRESS.validate_python(call.path("address")))
        except ValidationError:
            raise bad_request("invalid_request", "address: not an EVM address (0x and 40 hex "
                              "digits)") from None
        held = await self._on_chain(self.bridge.swaps.coin.balance_of, address)
        return ChainBalanceWire(address=address, currency=self.bridge.config.currency,
                                amount_minor=held // self.bridge.unit)

    async def _stored(self, ledger_note: str) -> SwapIntent:
        found = await asyncio.to_thread(self.bridge.store.swap_of_note, ledger_note)
        if found is None:
            raise not_found("swap")
        return found

    def _relay(self, swap: SwapIntent, preimage: bytes) -> None:
        """Send the claim unless the chain lock is claimed already (blocking)."""
        chain_swap = self.bridge.swaps.htlc.swap(bytes.fromhex(swap.chain_swap))
        if chain_swap.state == SwapState.OPEN and self._expired(swap):
            raise _expired()
        try:
            outcome = self.bridge.swaps.claim_on_chain(swap, preimage)
        except ChainError as error:
            # The deadline may pass between the check and the block that takes the claim.
            if error.code == REVERTED and self._expired(swap):
                raise _expired() from None
            raise
        if outcome != "claimed":
            raise conflict("swap_not_locked", "the chain lock was refunded to the bridge")

    def _expired(self, swap: SwapIntent) -> bool:
        # The contract compares the deadline with block time, not the bridge's clock.
        return self.bridge.chain.timestamp() >= swap.chain_deadline_s

    @staticmethod
    async def _on_chain(work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`work` in a thread; a chain that fails or cannot be reached is 502."""
        try:
            return await asyncio.to_thread(work, *args, **kwargs)
        except ChainError as error:
            raise NodeError(502, "chain_unavailable", "Chain unavailable", str(error)) from None


def swap_wire(swap: SwapIntent) -> ChainSwapWire:
    """A stored swap as the API shows it; a declined out-swap has no chain lock to name."""
    out = swap.direction == OUT
    no_chain_lock = out and swap.status == "declined"
    return ChainSwapWire(
        ledger_note=swap.id if out else swap.ledger_note, direction="out" if out else "in",
        status=swap.status, receiver=swap.evm_party if out else swap.ledger_party,
        amount_minor=swap.amount_minor, hashlock=swap.hashlock,
        chain_swap_id=None if no_chain_lock else swap.chain_swap,
        chain_deadline_s=None if no_chain_lock else swap.chain_deadline_s, reason=swap.reason)


def _expired() -> NodeError:
    return unprocessable("swap_expired", "the chain lock's deadline has passed: it can only be "
                         "refunded now")


def build_bridge_app(bridge: EvmBridge) -> web.Application:
    """The bridge's API (no passes: its host runs `bridge.run`) plus /healthz, /metrics,
    /openapi.json and /docs."""
    config = bridge.config
    return service_app(BridgeService(bridge), Metrics(ROLE), {
        "role": ROLE, "name": config.name, "key": config.key.participant,
        "operator": str(bridge.operator.address), "chain_id": str(bridge.chain.chain_id)})


async def serve_bridge(bridge: EvmBridge, host: str, port: int,
                       ready: asyncio.Event | None = None) -> None:
    """Run the bridge's passes and serve its API on host:port until SIGTERM or SIGINT (`ready`
    is set once it listens); passes that fail for good stop the API and raise their error."""
    stop = asyncio.Event()
    passes = asyncio.create_task(bridge.run(stop))
    api = asyncio.create_task(serve_app(build_bridge_app(bridge), host, port,
                                        f"bridge {bridge.config.name}", ready))
    try:
        await asyncio.wait({passes, api}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.set()
        api.cancel()  # a no-op once a signal stopped it; its clean-up runs either way
        await asyncio.gather(api, return_exceptions=True)
        await passes


class BridgeClient(NodeClient):
    """A signed connection to one bridge's API, as the hub uses it."""

    service = "Bridge"

    def __init__(self, base_url: str, key: KeyPair, *,
                 timeout_s: float = CLIENT_TIMEOUT_S) -> None:
        super().__init__(base_url, key, timeout_s=timeout_s)

    async def swap(self, ledger_note: str) -> ChainSwapWire:
        """`GET /swaps/{ledger_note}`."""
        return await self._call("GET", f"/swaps/{quote(ledger_note, safe='')}", ChainSwapWire)

    async def claim(self, ledger_note: str, preimage_hex: str) -> ChainSwapWire:
        """`POST /swaps/{ledger_note}/claim`: safe to repeat (a claimed swap is answered)."""
        return await self._call("POST", f"/swaps/{quote(ledger_note, safe='')}/claim",
                                ChainSwapWire,
                                body=ClaimRequest(preimage=preimage_hex))

    async def balance(self, address: str) -> ChainBalanceWire:
        """`GET /chain/balances/{address}`."""
        return await self._call("GET", f"/chain/balances/{quote(address, safe='')}",
                                ChainBalanceWire)
