"""The central bank's wallet directory as the notary reads it: cached, bounded, never stale.

Method: a node database with wallets written straight into its table (as `register_wallet`
does), read through `WalletDirectory`; a change written behind the cache is seen once the
service `forget`s the key, and a read racing a `forget` does not fill the cache with what it
read before.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from engine.ids import ParticipantId
from node.central_directory import WalletDirectory
from node.database import open_database
from node.tables import WalletRow

_WALLETS = WalletRow.__table__  # type: ignore[attr-defined]


def _key(index: int) -> ParticipantId:
    return ParticipantId(f"{index:064x}")


def _register(engine: Engine, index: int, kyc: int) -> None:
    with engine.begin() as db:
        db.execute(_WALLETS.delete().where(_WALLETS.c.key == _key(index)))
        db.execute(_WALLETS.insert().values(
            key=_key(index), account=f"w{index}@aba", phone=None, bank="aba",
            display_name="W", role="individual", kyc=kyc, mcc=0, region=""))


def test_registrations_are_read_then_cached_until_forgotten(tmp_path: Path) -> None:
    """A registered key is found with its facts, an unregistered one is not; a later change
    is served only after `forget`."""
    engine = open_database(f"sqlite:///{tmp_path / 'central.db'}")
    _register(engine, 1, kyc=1)
    directory = WalletDirectory(engine)
    found = directory.customers([_key(1), _key(2)])
    assert list(found) == [_key(1)] and found[_key(1)].kyc == 1
    assert found[_key(1)].account == "w1@aba" and found[_key(1)].bank == "aba"
    _register(engine, 1, kyc=3)
    assert directory.customers([_key(1)])[_key(1)].kyc == 1  # cached
    directory.forget(_key(1))
    assert directory.customers([_key(1)])[_key(1)].kyc == 3


def test_a_read_that_began_before_a_forget_does_not_fill_the_cache(tmp_path: Path) -> None:
    """The read of tier 1 races a registration of tier 2 (its forget lands mid-read): the
    answer may be tier 1, but the next read sees tier 2."""
    engine = open_database(f"sqlite:///{tmp_path / 'central.db'}")
    _register(engine, 1, kyc=1)
    directory = WalletDirectory(engine)
    read = directory._read

    def racing(keys: list[ParticipantId]) -> dict[ParticipantId, object]:
        found = read(keys)
        _register(engine, 1, kyc=2)
        directory.forget(_key(1))
        return found  # type: ignore[return-value]

    directory._read = racing  # type: ignore[method-assign]
    assert directory.customers([_key(1)])[_key(1)].kyc == 1
    directory._read = read  # type: ignore[method-assign]
    assert directory.customers([_key(1)])[_key(1)].kyc == 2


def test_the_cache_keeps_at_most_its_bound(tmp_path: Path) -> None:
    """Past `cached_max` the least recently read registration is dropped (and read again)."""
    engine = open_database(f"sqlite:///{tmp_path / 'central.db'}")
    for index in range(5):
        _register(engine, index, kyc=1)
    directory = WalletDirectory(engine, cached_max=3)
    directory.customers([_key(i) for i in range(5)])
    assert len(directory._cached) == 3
    assert set(directory._cached) == {_key(2), _key(3), _key(4)}
