"""the EVM bridge's tables

Revision ID: node0003
Revises: node0002

A bridge keeps its cursor on the chain, its deposits (each with the signed ledger issue that
credits it) and the notes paid to it (withdrawals and inventory) so that a restart resumes
without crediting or paying anything twice.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision: str = 'node0003'
down_revision: str | Sequence[str] | None = 'node0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the bridge's tables."""
    op.create_table(
        'bridge_cursor',
        sa.Column('name', AutoString(length=32), nullable=False),
        sa.Column('block', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    op.create_table(
        'bridge_deposits',
        sa.Column('id', AutoString(length=80), nullable=False),
        sa.Column('block', sa.BigInteger(), nullable=False),
        sa.Column('depositor', AutoString(length=42), nullable=False),
        sa.Column('owner', AutoString(length=64), nullable=False),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.Column('status', AutoString(length=16), nullable=False),
        sa.Column('tx_id', AutoString(length=64), nullable=False),
        sa.Column('signed', sa.LargeBinary(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_bridge_deposits_status', 'bridge_deposits', ['status'])
    op.create_table(
        'bridge_notes',
        sa.Column('note_id', AutoString(length=64), nullable=False),
        sa.Column('receiver', AutoString(length=42), nullable=False),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.Column('status', AutoString(length=16), nullable=False),
        sa.Column('tx_id', AutoString(length=64), nullable=False),
        sa.Column('signed', sa.LargeBinary(), nullable=False),
        sa.Column('chain_tx', AutoString(length=66), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('note_id'),
    )
    op.create_index('ix_bridge_notes_status', 'bridge_notes', ['status'])


def downgrade() -> None:
    """Drop the bridge's tables."""
    op.drop_index('ix_bridge_notes_status', table_name='bridge_notes')
    op.drop_table('bridge_notes')
    op.drop_index('ix_bridge_deposits_status', table_name='bridge_deposits')
    op.drop_table('bridge_deposits')
    op.drop_table('bridge_cursor')
