"""rejected notifications: registry events the receiver kept aside, with their reason

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 03:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('rejected_notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('dedupe_key', sa.String(length=80), nullable=False),
    sa.Column('registry_event_id', sa.String(length=64), nullable=True),
    sa.Column('registry_request_id', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=1024), nullable=False),
    sa.Column('event', sa.Text(), nullable=False),
    sa.Column('event_truncated', sa.Boolean(), nullable=False),
    sa.Column('source_address', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rejected_notifications')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_rejected_notifications_dedupe_key'))
    )
    with op.batch_alter_table('rejected_notifications', schema=None) as batch_op:
        batch_op.create_index('ix_rejected_notifications_received', ['received_at', 'id'], unique=False)




def downgrade():

    with op.batch_alter_table('rejected_notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_rejected_notifications_received')

    op.drop_table('rejected_notifications')

