"""the hub counts each sender's open orders by an index

Revision ID: node0009
Revises: node0008

A sender holds at most `OPEN_ORDERS_PER_SENDER_MAX` orders whose source is not locked yet and
whose source deadline is ahead (`node.hub_store`); every order counts its sender's by this
index on `hub_payments` (sender, stage, source deadline), in the write that inserts it.

A database that has the index already (a hub store that made its tables from these very
declarations) is left alone.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'node0009'
down_revision: str | Sequence[str] | None = 'node0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEX = 'hub_payments_open_by_sender'


def upgrade() -> None:
    """Add the index by sender, stage and source deadline."""
    if _INDEX not in {i['name'] for i in sa.inspect(op.get_bind()).get_indexes('hub_payments')}:
        op.create_index(_INDEX, 'hub_payments', ['sender', 'stage', 'source_deadline_s'])


def downgrade() -> None:
    """Drop the index."""
    op.drop_index(_INDEX, table_name='hub_payments')
