"""a key is registered once: as a participant or as one bank's customer

Revision ID: node0010
Revises: node0009

`registered_keys` holds every key the central bank registered, participants' and wallets'; its
primary key makes the database refuse a second registration of a key, however the two race.
A wallet registered under a participant's key before this rule was no customer of its bank: it
only let that bank read the participant's notes, balances and transactions (issue 21), so the
upgrade deletes such wallets before it fills the table. The downgrade drops the table; the
deleted wallets do not come back.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision: str = 'node0010'
down_revision: str | Sequence[str] | None = 'node0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PARTICIPANTS = sa.table('participants', sa.column('key'))
_WALLETS = sa.table('wallets', sa.column('key'))


def upgrade() -> None:
    """Create `registered_keys` with the participants' keys and the wallets' (those under a
    participant's key deleted first)."""
    keys = op.create_table(
        'registered_keys',
        sa.Column('key', AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint('key'))
    participant_keys = sa.select(_PARTICIPANTS.c.key)
    op.execute(_WALLETS.delete().where(_WALLETS.c.key.in_(participant_keys)))
    op.execute(keys.insert().from_select(['key'], participant_keys))
    op.execute(keys.insert().from_select(['key'], sa.select(_WALLETS.c.key)))


def downgrade() -> None:
    """Drop `registered_keys`."""
    op.drop_table('registered_keys')
