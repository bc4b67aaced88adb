"""The central bank's directory of customers, as the notary reads it: the wallets that banks
registered (`node.tables.WalletRow`), turned into `engine.participants.Customer` values.

The notary asks once per batch for every key the batch names. Registrations are kept in a
bounded cache in front of one query (an IN-list, chunked under the store's parameter limit) for
the keys not cached: a registration changes only through this service, which calls `forget`
after writing it, so the cache never serves a registration older than the last write — a read
that began before a `forget` does not fill the cache (the generation counter says so).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection, Mapping
from typing import Final

from sqlalchemy import Engine, bindparam, select

from engine.ids import ParticipantId
from engine.participants import Customer
from engine.store import IDS_PER_QUERY_MAX
from node.tables import WalletRow

WALLETS_CACHED_MAX: Final = 100_000  # registrations kept in memory (a few hundred bytes each)
_WALLETS = WalletRow.__table__  # type: ignore[attr-defined]
_BY_KEYS: Final = select(_WALLETS.c.key, _WALLETS.c.account, _WALLETS.c.bank, _WALLETS.c.role,
                         _WALLETS.c.kyc, _WALLETS.c.region, _WALLETS.c.mcc).where(
    _WALLETS.c.key.in_(bindparam("keys", expanding=True)))


class WalletDirectory:
    """An `engine.participants.Directory` over the central bank's wallet registrations."""

    def __init__(self, engine: Engine, cached_max: int = WALLETS_CACHED_MAX) -> None:
        self.engine = engine
        self.cached_max = cached_max
        self._cached: OrderedDict[ParticipantId, Customer] = OrderedDict()
        self._generation = 0
        self._lock = threading.Lock()

    def customers(self, keys: Collection[ParticipantId]) -> Mapping[ParticipantId, Customer]:
        """The registered customers among `keys`."""
        found: dict[ParticipantId, Customer] = {}
        with self._lock:
            generation = self._generation
            for key in keys:
                if (customer := self._cached.get(key)) is not None:
                    self._cached.move_to_end(key)
                    found[key] = customer
        missing = [key for key in keys if key not in found]
        read = self._read(missing) if missing else {}
        with self._lock:
            if generation == self._generation:
                self._remember(read)
        return found | read

    def forget(self, key: str) -> None:
        """Drop `key`'s cached registration: call it after writing one."""
        with self._lock:
            self._generation += 1
            self._cached.pop(ParticipantId(key), None)

    def _remember(self, read: Mapping[ParticipantId, Customer]) -> None:
        self._cached.update(read)
        while len(self._cached) > self.cached_max:
            self._cached.popitem(last=False)

    def _read(self, keys: list[ParticipantId]) -> dict[ParticipantId, Customer]:
        found: dict[ParticipantId, Customer] = {}
        with self.engine.connect() as db:
            for start in range(0, len(keys), IDS_PER_QUERY_MAX):
                rows = db.execute(_BY_KEYS, {"keys": keys[start:start + IDS_PER_QUERY_MAX]})
                for key, account, bank, role, kyc, region, mcc in rows:
                    found[ParticipantId(key)] = Customer(ParticipantId(key), account, bank, role,
                                                         int(kyc), region, int(mcc))
        return found
