"""webhook policies, configurations, hook jobs and attempts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 13:13:15.661302

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('configurations',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('update_time', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_configurations'))
    )
    op.create_table('webhook_policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('event_types', sa.JSON(), nullable=False),
    sa.Column('targets', sa.JSON(), nullable=False),
    sa.Column('creator', sa.String(length=255), nullable=False),
    sa.Column('creation_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('update_time', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_webhook_policies_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_policies')),
    sa.UniqueConstraint('project_id', 'name', name='uq_webhook_policies_project_name')
    )
    op.create_table('hook_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=True),
    sa.Column('policy_name', sa.String(length=256), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('notify_type', sa.String(length=16), nullable=False),
    sa.Column('target_index', sa.Integer(), nullable=False),
    sa.Column('target', sa.JSON(), nullable=False),
    sa.Column('content_type', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempt_count', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('final_reason', sa.Text(), nullable=False),
    sa.Column('creation_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('update_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_hook_jobs_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['policy_id'], ['webhook_policies.id'], name=op.f('fk_hook_jobs_policy_id_webhook_policies'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_hook_jobs_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hook_jobs')),
    sa.UniqueConstraint('uuid', name=op.f('uq_hook_jobs_uuid'))
    )
    with op.batch_alter_table('hook_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_hook_jobs_event', ['event_id'], unique=False)
        batch_op.create_index('ix_hook_jobs_policy_created', ['policy_id', 'creation_time', 'id'], unique=False)
        batch_op.create_index('ix_hook_jobs_project_created', ['project_id', 'creation_time', 'id'], unique=False)
        batch_op.create_index('ix_hook_jobs_status_next', ['status', 'next_attempt_at'], unique=False)

    op.create_table('hook_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hook_job_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('manual', sa.Boolean(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response_body', sa.Text(), nullable=False),
    sa.Column('error_class', sa.String(length=64), nullable=False),
    sa.Column('error_message', sa.Text(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['hook_job_id'], ['hook_jobs.id'], name=op.f('fk_hook_attempts_hook_job_id_hook_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hook_attempts'))
    )
    with op.batch_alter_table('hook_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_hook_attempts_job', ['hook_job_id', 'id'], unique=False)




def downgrade():

    with op.batch_alter_table('hook_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_hook_attempts_job')

    op.drop_table('hook_attempts')
    with op.batch_alter_table('hook_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_hook_jobs_status_next')
        batch_op.drop_index('ix_hook_jobs_project_created')
        batch_op.drop_index('ix_hook_jobs_policy_created')
        batch_op.drop_index('ix_hook_jobs_event')

    op.drop_table('hook_jobs')
    op.drop_table('webhook_policies')
    op.drop_table('configurations')

