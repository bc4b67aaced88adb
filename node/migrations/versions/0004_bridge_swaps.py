"""the EVM bridge's swaps

Revision ID: node0004
Revises: node0003

A bridge keeps each hashed-timelock swap with its terms (hashlock, both deadlines, the chain
swap id) before it locks anything, and the signed ledger lock of a swap from the chain before it
submits it, so that a restart finishes every swap without locking twice.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision: str = 'node0004'
down_revision: str | Sequence[str] | None = 'node0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the swaps table."""
    op.create_table(
        'bridge_swaps',
        sa.Column('id', AutoString(length=64), nullable=False),
        sa.Column('direction', AutoString(length=3), nullable=False),
        sa.Column('hashlock', AutoString(length=64), nullable=False),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.Column('evm_party', AutoString(length=42), nullable=False),
        sa.Column('ledger_party', AutoString(length=64), nullable=False),
        sa.Column('ledger_deadline_s', sa.BigInteger(), nullable=False),
        sa.Column('chain_deadline_s', sa.BigInteger(), nullable=False),
        sa.Column('chain_swap', AutoString(length=64), nullable=False),
        sa.Column('chain_block', sa.BigInteger(), nullable=False),
        sa.Column('ledger_note', AutoString(length=64), nullable=False),
        sa.Column('status', AutoString(length=16), nullable=False),
        sa.Column('tx_id', AutoString(length=64), nullable=False),
        sa.Column('signed', sa.LargeBinary(), nullable=False),
        sa.Column('preimage', AutoString(length=64), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_bridge_swaps_status', 'bridge_swaps', ['status'])


def downgrade() -> None:
    """Drop the swaps table."""
    op.drop_index('ix_bridge_swaps_status', table_name='bridge_swaps')
    op.drop_table('bridge_swaps')
