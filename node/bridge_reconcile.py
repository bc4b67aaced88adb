"""Does the vault hold exactly what the ledger's bridged supply and the bridge's work in flight
say it should? (`earmark bridge reconcile`; `earmark bridge status` prints the same figures.)

Deposits reach the vault before the ledger, and withdrawals leave the ledger (burned) before
the vault, so at any block B:

    vault backing at B = ledger supply
                         + deposits up to B not yet credited (recorded or not yet confirmed)
                         + burns not yet paid out at B

in the ledger's minor units. A running bridge moves money between the terms while they are
read, so a mismatch is read again a few times before it counts.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from node.evm_bridge import EvmBridge

READS_MAX = 3
READ_PAUSE_S = 0.5


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """The terms of the equation above, all in minor units."""

    block: int
    vault_minor: int
    supply_minor: int
    deposits_in_flight_minor: int
    payouts_in_flight_minor: int

    @property
    def expected_minor(self) -> int:
        """What the vault should hold."""
        return self.supply_minor + self.deposits_in_flight_minor + self.payouts_in_flight_minor

    @property
    def ok(self) -> bool:
        """Whether the vault holds exactly that."""
        return self.vault_minor == self.expected_minor


async def reconcile(bridge: EvmBridge) -> Reconciliation:
    """The reconciliation, read again up to `READS_MAX` times while it does not balance."""
    found = await _read(bridge)
    for _ in range(READS_MAX - 1):
        if found.ok:
            break
        await asyncio.sleep(READ_PAUSE_S)
        found = await _read(bridge)
    return found


async def _read(bridge: EvmBridge) -> Reconciliation:
    store, vault, unit = bridge.store, bridge.vault, bridge.unit
    block = await asyncio.to_thread(bridge.chain.block_number)
    cursor = await asyncio.to_thread(store.cursor, 0)
    # The ledger first: whatever the bridge credits meanwhile is then in the store's totals or
    # still in the unconfirmed events, never in neither.
    supply = (await bridge.client.supply(bridge.config.token)).supply_minor
    pending = await asyncio.to_thread(store.deposits, "pending", 1_000_000)
    unseen = await asyncio.to_thread(vault.deposits, cursor + 1, block) if block > cursor else []
    burned = await asyncio.to_thread(store.notes, "burned", 1_000_000)
    unpaid = [note for note in burned
              if not await asyncio.to_thread(vault.is_paid, bytes.fromhex(note.note_id), block)]
    backing = await asyncio.to_thread(vault.backing, block)
    return Reconciliation(
        block=block, vault_minor=backing // unit, supply_minor=supply,
        deposits_in_flight_minor=sum(d.amount_minor for d in pending)
        + sum(event.amount // unit for event in unseen),
        payouts_in_flight_minor=sum(note.amount_minor for note in unpaid))
