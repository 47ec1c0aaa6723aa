"""records: projects, repositories, artifacts, tags, access logs, events

Revision ID: 0001
Revises: 
Create Date: 2026-11-29 13:06:53.431519

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('projects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('creation_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('update_time', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects')),
    sa.UniqueConstraint('name', name=op.f('uq_projects_name'))
    )
    op.create_table('access_logs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('repo_name', sa.String(length=512), nullable=False),
    sa.Column('repo_tag', sa.String(length=255), nullable=False),
    sa.Column('digest', sa.String(length=255), nullable=False),
    sa.Column('operation', sa.String(length=16), nullable=False),
    sa.Column('username', sa.String(length=255), nullable=False),
    sa.Column('op_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('registry_event_id', sa.String(length=64), nullable=True),
    sa.Column('registry_request_id', sa.String(length=64), nullable=False),
    sa.Column('user_agent', sa.String(length=512), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_access_logs_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_logs')),
    sa.UniqueConstraint('registry_event_id', name=op.f('uq_access_logs_registry_event_id'))
    )
    with op.batch_alter_table('access_logs', schema=None) as batch_op:
        batch_op.create_index('ix_access_logs_project_repo_time', ['project_id', 'repo_name', 'op_time'], unique=False)
        batch_op.create_index('ix_access_logs_project_time', ['project_id', 'op_time', 'id'], unique=False)

    op.create_table('events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('repository', sa.String(length=512), nullable=False),
    sa.Column('operator', sa.String(length=255), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('registry_event_id', sa.String(length=64), nullable=True),
    sa.Column('registry_request_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_events_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    sa.UniqueConstraint('registry_event_id', name=op.f('uq_events_registry_event_id'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_project_type_time', ['project_id', 'type', 'occurred_at'], unique=False)
        batch_op.create_index('ix_events_registry_request', ['registry_request_id', 'repository'], unique=False)

    op.create_table('repositories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=512), nullable=False),
    sa.Column('pull_count', sa.Integer(), nullable=False),
    sa.Column('push_count', sa.Integer(), nullable=False),
    sa.Column('last_push_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_pull_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('creation_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('update_time', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_repositories_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_repositories')),
    sa.UniqueConstraint('name', name=op.f('uq_repositories_name'))
    )
    with op.batch_alter_table('repositories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_repositories_project_id'), ['project_id'], unique=False)

    op.create_table('artifacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('repository_id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=255), nullable=False),
    sa.Column('media_type', sa.String(length=255), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('push_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('pull_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('creation_time', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['repository_id'], ['repositories.id'], name=op.f('fk_artifacts_repository_id_repositories'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_artifacts')),
    sa.UniqueConstraint('repository_id', 'digest', name='uq_artifacts_repository_digest')
    )
    op.create_table('tags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('repository_id', sa.Integer(), nullable=False),
    sa.Column('artifact_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('push_time', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['artifact_id'], ['artifacts.id'], name=op.f('fk_tags_artifact_id_artifacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['repository_id'], ['repositories.id'], name=op.f('fk_tags_repository_id_repositories'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tags')),
    sa.UniqueConstraint('repository_id', 'name', name='uq_tags_repository_name')
    )
    with op.batch_alter_table('tags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tags_artifact_id'), ['artifact_id'], unique=False)




def downgrade():

    with op.batch_alter_table('tags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tags_artifact_id'))

    op.drop_table('tags')
    op.drop_table('artifacts')
    with op.batch_alter_table('repositories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_repositories_project_id'))

    op.drop_table('repositories')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_registry_request')
        batch_op.drop_index('ix_events_project_type_time')

    op.drop_table('events')
    with op.batch_alter_table('access_logs', schema=None) as batch_op:
        batch_op.drop_index('ix_access_logs_project_time')
        batch_op.drop_index('ix_access_logs_project_repo_time')

    op.drop_table('access_logs')
    op.drop_table('projects')

