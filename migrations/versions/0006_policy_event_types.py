"""policy_event_types: one row per policy subscription, so matching is an index lookup

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-30 03:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0004'
branch_labels = None
depends_on = None

policies = sa.table(
    'webhook_policies', sa.column('id', sa.Integer), sa.column('project_id', sa.Integer), sa.column('event_types', sa.JSON)
)


def upgrade():
    subscriptions = op.create_table('policy_event_types',
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['policy_id'], ['webhook_policies.id'], name=op.f('fk_policy_event_types_policy_id_webhook_policies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_policy_event_types_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('policy_id', 'event_type', name=op.f('pk_policy_event_types'))
    )
    op.create_index('ix_policy_event_types_project_type', 'policy_event_types', ['project_id', 'event_type'], unique=False)
    conn = op.get_bind()
    rows = [
        {'policy_id': policy_id, 'event_type': event_type, 'project_id': project_id}
        for policy_id, project_id, event_types in conn.execute(
            sa.select(policies.c.id, policies.c.project_id, policies.c.event_types)
        ).all()
        for event_type in dict.fromkeys(event_types or [])
    ]
    if rows:
        op.bulk_insert(subscriptions, rows)


def downgrade():
    op.drop_index('ix_policy_event_types_project_type', table_name='policy_event_types')
    op.drop_table('policy_event_types')
