"""target health: per policy target, its current run of failures and its attempts by the hour

Revision ID: 0010_target_health
Revises: 0009_policy_filters
Create Date: 2026-11-30 08:30:00

"""

from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = "0010_target_health"
down_revision = "0009_policy_filters"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "target_health",
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("target_key", sa.String(length=64), nullable=False),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["webhook_policies.id"],
            name=op.f("fk_target_health_policy_id_webhook_policies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("policy_id", "target_key", name=op.f("pk_target_health")),
    )
    op.create_table(
        "target_attempt_hours",
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("target_key", sa.String(length=64), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("successes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["webhook_policies.id"],
            name=op.f("fk_target_attempt_hours_policy_id_webhook_policies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("policy_id", "target_key", "hour", name=op.f("pk_target_attempt_hours")),
    )


def downgrade():
    op.drop_table("target_attempt_hours")
    op.drop_table("target_health")
