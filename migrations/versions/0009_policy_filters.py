"""policy filters and system-wide policies: webhook_policies.filters; project_id may be NULL (system-wide) on
webhook_policies, policy_event_types and hook_jobs; a system-wide policy name is unique among system-wide ones

Revision ID: 0009_policy_filters
Revises: 0008_accounts
Create Date: 2026-11-30 08:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0009_policy_filters"
down_revision = "0008_accounts"
branch_labels = None
depends_on = None

SYSTEM_NAME_INDEX = "uq_webhook_policies_system_name"


class _ForeignKeysOff:
    """SQLite changes a column's NOT NULL by copying the table and dropping the old one, and that DROP runs the
    ON DELETE actions of the tables that point at it (their rows would be deleted or their references nulled).
    So on SQLite the foreign keys are off while the tables are copied; the pragma works only outside a
    transaction, hence the commits around it. The copy keeps every row and id, so nothing dangles after."""

    def __enter__(self):
        self.conn = op.get_bind()
        self.sqlite = self.conn.dialect.name == "sqlite"
        if self.sqlite:
            self.conn.exec_driver_sql("COMMIT")
            self.conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            self.conn.exec_driver_sql("BEGIN IMMEDIATE")

    def __exit__(self, kind, value, traceback):
        if self.sqlite and kind is None:
            problems = self.conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise RuntimeError(f"foreign keys broken by the table copy: {problems[:5]}")
            self.conn.exec_driver_sql("COMMIT")
            self.conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            self.conn.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade():
    with _ForeignKeysOff():
        _upgrade()


def downgrade():
    with _ForeignKeysOff():
        _downgrade()


def _upgrade():
    with op.batch_alter_table("webhook_policies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("filters", sa.JSON(), nullable=True))
        batch_op.alter_column("project_id", existing_type=sa.Integer(), nullable=True)
    op.create_index(
        SYSTEM_NAME_INDEX,
        "webhook_policies",
        ["name"],
        unique=True,
        postgresql_where=sa.text("project_id IS NULL"),
        sqlite_where=sa.text("project_id IS NULL"),
    )
    with op.batch_alter_table("policy_event_types", schema=None) as batch_op:
        batch_op.alter_column("project_id", existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table("hook_jobs", schema=None) as batch_op:
        batch_op.alter_column("project_id", existing_type=sa.Integer(), nullable=True)


def _downgrade():
    # Revisions before this one have no system-wide policies: their policies and hook jobs go.
    op.execute("DELETE FROM hook_jobs WHERE project_id IS NULL")
    op.execute("DELETE FROM policy_event_types WHERE project_id IS NULL")
    op.execute("DELETE FROM webhook_policies WHERE project_id IS NULL")
    with op.batch_alter_table("hook_jobs", schema=None) as batch_op:
        batch_op.alter_column("project_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("policy_event_types", schema=None) as batch_op:
        batch_op.alter_column("project_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index(SYSTEM_NAME_INDEX, table_name="webhook_policies")
    with op.batch_alter_table("webhook_policies", schema=None) as batch_op:
        batch_op.alter_column("project_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("filters")
