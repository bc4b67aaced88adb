"""idempotency records by age

Revision ID: node0005
Revises: node0004

Idempotency records are pruned once older than their retention (`node.idempotency`), oldest
first: the index finds them without reading the whole table.
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'node0005'
down_revision: str | Sequence[str] | None = 'node0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index `idempotency.created_at_s`."""
    op.create_index('idempotency_by_age', 'idempotency', ['created_at_s'])


def downgrade() -> None:
    """Drop the index."""
    op.drop_index('idempotency_by_age', table_name='idempotency')
