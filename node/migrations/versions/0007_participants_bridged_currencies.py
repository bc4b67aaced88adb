"""the currencies each FX provider may issue bridged tokens in

Revision ID: node0007
Revises: node0006

The central bank decides which FX provider may issue which bridged currencies; the notary reads
the decision from the registry (`engine.participants.Participant.bridged`). Stored as the ISO
4217 codes separated by commas, empty for every other participant.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'node0007'
down_revision: str | Sequence[str] | None = 'node0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add `participants.bridged`, empty for every participant registered before."""
    with op.batch_alter_table('participants') as batch:
        batch.add_column(sa.Column('bridged', sa.String(length=256), nullable=False,
                                   server_default=''))


def downgrade() -> None:
    """Drop the column."""
    with op.batch_alter_table('participants') as batch:
        batch.drop_column('bridged')
