"""The node's migrations (`node/migrations`): they build exactly the tables `node.tables`
declares, and a database made by an older Earmark upgrades in place and keeps its rows."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from engine.migrate import alembic_config, upgrade
from node.tables import NODE_METADATA

VERSION_TABLE = "node_alembic_version"


def test_the_migrations_build_the_declared_tables(tmp_path: Path) -> None:
    """Autogenerate finds nothing between the migrated schema and the models: a model changed
    without its migration fails here."""
    engine = create_engine(f"sqlite:///{tmp_path / 'node.db'}")
    upgrade(engine, "node")
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        assert compare_metadata(context, NODE_METADATA) == []


def test_a_database_at_0004_upgrades_and_keeps_its_records(tmp_path: Path) -> None:
    """An idempotency record stored before 0005 survives the upgrade, which adds the index
    pruning reads the oldest records by."""
    engine = create_engine(f"sqlite:///{tmp_path / 'node.db'}")
    config = alembic_config("node")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "node0004")
        connection.execute(text("INSERT INTO idempotency VALUES "
                                "('alice', 'k', 'digest', 201, 'application/json', x'7b7d', 5)"))
    upgrade(engine, "node")
    indexes = {index["name"] for index in inspect(engine).get_indexes("idempotency")}
    assert "idempotency_by_age" in indexes
    with engine.connect() as connection:
        assert connection.execute(text("SELECT key, created_at_s FROM idempotency")).all() == [
            ("k", 5)]
