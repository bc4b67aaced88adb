"""The EVM bridge's durable state: its chain cursor, its deposits and the notes paid to it.

Every intent is written here, in one database transaction with what it follows from, before
anything is sent: a deposit's ledger issue is stored (signed) with the cursor that passes its
block, and a withdrawal's burn is stored (signed) before it is submitted. A restart reads the
rows that are not settled and finishes them; the ledger answers a resubmitted transaction by its
id, and the vault refuses a withdrawal id it has paid, so nothing happens twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine, Table, and_, func, insert, or_, select, update

from node.database import open_database
from node.tables import BridgeCursorRow, BridgeDepositRow, BridgeNoteRow, BridgeSwapRow

_CURSOR = BridgeCursorRow.__table__  # type: ignore[attr-defined]
_DEPOSITS = BridgeDepositRow.__table__  # type: ignore[attr-defined]
_NOTES = BridgeNoteRow.__table__  # type: ignore[attr-defined]
_SWAPS = BridgeSwapRow.__table__  # type: ignore[attr-defined]
DEPOSITS = "deposits"  # the cursor of vault deposits
SWAPS = "swaps"  # the cursor of on-chain locks for the bridge
ROWS_PER_PASS_MAX = 256  # intents settled per pass, so one pass stays short


@dataclass(frozen=True, slots=True)
class DepositIntent:
    """A confirmed deposit and the signed ledger issue that credits it."""

    id: str
    block: int
    depositor: str
    owner: str
    amount_minor: int
    tx_id: str
    signed: bytes
    status: str = "pending"
    reason: str = ""


@dataclass(frozen=True, slots=True)
class NoteIntent:
    """A note paid to the bridge: a withdrawal to `receiver`, or inventory (no receiver)."""

    note_id: str
    receiver: str
    amount_minor: int
    status: str
    tx_id: str = ""
    signed: bytes = b""
    chain_tx: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class SwapIntent:
    """A hashed-timelock swap and its terms on both sides (see `BridgeSwapRow`)."""

    id: str
    direction: str  # "out": ledger to chain; "in": chain to ledger
    hashlock: str
    amount_minor: int
    evm_party: str
    ledger_party: str
    ledger_deadline_s: int
    chain_deadline_s: int
    chain_swap: str
    chain_block: int
    status: str
    ledger_note: str = ""
    tx_id: str = ""
    signed: bytes = b""
    preimage: str = ""
    reason: str = ""


class BridgeStore:
    """The bridge's tables in its own database (SQLite by default, PostgreSQL by URL)."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = open_database(url)

    def close(self) -> None:
        """Release the database."""
        self.engine.dispose()

    # ---- deposits ----------------------------------------------------------------------------

    def cursor(self, start: int, name: str = DEPOSITS) -> int:
        """The last block whose events `name` (deposits or swaps) are taken in; `start` - 1
        before the first pass."""
        with self.engine.connect() as db:
            found = db.execute(select(_CURSOR.c.block).where(_CURSOR.c.name == name)).scalar()
        return int(found) if found is not None else start - 1

    def take_in(self, intents: Sequence[DepositIntent], through_block: int) -> None:
        """Record the deposits of blocks up to `through_block` and move the cursor past them,
        atomically: a crash leaves both or neither."""
        self._take_in(DEPOSITS, _DEPOSITS, [asdict(i) for i in intents], through_block)

    def take_in_swaps(self, intents: Sequence[SwapIntent], through_block: int) -> None:
        """Record the swaps locked on chain in blocks up to `through_block` and move the swap
        cursor past them, atomically."""
        self._take_in(SWAPS, _SWAPS, [asdict(i) for i in intents], through_block)

    def _take_in(self, cursor: str, table: Table, rows: list[dict[str, Any]],
                 through_block: int) -> None:
        with self.engine.begin() as db:
            known = set(db.execute(select(table.c.id).where(
                table.c.id.in_([row["id"] for row in rows]))).scalars()) if rows else set()
            fresh = [row for row in rows if row["id"] not in known]
            if fresh:
                db.execute(insert(table), fresh)
            moved = db.execute(update(_CURSOR).where(_CURSOR.c.name == cursor).values(
                block=through_block))
            if moved.rowcount == 0:
                db.execute(insert(_CURSOR).values(name=cursor, block=through_block))

    def deposits(self, status: str, limit: int = ROWS_PER_PASS_MAX) -> list[DepositIntent]:
        """Deposits in `status`, oldest block first."""
        query = select(_DEPOSITS).where(_DEPOSITS.c.status == status).order_by(
            _DEPOSITS.c.block, _DEPOSITS.c.id).limit(limit)
        with self.engine.connect() as db:
            return [DepositIntent(**row) for row in db.execute(query).mappings()]

    def resign_deposit(self, deposit_id: str, tx_id: str, signed: bytes) -> None:
        """Replace a deposit's ledger issue that can no longer commit (its time is stale)."""
        self._update(_DEPOSITS, _DEPOSITS.c.id == deposit_id, tx_id=tx_id, signed=signed)

    def settle_deposit(self, deposit_id: str, status: str, reason: str = "") -> None:
        """Mark a deposit credited or refused."""
        self._update(_DEPOSITS, _DEPOSITS.c.id == deposit_id, status=status, reason=reason)

    # ---- notes paid to the bridge ------------------------------------------------------------

    def known_notes(self, note_ids: Sequence[str], status: str | None = None) -> set[str]:
        """Which of `note_ids` the bridge has already recorded (in `status`, if given:
        "inventory" picks the notes paid to it for no withdrawal)."""
        if not note_ids:
            return set()
        query = select(_NOTES.c.note_id).where(_NOTES.c.note_id.in_(list(note_ids)))
        if status is not None:
            query = query.where(_NOTES.c.status == status)
        with self.engine.connect() as db:
            return set(db.execute(query).scalars())

    def record_note(self, intent: NoteIntent) -> None:
        """Record a note paid to the bridge, with its signed burn if it is a withdrawal."""
        with self.engine.begin() as db:
            db.execute(insert(_NOTES).values(**asdict(intent)))

    def notes(self, status: str, limit: int = ROWS_PER_PASS_MAX) -> list[NoteIntent]:
        """Notes in `status`."""
        query = select(_NOTES).where(_NOTES.c.status == status).order_by(
            _NOTES.c.note_id).limit(limit)
        with self.engine.connect() as db:
            return [NoteIntent(**row) for row in db.execute(query).mappings()]

    def resign_burn(self, note_id: str, tx_id: str, signed: bytes) -> None:
        """Replace a withdrawal's burn that can no longer commit (its time is stale)."""
        self._update(_NOTES, _NOTES.c.note_id == note_id, tx_id=tx_id, signed=signed)

    def settle_note(self, note_id: str, status: str, *, chain_tx: str | None = None,
                    reason: str = "") -> None:
        """Move a withdrawal on (burned, paid, rejected); `chain_tx` once its payout is sent."""
        values: dict[str, object] = {"status": status, "reason": reason}
        if chain_tx is not None:
            values["chain_tx"] = chain_tx
        self._update(_NOTES, _NOTES.c.note_id == note_id, **values)

    # ---- swaps ---------------------------------------------------------------------------------

    def record_swap(self, intent: SwapIntent) -> None:
        """Record a swap paid to the bridge on the ledger, before the bridge locks anything."""
        with self.engine.begin() as db:
            db.execute(insert(_SWAPS).values(**asdict(intent)))

    def known_swaps(self, swap_ids: Sequence[str]) -> set[str]:
        """Which of `swap_ids` the bridge has already recorded."""
        if not swap_ids:
            return set()
        with self.engine.connect() as db:
            return set(db.execute(select(_SWAPS.c.id).where(
                _SWAPS.c.id.in_(list(swap_ids)))).scalars())

    def swaps(self, status: str, direction: str, limit: int = ROWS_PER_PASS_MAX
              ) -> list[SwapIntent]:
        """Swaps of `direction` in `status`, by id."""
        query = select(_SWAPS).where(_SWAPS.c.status == status,
                                     _SWAPS.c.direction == direction).order_by(
            _SWAPS.c.id).limit(limit)
        with self.engine.connect() as db:
            return [SwapIntent(**row) for row in db.execute(query).mappings()]

    def swap_of_note(self, ledger_note: str) -> SwapIntent | None:
        """The swap whose ledger leg is `ledger_note`: the note locked to the bridge (out) or
        the bridge's lock for the wallet (in); None if there is none."""
        query = select(_SWAPS).where(or_(
            and_(_SWAPS.c.direction == "out", _SWAPS.c.id == ledger_note),
            and_(_SWAPS.c.direction == "in", _SWAPS.c.ledger_note == ledger_note)))
        with self.engine.connect() as db:
            row = db.execute(query).mappings().first()
        return SwapIntent(**row) if row is not None else None

    def update_swap(self, swap_id: str, **values: object) -> None:
        """Move a swap on: its status, and what it learnt (preimage, ledger note, reason)."""
        self._update(_SWAPS, _SWAPS.c.id == swap_id, **values)

    def totals(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(table, status) → (rows, amount in minor units), for status and reconciliation."""
        found: dict[tuple[str, str], tuple[int, int]] = {}
        with self.engine.connect() as db:
            for name, table in (("deposits", _DEPOSITS), ("notes", _NOTES),
                                ("swaps", _SWAPS)):
                query = select(table.c.status, func.count(), func.coalesce(
                    func.sum(table.c.amount_minor), 0)).group_by(table.c.status)
                for status, count, total in db.execute(query):
                    found[(name, status)] = (int(count), int(total))
        return found

    def _update(self, table: object, where: object, **values: object) -> None:
        with self.engine.begin() as db:
            db.execute(update(table).where(where).values(**values))  # type: ignore[arg-type]

