"""hook job trigger, enqueued_at and sweeper indexes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 13:23:53.086121

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():

    with op.batch_alter_table('hook_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('trigger', sa.String(length=16), nullable=False, server_default='auto'))
        batch_op.create_index('ix_hook_jobs_finished', ['finished_at'], unique=False)
        batch_op.create_index('ix_hook_jobs_status_lease', ['status', 'lease_expires_at'], unique=False)




def downgrade():

    with op.batch_alter_table('hook_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_hook_jobs_status_lease')
        batch_op.drop_index('ix_hook_jobs_finished')
        batch_op.drop_column('trigger')
        batch_op.drop_column('enqueued_at')


