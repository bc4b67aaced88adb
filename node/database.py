"""The node's database: the services' tables migrated to the newest schema, on the same engine
set-up as the ledger's (a central node keeps both in one database)."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from engine.store import connect


def alembic_config() -> Config:
    """The alembic configuration of the node's migrations (no ini file needed)."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("node") / "migrations"))
    return config


def upgrade(engine: Engine) -> None:
    """Apply every node migration the database does not have yet."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_database(url: str) -> Engine:
    """An engine on `url` with the node's tables at the newest schema."""
    engine = connect(url)
    upgrade(engine)
    return engine


def new_revision(engine: Engine, message: str) -> None:
    """Write a migration for what the models have and the database lacks (developers only)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
