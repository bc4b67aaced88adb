"""The node's migrations (`node/migrations`): they build exactly the tables `node.tables`
declares, and a database made by an older Earmark upgrades in place and keeps its rows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text

from engine.migrate import alembic_config, upgrade
from node.tables import FX_QUOTES, FX_SETTLEMENTS, HUB_PAYMENTS, HUB_QUOTES, NODE_METADATA

VERSION_TABLE = "node_alembic_version"


def test_the_migrations_build_the_declared_tables(tmp_path: Path) -> None:
    """Autogenerate finds nothing between the migrated schema and the models: a model changed
    without its migration fails here."""
    engine = create_engine(f"sqlite:///{tmp_path / 'node.db'}")
    upgrade(engine, "node")
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        assert compare_metadata(context, NODE_METADATA) == []


def migrate(engine: Engine, move: Callable[[Config, str], None], revision: str) -> None:
    """Run `move` (alembic's upgrade or downgrade) of the node's history to `revision`."""
    config = alembic_config("node")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        move(config, revision)


def test_a_database_at_0004_upgrades_and_keeps_its_records(tmp_path: Path) -> None:
    """An idempotency record stored before 0005 survives the upgrade, which adds the index
    pruning reads the oldest records by."""
    engine = create_engine(f"sqlite:///{tmp_path / 'node.db'}")
    migrate(engine, command.upgrade, "node0004")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO idempotency VALUES "
                                "('alice', 'k', 'digest', 201, 'application/json', x'7b7d', 5)"))
    upgrade(engine, "node")
    indexes = {index["name"] for index in inspect(engine).get_indexes("idempotency")}
    assert "idempotency_by_age" in indexes
    with engine.connect() as connection:
        assert connection.execute(text("SELECT key, created_at_s FROM idempotency")).all() == [
            ("k", 5)]


def test_hub_and_provider_tables_made_before_0006_are_kept(tmp_path: Path) -> None:
    """Before 0006 the hub and the providers created their tables themselves: such a database
    upgrades to the newest schema with its rows, and 0006 creates nothing twice."""
    engine = create_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    migrate(engine, command.upgrade, "node0005")
    NODE_METADATA.create_all(engine, tables=[HUB_QUOTES, HUB_PAYMENTS, FX_QUOTES,
                                             FX_SETTLEMENTS])
    with engine.begin() as connection:
        connection.execute(HUB_QUOTES.insert().values(id="q-1", requester="r", quote="{}",
                                                      destination="{}"))
    upgrade(engine, "node")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT id FROM hub_quotes")).all() == [("q-1",)]
        assert connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() == (
            ScriptDirectory.from_config(alembic_config("node")).get_current_head())


def test_reservations_stored_before_0008_get_their_source_deadline(tmp_path: Path) -> None:
    """A provider's reservation stored before 0008 gets the source deadline of its request, so
    it lapses as a new one does; 0008 adds the indexes its counts and the quotes' pruning
    read. Downgraded to 0007, the row is kept without them."""
    engine = create_engine(f"sqlite:///{tmp_path / 'fx.db'}")
    migrate(engine, command.upgrade, "node0007")
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO fx_settlements (payment_id, quote_id, requester, status, "
            "source_currency, source_minor, destination_currency, reserved_minor, "
            "accepted_at_s, request, code, detail) VALUES ('p-1', 'q-1', 'hub', 'accepted', "
            "'KHR', 100, 'THB', 5, 10, :request, '', '')"),
            {"request": b'{"source_deadline_s": 4000, "destination_deadline_s": 3700}'})
    upgrade(engine, "node")
    with engine.connect() as connection:
        assert connection.execute(text(
            "SELECT payment_id, source_deadline_s FROM fx_settlements")).all() == [("p-1", 4000)]
    schema = inspect(engine)
    assert "fx_quotes_by_age" in {i["name"] for i in schema.get_indexes("fx_quotes")}
    assert "fx_settlements_open_by_requester" in {
        i["name"] for i in schema.get_indexes("fx_settlements")}
    migrate(engine, command.downgrade, "node0007")
    schema = inspect(engine)
    assert "source_deadline_s" not in {c["name"] for c in schema.get_columns("fx_settlements")}
    with engine.connect() as connection:
        assert connection.execute(text("SELECT payment_id FROM fx_settlements")).all() == [
            ("p-1",)]


def test_0010_registers_each_key_once_and_drops_wallets_under_participants_keys(
        tmp_path: Path) -> None:
    """A database at 0009 where a bank had registered a participant's key as its customer's
    wallet: 0010 deletes that wallet (it only let the bank read the participant's data), keeps
    the others, and lists every participant's and wallet's key once in `registered_keys`."""
    engine = create_engine(f"sqlite:///{tmp_path / 'central.db'}")
    migrate(engine, command.upgrade, "node0009")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO participants (key, name, role, registered_at_s) "
                                "VALUES ('f1', 'acleda-fx', 'fx_provider', 1), "
                                "('b1', 'aba', 'bank', 1)"))
        connection.execute(text(
            "INSERT INTO wallets (key, account, bank, display_name, role, kyc, mcc, region) "
            "VALUES ('f1', 'fx@aba', 'aba', 'F', 'individual', 1, 0, ''), "
            "('c1', 'carol@aba', 'aba', 'C', 'individual', 1, 0, '')"))
    upgrade(engine, "node")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT key FROM wallets")).all() == [("c1",)]
        assert sorted(connection.execute(text("SELECT key FROM registered_keys")).all()) == [
            ("b1",), ("c1",), ("f1",)]


def test_the_newest_schema_downgrades_to_0004(tmp_path: Path) -> None:
    """The downgrades from the newest to 0005 run: the registered keys, the hub's and
    providers' tables and the index by age are gone again."""
    engine = create_engine(f"sqlite:///{tmp_path / 'node.db'}")
    upgrade(engine, "node")
    migrate(engine, command.downgrade, "node0004")
    schema = inspect(engine)
    assert not {"registered_keys", "hub_quotes", "hub_payments", "fx_quotes",
                "fx_settlements"} & set(schema.get_table_names())
    assert "idempotency_by_age" not in {i["name"] for i in schema.get_indexes("idempotency")}
