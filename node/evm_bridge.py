"""The EVM bridge: a vault of stablecoin on chain, the same value as a bridged token on the ledger.

One pass (`EvmBridge.step`) does, in order:

1. **Deposits in.** Vault `Deposited` events of blocks with at least `confirmations`
   confirmations (a reorganisation shorter than that changes nothing the bridge has seen) are
   recorded, each with a signed ledger `issue` of the bridged token to the wallet its reference
   names, together with the new cursor, in one database transaction.
2. **Credits.** Each recorded issue is submitted; the ledger answers a resubmission by its id,
   so a crash between sending and recording can never credit twice. An issue whose time went
   stale before it committed (the bridge was down) can no longer commit anywhere, and is signed
   anew.
3. **Withdrawals in.** Notes paid to the bridge whose payment names an EVM receiver
   (`receiver.id == "evm:0x…"`) are recorded with a signed `redeem` that burns them; others are
   inventory.
4. **Burn, then pay.** The burn commits first, then the vault pays under the note's id; the
   vault refuses an id it has paid, so a payout re-sent after a crash never pays twice.
5. **Swaps.** Hashed-timelock swaps between ledger notes and the chain's hashed-timelock
   contract, from the bridge's own float and inventory (`node.evm_swaps`).

So at every moment the vault holds the ledger supply plus what is in flight (deposits not yet
credited, burns not yet paid out): `reconcile` checks exactly that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Final

import orjson
from eth_account import Account
from eth_account.signers.local import LocalAccount

from bridges.evm.chain import Chain
from bridges.evm.contracts import Deposited, Vault
from bridges.evm.errors import ChainError
from dsl.facts import Party
from dsl.money import exponent
from engine.encoding import from_wire
from engine.ids import NoteId, ParticipantId
from engine.model import NO_FACTS, Output, SignedTransaction, TokenRef, Transaction
from engine.wallet import sign
from node.bridge_config import BridgeConfig
from node.bridge_store import BridgeStore, DepositIntent, NoteIntent
from node.client import ClientError, NodeClient
from node.evm_swaps import SwapDesk
from node.messages import (
    NotesQuery,
    NoteWire,
    OutcomeWire,
    SignedTransactionWire,
    TransactionBatch,
)
from node.wire import signed_from_wire, signed_to_wire, token_from_wire

log = logging.getLogger("earmark.bridge")
EVM_RECEIVER: Final = re.compile(r"^evm:(0x[0-9a-fA-F]{40})$")
DEPOSIT_BLOCKS_PER_PASS_MAX: Final = 2_000  # a long outage is caught up in steps
NOTE_PAGE: Final = 200
CHAIN_DECIMALS: Final = 18


@dataclass(frozen=True, slots=True)
class PassReport:
    """What one pass did (for progress output and tests)."""

    deposits_seen: int = 0
    credited: int = 0
    withdrawals_seen: int = 0
    burned: int = 0
    paid: int = 0
    swaps: int = 0


class EvmBridge:
    """One bridge: its configuration, chain, vault, ledger client and store."""

    def __init__(self, config: BridgeConfig, chain: Chain, client: NodeClient,
                 store: BridgeStore) -> None:
        self.config = config
        self.chain = chain
        self.client = client
        self.store = store
        self.vault = Vault.at(chain, config.vault)
        self.operator: LocalAccount = Account.from_key(bytes.fromhex(config.operator_key))
        self.token: TokenRef = token_from_wire(config.token)  # type: ignore[assignment]
        self.unit = 10 ** (CHAIN_DECIMALS - exponent(config.currency))
        self.clock = time.time
        self.swaps = SwapDesk(self)

    @property
    def facts(self) -> Party:
        """The bridge as a party of its ledger transactions."""
        return Party(id=self.config.name, role="fx_provider")

    async def step(self) -> PassReport:
        """One pass over the chain and the ledger (see the module's docstring)."""
        seen = await self._take_in_deposits()
        credited = await self._credit()
        withdrawals = await self._take_in_notes()
        burned = await self._burn()
        paid = await self._pay()
        swaps = await self.swaps.step()
        return PassReport(seen, credited, withdrawals, burned, paid, swaps)

    async def run(self, stop: asyncio.Event) -> None:
        """Pass after pass until `stop` is set; a chain or ledger outage is logged and retried
        at the next pass, never fatal."""
        while not stop.is_set():
            try:
                report = await self.step()
                if report != PassReport():
                    log.info("pass: %s", report)
            except (ChainError, OSError) as problem:
                log.warning("pass interrupted, retrying: %s", problem)
            except ClientError as problem:
                if not problem.transient:
                    raise
                log.warning("pass interrupted, the ledger will be asked again: %s", problem)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.config.poll_interval_s)

    # ---- 1-2. deposits -----------------------------------------------------------------------

    async def _take_in_deposits(self) -> int:
        head = await asyncio.to_thread(self.chain.block_number)
        confirmed = head - self.config.confirmations + 1
        start = self.store.cursor(start=0) + 1
        through = min(confirmed, start + DEPOSIT_BLOCKS_PER_PASS_MAX - 1)
        if through < start:
            return 0
        events = await asyncio.to_thread(self.vault.deposits, start, through)
        intents = [self._deposit_intent(event) for event in events]
        await asyncio.to_thread(self.store.take_in, intents, through)
        return len(intents)

    def _deposit_intent(self, event: Deposited) -> DepositIntent:
        at = event.at
        deposit_id = f"{at.tx_hash}:{at.log_index}"
        owner = ParticipantId(event.reference.hex())
        amount = event.amount // self.unit  # the vault takes whole units only
        signed = self._signed_issue(deposit_id, owner, amount)
        return DepositIntent(deposit_id, at.block_number, event.depositor, owner, amount,
                             signed.id, self.body(signed))

    def _signed_issue(self, deposit_id: str, owner: ParticipantId,
                      amount: int) -> SignedTransaction:
        transaction = Transaction(
            "issue", (), (Output(owner, amount, self.config.currency, self.token),),
            self.facts, NO_FACTS, int(self.clock()),
            f"evm-deposit:{self.chain.chain_id}:{deposit_id}")
        return sign(transaction, (self.config.key,))

    async def _credit(self) -> int:
        credited = 0
        for deposit in await asyncio.to_thread(self.store.deposits, "pending"):
            fate = await self.settle(deposit.signed, partial(
                self._signed_issue, deposit.id, ParticipantId(deposit.owner),
                deposit.amount_minor))
            if isinstance(fate, SignedTransaction):
                await asyncio.to_thread(self.store.resign_deposit, deposit.id, fate.id,
                                        self.body(fate))
            elif fate is not None:
                status = "credited" if fate.status == "committed" else "refused"
                await asyncio.to_thread(self.store.settle_deposit, deposit.id, status,
                                        _refusal_text(fate))
                credited += status == "credited"
        return credited

    # ---- 3-4. withdrawals --------------------------------------------------------------------

    async def _take_in_notes(self) -> int:
        mine = [n for n in await self._held() if n.token == self.config.token]
        known = await asyncio.to_thread(self.store.known_notes, [n.id for n in mine])
        known |= await asyncio.to_thread(self.store.known_swaps, [n.id for n in mine])
        withdrawals = 0
        for note in (n for n in mine if n.id not in known):
            entry = await self.client.journal(note.created_by)
            match = EVM_RECEIVER.match(from_wire(entry.transaction).memo or "")
            receiver = match.group(1) if match else None
            if note.lock is not None:
                await self.swaps.take_in_ledger_lock(note, receiver)
                continue
            if receiver is None:
                intent = NoteIntent(note.id, "", note.amount_minor, "inventory")
            else:
                burn = self._signed_burn(NoteId(note.id))
                intent = NoteIntent(note.id, receiver, note.amount_minor, "received",
                                    burn.id, self.body(burn))
                withdrawals += 1
            await asyncio.to_thread(self.store.record_note, intent)
        return withdrawals

    async def _held(self) -> list[NoteWire]:
        """Every unspent note the bridge holds in its currency, page by page."""
        held: list[NoteWire] = []
        after = ""
        while True:
            page = await self.client.notes(NotesQuery(
                owner=self.config.key.participant, currency=self.config.currency,
                after=after, limit=NOTE_PAGE))
            held += page.items
            if page.next is None:
                return held
            after = page.next

    def _signed_burn(self, note: NoteId) -> SignedTransaction:
        transaction = Transaction("redeem", (note,), (), self.facts, self.facts,
                                  int(self.clock()), f"evm-withdrawal:{note}")
        return sign(transaction, (self.config.key,))

    async def _burn(self) -> int:
        burned = 0
        for note in await asyncio.to_thread(self.store.notes, "received"):
            fate = await self.settle(note.signed, partial(self._signed_burn,
                                                           NoteId(note.note_id)))
            if isinstance(fate, SignedTransaction):
                await asyncio.to_thread(self.store.resign_burn, note.note_id, fate.id,
                                        self.body(fate))
            elif fate is not None:
                status = "burned" if fate.status == "committed" else "rejected"
                await asyncio.to_thread(self.store.settle_note, note.note_id, status,
                                        reason=_refusal_text(fate))
                burned += status == "burned"
        return burned

    async def _pay(self) -> int:
        paid = 0
        for note in await asyncio.to_thread(self.store.notes, "burned"):
            if await asyncio.to_thread(self._pay_out, note):
                await asyncio.to_thread(self.store.settle_note, note.note_id, "paid",
                                        chain_tx=note.chain_tx)
                paid += 1
        return paid

    def _pay_out(self, note: NoteIntent) -> bool:
        """Pay a burned withdrawal from the vault once; True when it is paid (now or before)."""
        withdrawal_id = bytes.fromhex(note.note_id)
        if self.vault.is_paid(withdrawal_id):
            return True
        try:
            sent = self.vault.send_withdraw(self.operator, withdrawal_id, note.receiver,
                                            note.amount_minor * self.unit)
            self.store.settle_note(note.note_id, "burned", chain_tx=sent)
            self.chain.wait(sent)
        except ChainError:
            # A payout sent before a crash may have won the race: the vault says which.
            if not self.vault.is_paid(withdrawal_id):
                raise
        return True

    # ---- the ledger ----------------------------------------------------------------------------

    async def submit(self, signed: SignedTransaction) -> OutcomeWire:
        answer = await self.client.submit_transactions(
            TransactionBatch(transactions=[signed_to_wire(signed)]))
        return answer.outcomes[0]

    async def settle(self, body: bytes, anew: Callable[[], SignedTransaction]
                      ) -> OutcomeWire | SignedTransaction | None:
        """Submit a stored intent's transaction: its final outcome (committed, or refused for
        good); a transaction signed anew when the stored one went stale; None to try again."""
        outcome = await self.submit(self.signed(body))
        if outcome.status == "committed":
            return outcome
        if self._stale(body):
            return anew()
        # A `malformed` refusal of a fresh transaction is the clocks disagreeing: wait.
        return None if outcome.code == "malformed" else outcome

    @staticmethod
    def body(signed: SignedTransaction) -> bytes:
        """A signed transaction as the bridge's store keeps it."""
        return orjson.dumps(signed_to_wire(signed).model_dump())

    @staticmethod
    def signed(body: bytes) -> SignedTransaction:
        """A stored signed transaction, read back."""
        return signed_from_wire(SignedTransactionWire.model_validate_json(body))

    def _stale(self, body: bytes) -> bool:
        """Whether a stored transaction's time is so old that no notary can commit it now."""
        created = self.signed(body).transaction.created_at_s
        return self.clock() > created + self.config.resign_after_s


def _refusal_text(outcome: OutcomeWire) -> str:
    return "" if outcome.status == "committed" else f"{outcome.code}: {outcome.reason}"
