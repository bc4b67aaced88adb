"""The node's database: the services' tables migrated to the newest schema, on the same engine
set-up as the ledger's (a central node keeps both in one database)."""

from __future__ import annotations

from sqlalchemy import Engine

from engine.migrate import upgrade
from engine.store import connect


def open_database(url: str) -> Engine:
    """An engine on `url` with the node's tables at the newest schema (`node/migrations`)."""
    engine = connect(url)
    upgrade(engine, "node")
    return engine
