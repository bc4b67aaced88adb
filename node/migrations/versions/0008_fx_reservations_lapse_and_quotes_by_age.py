"""FX providers: reservations lapse at their source deadline; quotes are pruned by age

Revision ID: node0008
Revises: node0007

A reservation whose source was never locked stops counting against the provider's liquidity at
its source deadline, and a hub holds only so many open reservations at once
(`node.fx_settlement_store`): both read `fx_settlements.source_deadline_s`, copied here from
each stored request, and the index by requester, status and deadline counts a hub's. An FX
provider's quotes are pruned once older than their retention (`node.fx_provider`), oldest first,
by the index on `fx_quotes.created_at_s`.

What a database has already is left alone: 0006 keeps provider tables that a store made itself
from these very declarations, which have the column and the indexes.
"""
from collections.abc import Sequence

import orjson
import sqlalchemy as sa
from alembic import op

revision: str = 'node0008'
down_revision: str | Sequence[str] | None = 'node0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SETTLEMENTS = sa.table('fx_settlements', sa.column('payment_id', sa.Text()),
                        sa.column('request', sa.LargeBinary()),
                        sa.column('source_deadline_s', sa.BigInteger()))
_INDEXES = {'fx_quotes_by_age': ('fx_quotes', ['created_at_s']),
            'fx_settlements_open_by_requester': (
                'fx_settlements', ['requester', 'status', 'source_deadline_s'])}


def upgrade() -> None:
    """Add `fx_settlements.source_deadline_s`, filled from each request, and the indexes."""
    bind = op.get_bind()
    schema = sa.inspect(bind)
    if 'source_deadline_s' not in {c['name'] for c in schema.get_columns('fx_settlements')}:
        op.add_column('fx_settlements', sa.Column('source_deadline_s', sa.BigInteger()))
        for payment_id, request in bind.execute(
                sa.select(_SETTLEMENTS.c.payment_id, _SETTLEMENTS.c.request)).all():
            bind.execute(_SETTLEMENTS.update()
                         .where(_SETTLEMENTS.c.payment_id == payment_id)
                         .values(source_deadline_s=orjson.loads(request)['source_deadline_s']))
        with op.batch_alter_table('fx_settlements') as batch:
            batch.alter_column('source_deadline_s', existing_type=sa.BigInteger(),
                               nullable=False)
    for name, (table, columns) in _INDEXES.items():
        if name not in {index['name'] for index in schema.get_indexes(table)}:
            op.create_index(name, table, columns)


def downgrade() -> None:
    """Drop the indexes and the column."""
    for name, (table, _columns) in _INDEXES.items():
        op.drop_index(name, table_name=table)
    with op.batch_alter_table('fx_settlements') as batch:
        batch.drop_column('source_deadline_s')
