"""payments keep the refusing rule

Revision ID: node0002
Revises: node0001

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'node0002'
down_revision: str | Sequence[str] | None = 'node0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add `payments.rule`: the contract rule that refused a payment, as JSON ('' if none)."""
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rule', sa.Text(), nullable=False, server_default=''))


def downgrade() -> None:
    """Drop `payments.rule`."""
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_column('rule')
