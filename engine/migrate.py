"""Schema migrations (alembic): bring a database to the newest schema before it is used."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine


def alembic_config() -> Config:
    """The alembic configuration of the ledger's migrations (no ini file needed)."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("engine") / "migrations"))
    return config


def upgrade(engine: Engine) -> None:
    """Apply every migration the database does not have yet."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def new_revision(engine: Engine, message: str) -> None:
    """Write a migration for what the models have and the database lacks (developers only)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
