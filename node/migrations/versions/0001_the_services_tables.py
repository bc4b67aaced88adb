"""the services tables

Revision ID: node0001
Revises: (none: the first schema of the services)

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

# revision identifiers, used by Alembic.
revision: str = 'node0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('customers',
    sa.Column('account', AutoString(length=160), nullable=False),
    sa.Column('key', AutoString(length=64), nullable=False),
    sa.Column('display_name', AutoString(length=128), nullable=False),
    sa.Column('role', AutoString(length=16), nullable=False),
    sa.Column('mcc', sa.Integer(), nullable=False),
    sa.Column('phone', AutoString(length=20), nullable=True),
    sa.Column('kyc_tier', sa.Integer(), nullable=False),
    sa.Column('region', AutoString(length=32), nullable=False),
    sa.Column('created_at_s', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('account'),
    sa.UniqueConstraint('key'),
    sa.UniqueConstraint('phone')
    )
    op.create_table('idempotency',
    sa.Column('caller', AutoString(length=64), nullable=False),
    sa.Column('key', AutoString(length=128), nullable=False),
    sa.Column('request_sha256', AutoString(length=64), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('media_type', AutoString(length=64), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('created_at_s', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('caller', 'key')
    )
    op.create_table('participants',
    sa.Column('key', AutoString(length=64), nullable=False),
    sa.Column('name', AutoString(length=128), nullable=False),
    sa.Column('role', AutoString(length=16), nullable=False),
    sa.Column('registered_at_s', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('key'),
    sa.UniqueConstraint('name')
    )
    op.create_table('payments',
    sa.Column('id', AutoString(length=36), nullable=False),
    sa.Column('account', AutoString(length=160), nullable=False),
    sa.Column('kind', AutoString(length=16), nullable=False),
    sa.Column('counterparty', AutoString(length=160), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', AutoString(length=3), nullable=False),
    sa.Column('token', AutoString(length=200), nullable=False),
    sa.Column('status', AutoString(length=16), nullable=False),
    sa.Column('tx_id', AutoString(length=64), nullable=False),
    sa.Column('code', AutoString(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('day', AutoString(length=10), nullable=False),
    sa.Column('transaction', sa.LargeBinary(), nullable=False),
    sa.Column('created_at_s', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_tx_id'), ['tx_id'], unique=False)
        batch_op.create_index('payments_by_account_and_day', ['account', 'currency', 'day'],
                              unique=False)
        batch_op.create_index('payments_by_account_and_time', ['account', 'created_at_s'],
                              unique=False)

    op.create_table('reserves',
    sa.Column('bank', AutoString(length=128), nullable=False),
    sa.Column('currency', AutoString(length=3), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('bank', 'currency')
    )
    op.create_table('wallets',
    sa.Column('key', AutoString(length=64), nullable=False),
    sa.Column('account', AutoString(length=160), nullable=False),
    sa.Column('phone', AutoString(length=20), nullable=True),
    sa.Column('bank', AutoString(length=128), nullable=False),
    sa.Column('display_name', AutoString(length=128), nullable=False),
    sa.Column('role', AutoString(length=16), nullable=False),
    sa.Column('kyc', sa.Integer(), nullable=False),
    sa.Column('mcc', sa.Integer(), nullable=False),
    sa.Column('region', AutoString(length=32), nullable=False),
    sa.PrimaryKeyConstraint('key'),
    sa.UniqueConstraint('account'),
    sa.UniqueConstraint('phone')
    )
    with op.batch_alter_table('wallets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wallets_bank'), ['bank'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('wallets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wallets_bank'))

    op.drop_table('wallets')
    op.drop_table('reserves')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('payments_by_account_and_time')
        batch_op.drop_index('payments_by_account_and_day')
        batch_op.drop_index(batch_op.f('ix_payments_tx_id'))

    op.drop_table('payments')
    op.drop_table('participants')
    op.drop_table('idempotency')
    op.drop_table('customers')
