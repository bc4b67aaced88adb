"""Hashed-timelock swaps between the ledger and an EVM chain, run by the bridge from its float.

Both legs lock the same value under one SHA-256 hashlock. Only the counterparty knows the
preimage, and the deadlines are ordered: the leg the bridge locks ends `swap_margin_s` before
the leg it takes. So the preimage can only appear first on the bridge's leg, before that leg's
deadline, and the bridge then has at least `swap_margin_s` to claim the other: whoever reveals
first cannot be cheated, and the bridge cannot be either.

* **Out, ledger to chain** (the Mutsumi route). A sender locks bridged notes to the bridge on
  the ledger, naming `evm:0x…` as the receiver. The bridge locks the same amount of stablecoin
  from its own float in the hashed-timelock contract for that receiver, until
  `swap_margin_s` before the ledger lock ends. When the receiver claims on chain, the
  preimage is in the `Claimed` event and the bridge claims the ledger note with it; when
  nobody claims, the bridge refunds itself on chain and the sender refunds itself on the
  ledger.
* **In, chain to ledger.** An EVM sender locks stablecoin for the bridge's operator; the
  lock's memo names the ledger wallet to pay. After `confirmations` blocks the bridge locks the
  same amount of bridged notes from its inventory for that wallet, until `swap_margin_s` before
  the chain lock ends. When the wallet claims on the ledger, the bridge reads the preimage from
  the claim (it may, as the party the lock refunds) and claims on chain; when nobody claims,
  the bridge refunds itself on the ledger.

The vault is untouched: swaps move the bridge's float and inventory, so the vault still equals
the bridged supply. Crash safety: a swap's terms are stored before anything is locked. The
chain lock's id is a function of its terms, so a lock resent after a crash is refused as
existing and read back; the ledger lock is stored signed and resubmitted by id, and signed anew
only once no notary can commit it. Claims and refunds are derived each pass from the two sides'
state, so a crash in the middle of one finds it done or does it again, never twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Final

from bridges.evm.contracts import (
    HashedTimelock,
    Locked,
    Stablecoin,
    SwapState,
    SwapTerms,
    swap_id_of,
)
from bridges.evm.errors import internal
from engine.encoding import from_wire, note_id
from engine.ids import NoteId, ParticipantId, TxId
from engine.model import NO_FACTS, HashLock, Note, SignedTransaction
from engine.wallet import (
    InsufficientFunds,
    NoteReservations,
    Payment,
    build_payment,
    build_settlement,
    sign,
)
from node.bridge_store import SWAPS, SwapIntent
from node.messages import NotesQuery, NoteWire, OutcomeWire
from node.wire import note_from_wire

if TYPE_CHECKING:
    from node.evm_bridge import EvmBridge

log = logging.getLogger("earmark.bridge.swaps")
OUT: Final = "out"
IN: Final = "in"
LOCK_BLOCKS_PER_PASS_MAX: Final = 2_000


class SwapDesk:
    """The bridge's swaps: takes them in, locks the bridge's leg, and settles both legs."""

    def __init__(self, bridge: EvmBridge) -> None:
        self.bridge = bridge
        self.htlc = HashedTimelock.at(bridge.chain, bridge.config.htlc)
        self.coin = Stablecoin.at(bridge.chain, bridge.config.stablecoin)

    @property
    def operator(self) -> str:
        """The bridge's address on chain: it locks, claims and refunds."""
        return str(self.bridge.operator.address)

    async def step(self) -> int:
        """One pass over every open swap; how many moved on."""
        moved = await self._take_in_chain_locks()
        moved += await self._lock_out()
        moved += await self._watch_out()
        moved += await self._lock_in()
        moved += await self._watch_in()
        return moved

    # ---- out: ledger to chain ------------------------------------------------------------------

    async def take_in_ledger_lock(self, note: NoteWire, receiver: str | None) -> None:
        """Record a note locked to the bridge on the ledger, accepted or declined (its sender
        then refunds it at its deadline)."""
        if note.lock is None:
            return
        margin = self.bridge.config.swap_margin_s
        chain_deadline = note.lock.deadline_s - margin
        head = await asyncio.to_thread(self.bridge.chain.block_number)
        chain_now = await asyncio.to_thread(self.bridge.chain.timestamp)
        reason = ""
        if receiver is None:
            reason = "the payment names no EVM receiver (receiver id evm:0x…)"
        elif chain_deadline < chain_now + self.bridge.config.swap_window_min_s:
            reason = f"the ledger lock ends too soon to lock on chain with a {margin} s margin"
        terms = self._terms_out(note.id, receiver or self.operator, note.amount_minor,
                                note.lock.digest, chain_deadline)
        await asyncio.to_thread(self.bridge.store.record_swap, SwapIntent(
            note.id, OUT, note.lock.digest, note.amount_minor, receiver or "",
            note.lock.refund_to, note.lock.deadline_s, chain_deadline,
            swap_id_of(self.operator, terms).hex(), head,
            "declined" if reason else "accepted", reason=reason))
        log.info("swap out %s %s %s", note.id, "declined:" if reason else "accepted", reason)

    def _terms_out(self, ledger_note: str, receiver: str, amount_minor: int, hashlock: str,
                   deadline: int) -> SwapTerms:
        # The memo names the ledger note, so the chain lock points back at its other leg.
        return SwapTerms(token=self.bridge.config.stablecoin, receiver=receiver,
                         amount=amount_minor * self.bridge.unit,
                         hashlock=bytes.fromhex(hashlock), deadline=deadline,
                         memo=bytes.fromhex(ledger_note))

    async def _lock_out(self) -> int:
        moved = 0
        for swap in await asyncio.to_thread(self.bridge.store.swaps, "accepted", OUT):
            status, reason = await asyncio.to_thread(self._lock_on_chain, swap)
            await asyncio.to_thread(self.bridge.store.update_swap, swap.id, status=status,
                                    reason=reason)
            moved += 1
        return moved

    def _lock_on_chain(self, swap: SwapIntent) -> tuple[str, str]:
        """Lock the bridge's stablecoin for the receiver once; (new status, reason)."""
        chain_swap = bytes.fromhex(swap.chain_swap)
        if self.htlc.swap(chain_swap).state != SwapState.UNKNOWN:
            return "locked", ""  # sent before a crash
        value = swap.amount_minor * self.bridge.unit
        if self.bridge.chain.timestamp() + self.bridge.config.swap_window_min_s > (
                swap.chain_deadline_s):
            return "declined", "too late to lock on chain before the deadline"
        if self.coin.balance_of(self.operator) < value:
            return "declined", "the bridge has not enough stablecoin to lock"
        self.coin.approve(self.bridge.operator, self.htlc.address, value)
        self.htlc.lock(self.bridge.operator, self._terms_out(
            swap.id, swap.evm_party, swap.amount_minor, swap.hashlock, swap.chain_deadline_s))
        return "locked", ""

    async def _watch_out(self) -> int:
        moved = 0
        for swap in await asyncio.to_thread(self.bridge.store.swaps, "locked", OUT):
            state = (await asyncio.to_thread(
                self.htlc.swap, bytes.fromhex(swap.chain_swap))).state
            if state == SwapState.CLAIMED:
                moved += await self._claim_ledger_leg(swap)
            elif state == SwapState.REFUNDED:
                await self._finish(swap, "refunded")
                moved += 1
            elif await asyncio.to_thread(self._refund_on_chain_due, swap):
                await asyncio.to_thread(self.htlc.refund, self.bridge.operator,
                                        bytes.fromhex(swap.chain_swap))
                await self._finish(swap, "refunded")
                moved += 1
        return moved

    def _refund_on_chain_due(self, swap: SwapIntent) -> bool:
        return self.bridge.chain.timestamp() >= swap.chain_deadline_s

    async def _claim_ledger_leg(self, swap: SwapIntent) -> int:
        """The receiver claimed on chain: claim the ledger note with the preimage it showed."""
        preimage = await asyncio.to_thread(self._preimage_on_chain, swap)
        note = await self.bridge.client.note(swap.id)
        if note.spent_by is not None:
            entry = await self.bridge.client.journal(note.spent_by)
            claimed = from_wire(entry.transaction).preimage is not None
            await self._finish(swap, "claimed" if claimed else "lost", preimage=preimage.hex(),
                               reason="" if claimed else "the sender refunded the ledger leg")
            return 1
        outcome = await self._submit_settlement(note_from_wire(note), preimage)
        if outcome.status != "committed":
            log.warning("swap out %s: ledger claim refused, retrying: %s", swap.id,
                        outcome.reason)
            return 0
        await self._finish(swap, "claimed", preimage=preimage.hex())
        return 1

    def _preimage_on_chain(self, swap: SwapIntent) -> bytes:
        head = self.bridge.chain.block_number()
        wanted = bytes.fromhex(swap.chain_swap)
        for claim in self.htlc.claims(swap.chain_block, head):
            if claim.swap_id == wanted:
                return claim.preimage
        raise internal(f"swap {swap.chain_swap} is claimed but its Claimed event "
                                  f"is not in blocks {swap.chain_block}..{head}")

    # ---- in: chain to ledger -------------------------------------------------------------------

    async def _take_in_chain_locks(self) -> int:
        chain = self.bridge.chain
        head = await asyncio.to_thread(chain.block_number)
        confirmed = head - self.bridge.config.confirmations + 1
        start = await asyncio.to_thread(self.bridge.store.cursor, 0, SWAPS) + 1
        through = min(confirmed, start + LOCK_BLOCKS_PER_PASS_MAX - 1)
        if through < start:
            return 0
        locks = await asyncio.to_thread(self.htlc.locks, start, through)
        intents = [self._intent_in(lock) for lock in locks
                   if lock.receiver.lower() == self.operator.lower()]
        await asyncio.to_thread(self.bridge.store.take_in_swaps, intents, through)
        return len(intents)

    def _intent_in(self, lock: Locked) -> SwapIntent:
        config = self.bridge.config
        ledger_deadline = lock.deadline - config.swap_margin_s
        reason = ""
        if lock.token.lower() != config.stablecoin.lower():
            reason = "the lock is not of the bridged stablecoin"
        elif lock.amount % self.bridge.unit:
            reason = f"the lock is not a whole number of {config.currency} minor units"
        elif ledger_deadline < int(self.bridge.clock()) + config.swap_window_min_s:
            reason = f"the chain lock ends too soon to lock on the ledger with a " \
                     f"{config.swap_margin_s} s margin"
        return SwapIntent(lock.swap_id.hex(), IN, lock.hashlock.hex(),
                          lock.amount // self.bridge.unit, lock.sender, lock.memo.hex(),
                          ledger_deadline, lock.deadline, lock.swap_id.hex(),
                          lock.at.block_number, "declined" if reason else "accepted",
                          reason=reason)

    async def _lock_in(self) -> int:
        moved = 0
        accepted = await asyncio.to_thread(self.bridge.store.swaps, "accepted", IN)
        # Notes of signed locks not yet committed are taken; new locks choose among the rest.
        taken = {i for swap in accepted if swap.signed
                 for i in self.bridge.signed(swap.signed).transaction.inputs}
        reservations = NoteReservations()
        for swap in accepted:
            moved += await self._lock_on_ledger(swap, reservations, taken)
        return moved

    async def _lock_on_ledger(self, swap: SwapIntent, reservations: NoteReservations,
                              taken: set[NoteId]) -> int:
        """Sign (once), store and submit the ledger lock for the wallet the memo named."""
        if not swap.signed:
            if int(self.bridge.clock()) + self.bridge.config.swap_window_min_s > (
                    swap.ledger_deadline_s):
                await self._finish(swap, "declined", reason="too late to lock on the ledger")
                return 1
            try:
                free = [n for n in await self._inventory() if n.id not in taken]
                notes = reservations.choose(free, swap.amount_minor, self.bridge.config.currency)
            except InsufficientFunds as short:
                await self._finish(swap, "declined", reason=f"not enough inventory: {short}")
                return 1
            signed = self._signed_lock(swap, notes)
            swap = await self._store_lock(swap, signed)
        fate = await self.bridge.settle(swap.signed, lambda: self._resigned(swap))
        if isinstance(fate, SignedTransaction):
            await self._store_lock(swap, fate)
            return 0
        if fate is None:
            return 0
        if fate.status == "committed":
            await self._finish(swap, "locked", ledger_note=note_id(TxId(fate.tx_id), 0))
        else:
            await self._finish(swap, "declined", reason=f"{fate.code}: {fate.reason}")
        return 1

    async def _inventory(self) -> list[Note]:
        """The bridge's plain bridged notes that are inventory (not withdrawals to burn)."""
        owned: list[Note] = []
        after = ""
        while True:
            page = await self.bridge.client.notes(NotesQuery(
                owner=self.bridge.config.key.participant, currency=self.bridge.config.currency,
                after=after, limit=200))
            owned += [note_from_wire(n) for n in page.items
                      if n.token == self.bridge.config.token and n.lock is None]
            if page.next is None:
                break
            after = page.next
        stock = await asyncio.to_thread(self.bridge.store.known_notes, [n.id for n in owned],
                                        "inventory")
        return [note for note in owned if note.id in stock]

    def _signed_lock(self, swap: SwapIntent, notes: list[Note]) -> SignedTransaction:
        config = self.bridge.config
        payment = Payment(swap.amount_minor, config.currency, self.bridge.token,
                          ParticipantId(swap.ledger_party),
                          NO_FACTS,
                          lock=HashLock(swap.hashlock, config.key.participant,
                                        swap.ledger_deadline_s))
        transaction = build_payment(payment, notes, self.bridge.facts, config.key.participant,
                                    created_at_s=int(self.bridge.clock()),
                                    nonce=f"evm-swap:{self.bridge.chain.chain_id}:{swap.id}")
        return sign(transaction, (config.key,))

    def _resigned(self, swap: SwapIntent) -> SignedTransaction:
        """The stored lock, which can no longer commit, with a fresh time (same notes)."""
        old = self.bridge.signed(swap.signed).transaction
        return sign(replace(old, created_at_s=int(self.bridge.clock())),
                    (self.bridge.config.key,))

    async def _store_lock(self, swap: SwapIntent, signed: SignedTransaction) -> SwapIntent:
        body = self.bridge.body(signed)
        await asyncio.to_thread(self.bridge.store.update_swap, swap.id, tx_id=signed.id,
                                signed=body)
        return replace(swap, tx_id=signed.id, signed=body)

    async def _watch_in(self) -> int:
        moved = 0
        for swap in await asyncio.to_thread(self.bridge.store.swaps, "locked", IN):
            note = await self.bridge.client.note(swap.ledger_note)
            if note.spent_by is not None:
                moved += await self._claim_chain_leg(swap, note.spent_by)
            elif self.bridge.clock() >= swap.ledger_deadline_s:
                outcome = await self._submit_settlement(note_from_wire(note), None)
                if outcome.status == "committed":
                    await self._finish(swap, "refunded")
                    moved += 1
        return moved

    async def _claim_chain_leg(self, swap: SwapIntent, spent_by: str) -> int:
        """The ledger note is spent: by the wallet's claim (claim on chain with its preimage) or
        by the bridge's refund."""
        entry = await self.bridge.client.journal(spent_by)
        revealed = from_wire(entry.transaction).preimage
        if revealed is None:
            await self._finish(swap, "refunded")
            return 1
        status = await asyncio.to_thread(self.claim_on_chain, swap, bytes.fromhex(revealed))
        await self._finish(swap, status, preimage=revealed,
                           reason="" if status == "claimed" else "the chain lock was refunded")
        return 1

    def claim_on_chain(self, swap: SwapIntent, preimage: bytes) -> str:
        """Claim the swap's chain lock with `preimage` unless it is settled already (blocking);
        "claimed", or "lost" if it was refunded. The contract pays the lock's receiver whoever
        sends the claim: the in-direction's bridge, or the bridge's API relaying an out-swap's
        claim for its receiver."""
        chain_swap = bytes.fromhex(swap.chain_swap)
        if self.htlc.swap(chain_swap).state == SwapState.OPEN:
            self.htlc.claim(self.bridge.operator, chain_swap, preimage)
        state = self.htlc.swap(chain_swap).state
        return "claimed" if state == SwapState.CLAIMED else "lost"

    # ---- both ----------------------------------------------------------------------------------

    async def _submit_settlement(self, note: Note, preimage: bytes | None) -> OutcomeWire:
        transaction = build_settlement(note, self.bridge.facts, preimage=preimage,
                                       created_at_s=int(self.bridge.clock()),
                                       nonce=f"evm-swap-settle:{note.id}:{time.time_ns()}")
        return await self.bridge.submit(sign(transaction, (self.bridge.config.key,)))

    async def _finish(self, swap: SwapIntent, status: str, **values: str) -> None:
        if status == "lost":
            log.error("swap %s %s lost: %s", swap.direction, swap.id, values.get("reason"))
        await asyncio.to_thread(self.bridge.store.update_swap, swap.id, status=status, **values)
