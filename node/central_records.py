"""The central bank's records beside the ledger: participants, reserve deposits and wallets.

Synchronous reads and writes on the node's tables (`node.tables`); the service calls them on a
thread. Each write is one database transaction, and a uniqueness the tables enforce (a name, an
account, a phone) is turned into a 409 rather than checked first and raced.

A key is registered once, as a participant or as one bank's customer (`key_registered`): each
registration inserts its key into `registered_keys` in the transaction that writes its row, so
the database keeps the rule against concurrent registrations on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any, Final

from sqlalchemy import Engine, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from engine.ids import ParticipantId
from engine.participants import Participant
from engine.store import IDS_PER_QUERY_MAX
from node.errors import NodeError, conflict, unprocessable
from node.messages import RegisterWallet
from node.tables import ParticipantRow, RegisteredKeyRow, ReserveRow, WalletRow

RESERVES_MAX_MINOR: Final = 2**63 - 1  # a bank's deposits fit the signed 64-bit column
_PARTICIPANTS = ParticipantRow.__table__  # type: ignore[attr-defined]
_RESERVES = ReserveRow.__table__  # type: ignore[attr-defined]
_WALLETS = WalletRow.__table__  # type: ignore[attr-defined]
_KEYS = RegisteredKeyRow.__table__  # type: ignore[attr-defined]
_PARTICIPANT_COLUMNS: Final = select(_PARTICIPANTS.c.key, _PARTICIPANTS.c.name,
                                     _PARTICIPANTS.c.role, _PARTICIPANTS.c.bridged)
# Built once: every note lookup of a bank for its customer runs it.
_WALLET_BANKS: Final = select(_WALLETS.c.key, _WALLETS.c.bank).where(
    _WALLETS.c.key.in_(bindparam("keys", expanding=True)))


def key_registered() -> NodeError:
    """409 for a key registered already; whose it is stays unsaid, so a bank that tries keys
    learns nothing of who holds them."""
    return conflict("key_registered", "this key is registered already")


class CentralRecords:
    """The node tables a central bank keeps, in the ledger's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._upsert: Any = postgresql.insert if engine.dialect.name == "postgresql" else (
            sqlite.insert)

    # ---- participants ----------------------------------------------------------------------

    def participants(self) -> list[Participant]:
        """Every registered participant (the central bank itself is not among them)."""
        with self.engine.connect() as db:
            rows = db.execute(_PARTICIPANT_COLUMNS).all()
        return [_participant(*row) for row in rows]

    def participant_page(self, after: str, limit: int) -> list[Participant]:
        """A page of participants by name."""
        query = _PARTICIPANT_COLUMNS.where(_PARTICIPANTS.c.name > after).order_by(
            _PARTICIPANTS.c.name).limit(limit)
        with self.engine.connect() as db:
            rows = db.execute(query).all()
        return [_participant(*row) for row in rows]

    def register(self, participant: Participant) -> Participant:
        """Register a participant; the same registration again changes nothing, a name or key
        of another participant is a 409 `participant_exists`, a wallet's key a 409
        `key_registered`."""
        try:
            with self.engine.begin() as db:
                db.execute(_KEYS.insert().values(key=participant.key))
                db.execute(_PARTICIPANTS.insert().values(
                    key=participant.key, name=participant.name, role=participant.role,
                    bridged=",".join(sorted(participant.bridged)),
                    registered_at_s=int(time.time())))
        except IntegrityError:
            if participant in self.participants():
                return participant
            if self.wallet(participant.key) is not None:
                raise key_registered() from None
            raise conflict("participant_exists", "this name or key is registered to "
                           "another participant") from None
        return participant

    # ---- reserves --------------------------------------------------------------------------

    def deposit(self, bank: str, currency: str, amount_minor: int) -> int:
        """Add to a bank's deposits in `currency`; the new total."""
        statement = self._upsert(_RESERVES).values(bank=bank, currency=currency,
                                                   amount_minor=amount_minor)
        statement = statement.on_conflict_do_update(
            index_elements=["bank", "currency"],
            set_={"amount_minor": _RESERVES.c.amount_minor + statement.excluded.amount_minor})
        with self.engine.begin() as db:
            before = self._deposits(db, bank, currency)
            if before > RESERVES_MAX_MINOR - amount_minor:
                raise unprocessable("reserves_overflow", f"deposits above {RESERVES_MAX_MINOR} "
                                    "minor units do not fit")
            db.execute(statement)
            return self._deposits(db, bank, currency)

    def deposits(self, bank: str, currency: str) -> int:
        """What the bank has deposited in `currency` (0 if nothing)."""
        with self.engine.connect() as db:
            return self._deposits(db, bank, currency)

    @staticmethod
    def _deposits(db: Any, bank: str, currency: str) -> int:
        found = db.execute(select(func.coalesce(func.sum(_RESERVES.c.amount_minor), 0)).where(
            _RESERVES.c.bank == bank, _RESERVES.c.currency == currency)).scalar()
        return int(found or 0)

    # ---- wallets ---------------------------------------------------------------------------

    def register_wallet(self, wallet: RegisterWallet, bank: str) -> WalletRow:
        """Insert a wallet of `bank`, or update one it registered; a key registered otherwise
        (a participant's, another bank's customer's) is a 409 `key_registered`, an account or
        phone of another wallet a 409 `wallet_conflict`."""
        row = WalletRow(bank=bank, **wallet.model_dump())
        values = row.model_dump()
        # The key is claimed first, in the wallet's own transaction: of two registrations of
        # one key, the later claim finds the earlier one's (committed, or waited for until it
        # commits), and only a rollback of the earlier lets the later one in.
        # (RETURNING tells whether it inserted: psycopg counts no rows of an upsert.)
        claim = self._upsert(_KEYS).values(key=wallet.key).on_conflict_do_nothing(
            index_elements=["key"]).returning(_KEYS.c.key)
        try:
            with self.engine.begin() as db:
                if db.execute(claim).first() is not None:
                    db.execute(_WALLETS.insert().values(**values))
                elif db.execute(select(_WALLETS.c.bank).where(
                        _WALLETS.c.key == wallet.key)).scalar() == bank:
                    db.execute(_WALLETS.update().where(_WALLETS.c.key == wallet.key).values(
                        **values))
                else:
                    raise key_registered()
        except IntegrityError:
            raise conflict("wallet_conflict", "this account or phone belongs to another "
                           "wallet") from None
        return row

    def wallet(self, key: str) -> WalletRow | None:
        """The wallet with this key."""
        return self._one(_WALLETS.c.key == key)

    def find_wallet(self, *, account: str | None, phone: str | None) -> WalletRow | None:
        """The wallet with this account id, or else with this phone number."""
        if account is not None:
            return self._one(_WALLETS.c.account == account)
        return self._one(_WALLETS.c.phone == phone) if phone is not None else None

    def wallet_banks(self, keys: Collection[str]) -> dict[str, str]:
        """The bank of each wallet among `keys` that is registered."""
        wanted = list(keys)
        found: dict[str, str] = {}
        with self.engine.connect() as db:
            for start in range(0, len(wanted), IDS_PER_QUERY_MAX):
                rows = db.execute(_WALLET_BANKS,
                                  {"keys": wanted[start:start + IDS_PER_QUERY_MAX]})
                found.update((key, bank) for key, bank in rows)
        return found

    def _one(self, condition: Any) -> WalletRow | None:
        with self.engine.connect() as db:
            row = db.execute(select(_WALLETS).where(condition)).first()
        return WalletRow.model_validate(row._mapping) if row is not None else None


def _participant(key: str, name: str, role: str, bridged: str) -> Participant:
    return Participant(ParticipantId(key), name, role, frozenset(filter(None, bridged.split(","))))
