"""hashed timelocks on notes

Revision ID: 0004
Revises: 0003

A note may be one leg of a swap (engine.model.HashLock): its owner claims it with a preimage
before a deadline, and its refund party takes it back after. Existing notes have no lock.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lock_digest', AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('lock_refund_to', AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('lock_deadline_s', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.drop_column('lock_deadline_s')
        batch_op.drop_column('lock_refund_to')
        batch_op.drop_column('lock_digest')
