"""The central bank's directory of customers, as the notary reads it: the wallets that banks
registered (`node.tables.WalletRow`), turned into `engine.participants.Customer` values.

The notary asks once per batch for every key the batch names, so one query (an IN-list, chunked
under the store's parameter limit) serves a whole batch.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Final

from sqlalchemy import Engine, bindparam, select

from engine.ids import ParticipantId
from engine.participants import Customer
from engine.store import IDS_PER_QUERY_MAX
from node.tables import WalletRow

_WALLETS = WalletRow.__table__  # type: ignore[attr-defined]
_BY_KEYS: Final = select(_WALLETS.c.key, _WALLETS.c.account, _WALLETS.c.bank, _WALLETS.c.role,
                         _WALLETS.c.kyc, _WALLETS.c.region, _WALLETS.c.mcc).where(
    _WALLETS.c.key.in_(bindparam("keys", expanding=True)))


class WalletDirectory:
    """An `engine.participants.Directory` over the central bank's wallet registrations."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def customers(self, keys: Collection[ParticipantId]) -> Mapping[ParticipantId, Customer]:
        """The registered customers among `keys`."""
        wanted = list(keys)
        found: dict[ParticipantId, Customer] = {}
        with self.engine.connect() as db:
            for start in range(0, len(wanted), IDS_PER_QUERY_MAX):
                rows = db.execute(_BY_KEYS, {"keys": wanted[start:start + IDS_PER_QUERY_MAX]})
                for key, account, bank, role, kyc, region, mcc in rows:
                    found[ParticipantId(key)] = Customer(ParticipantId(key), account, bank, role,
                                                         int(kyc), region, int(mcc))
        return found
