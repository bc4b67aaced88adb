"""the hub's and the FX providers' tables under migration

Revision ID: node0006
Revises: node0005

The hub's quotes and payments and an FX provider's quotes and settlements were created by their
stores (`create_all`) outside this history, so no later schema could reach a database that had
them. They are now node tables: this revision creates each one a database lacks, and leaves
alone those an earlier Earmark created, which have the same columns.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'node0006'
down_revision: str | Sequence[str] | None = 'node0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ('hub_quotes', 'hub_payments', 'fx_quotes', 'fx_settlements')


def upgrade() -> None:
    """Create the tables a database lacks."""
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if 'hub_quotes' not in existing:
        op.create_table(
            'hub_quotes',
            sa.Column('id', sa.Text(), primary_key=True),
            sa.Column('requester', sa.Text(), nullable=False),
            sa.Column('quote', sa.Text(), nullable=False),
            sa.Column('destination', sa.Text(), nullable=False))
    if 'hub_payments' not in existing:
        op.create_table(
            'hub_payments',
            sa.Column('id', sa.Text(), primary_key=True),
            sa.Column('quote_id', sa.Text(), nullable=False, unique=True),
            *[sa.Column(name, sa.Text(), nullable=False) for name in (
                'sender', 'stage', 'status', 'preimage', 'hashlock')],
            sa.Column('source_deadline_s', sa.BigInteger(), nullable=False),
            sa.Column('destination_deadline_s', sa.BigInteger(), nullable=False),
            *[sa.Column(name, sa.Text(), nullable=False) for name in (
                'pay_to', 'source_tx_id', 'destination_note_id', 'code', 'detail')],
            sa.Column('created_at_s', sa.BigInteger(), nullable=False),
            sa.Column('updated_at_s', sa.BigInteger(), nullable=False))
    if 'fx_quotes' not in existing:
        op.create_table(
            'fx_quotes',
            sa.Column('id', sa.Text(), primary_key=True),
            sa.Column('requester', sa.Text(), nullable=False),
            sa.Column('created_at_s', sa.BigInteger(), nullable=False),
            sa.Column('expires_at_s', sa.BigInteger(), nullable=False),
            sa.Column('body', sa.LargeBinary(), nullable=False))
    if 'fx_settlements' not in existing:
        op.create_table(
            'fx_settlements',
            sa.Column('payment_id', sa.Text(), primary_key=True),
            sa.Column('quote_id', sa.Text(), nullable=False, unique=True),
            *[sa.Column(name, sa.Text(), nullable=False) for name in (
                'requester', 'status', 'source_currency')],
            sa.Column('source_minor', sa.BigInteger(), nullable=False),
            sa.Column('destination_currency', sa.Text(), nullable=False),
            sa.Column('reserved_minor', sa.BigInteger(), nullable=False),
            sa.Column('accepted_at_s', sa.BigInteger(), nullable=False),
            sa.Column('request', sa.LargeBinary(), nullable=False),
            sa.Column('source_note_id', sa.Text(), unique=True),
            sa.Column('destination_signed', sa.LargeBinary()),
            sa.Column('destination_note_id', sa.Text()),
            sa.Column('preimage', sa.Text()),
            sa.Column('code', sa.Text(), nullable=False),
            sa.Column('detail', sa.Text(), nullable=False))


def downgrade() -> None:
    """Drop the four tables (with what they hold)."""
    for table in reversed(_TABLES):
        op.drop_table(table)
