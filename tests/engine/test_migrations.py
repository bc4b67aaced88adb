"""Migrations: a database made by an older Earmark upgrades in place and keeps its rows."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from engine.migrate import alembic_config, upgrade


def test_a_database_at_the_first_schema_upgrades_to_the_newest(tmp_path: Path) -> None:
    """Create the 0001 schema, add a note and a committed transaction, upgrade to head: both
    rows are still there, the owner-and-token index of 0002 exists, the redundant owner index
    and the journal table of 0001 are gone, and endorsements can be stored."""
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(text(
            "INSERT INTO notes VALUES ('n1', 'owner', 100, 'KZT', NULL, NULL, 0, 'tx')"))
        connection.execute(text(
            "INSERT INTO transactions VALUES ('tx', x'00', 'committed', '', 0)"))
    upgrade(engine)
    schema = inspect(engine)
    indexes = {index["name"] for index in schema.get_indexes("notes")}
    assert indexes == {"notes_by_owner_and_token"}
    assert "journal" not in schema.get_table_names()
    assert "endorsements" in schema.get_table_names()
    assert "endorsement" in {column["name"] for column in schema.get_columns("transactions")}
    head = ScriptDirectory.from_config(config).get_current_head()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT amount_minor FROM notes")).scalar() == 100
        assert connection.execute(text("SELECT endorsement FROM transactions")).all() == [(None,)]
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == (
            head)
    assert {"lock_digest", "lock_refund_to", "lock_deadline_s"} <= {
        column["name"] for column in schema.get_columns("notes")}
    assert head == "0004"


def test_the_newest_schema_downgrades_to_the_first(tmp_path: Path) -> None:
    """Every migration's downgrade runs: head → 0001 gives back the journal and owner index."""
    engine = create_engine(f"sqlite:///{tmp_path / 'new.db'}")
    upgrade(engine)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    schema = inspect(engine)
    assert "journal" in schema.get_table_names()
    assert "endorsements" not in schema.get_table_names()
    assert {index["name"] for index in schema.get_indexes("notes")} == {"ix_notes_owner"}
