"""Migrations: a database made by an older Earmark upgrades in place and keeps its rows."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, inspect, text

from engine.migrate import alembic_config, upgrade


def test_a_database_at_the_first_schema_upgrades_to_the_newest(tmp_path: Path) -> None:
    """Create the 0001 schema, add a note, upgrade to head: the note is still there and the
    index of 0002 exists."""
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(text(
            "INSERT INTO notes VALUES ('n1', 'owner', 100, 'KZT', NULL, NULL, 0, 'tx')"))
    upgrade(engine)
    indexes = {index["name"] for index in inspect(engine).get_indexes("notes")}
    assert "notes_by_owner_and_token" in indexes
    with engine.connect() as connection:
        assert connection.execute(text("SELECT amount_minor FROM notes")).scalar() == 100
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == (
            "0002")
