"""Alembic environment: runs migrations on the connection `engine.migrate` hands over."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import engine.tables  # noqa: F401 - registers the models on SQLModel.metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through engine.migrate.upgrade")
context.configure(connection=connection, target_metadata=SQLModel.metadata,
                  render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
