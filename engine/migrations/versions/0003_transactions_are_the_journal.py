"""transactions are the journal; bank endorsements; one index on note owners

Revision ID: 0003
Revises: 0002

The `journal` table wrote one row per note created or spent; the committed transactions' bodies
already say all of it, so `earmark ledger verify` now replays those and the table goes (it held
nothing the bodies do not). Banks may co-sign a batch at once (`endorsements`). `ix_notes_owner`
is covered by `notes_by_owner_and_token` and only slowed every insert.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision: str = '0003'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'endorsements',
        sa.Column('digest', AutoString(length=64), nullable=False),
        sa.Column('signer', AutoString(length=64), nullable=False),
        sa.Column('signature', sa.LargeBinary(), nullable=False),
        sa.Column('tx_ids', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('digest'),
    )
    with op.batch_alter_table('transactions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('endorsement', AutoString(length=64),
                                      nullable=True))
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notes_owner'))
    with op.batch_alter_table('journal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_journal_tx_id'))
    op.drop_table('journal')


def downgrade() -> None:
    """Downgrade schema (the journal comes back empty: rebuild it from the transactions)."""
    op.create_table(
        'journal',
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('tx_id', AutoString(length=64), nullable=False),
        sa.Column('note_id', AutoString(length=64), nullable=False),
        sa.Column('owner', AutoString(length=64), nullable=False),
        sa.Column('currency', AutoString(length=3), nullable=False),
        sa.Column('token', AutoString(length=200), nullable=False),
        sa.Column('delta_minor', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('seq'),
    )
    with op.batch_alter_table('journal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_journal_tx_id'), ['tx_id'], unique=False)
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notes_owner'), ['owner'], unique=False)
    with op.batch_alter_table('transactions', schema=None) as batch_op:
        batch_op.drop_column('endorsement')
    op.drop_table('endorsements')
