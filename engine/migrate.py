"""Schema migrations (alembic): bring a database to the newest schema before it is used.

A package with tables of its own keeps its alembic history in `<package>/migrations`: the
ledger's is `engine`'s; the node's services keep theirs in `node` (with its own version table),
and use these same functions with their package's name.
"""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine


def alembic_config(package: str = "engine") -> Config:
    """The alembic configuration of `package`'s migrations (no ini file needed)."""
    config = Config()
    config.set_main_option("script_location", str(resources.files(package) / "migrations"))
    return config


def upgrade(engine: Engine, package: str = "engine") -> None:
    """Apply every migration of `package` the database does not have yet."""
    config = alembic_config(package)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def new_revision(engine: Engine, message: str, package: str = "engine") -> None:
    """Write a migration for what the models have and the database lacks (developers only)."""
    config = alembic_config(package)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
