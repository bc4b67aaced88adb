"""Alembic environment of the node's tables: runs on the connection `node.database` hands over."""

from __future__ import annotations

from alembic import context

from node.tables import NODE_METADATA

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through node.database.upgrade")
context.configure(connection=connection, target_metadata=NODE_METADATA, render_as_batch=True,
                  version_table="node_alembic_version")
with context.begin_transaction():
    context.run_migrations()
