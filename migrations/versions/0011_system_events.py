"""events of no project: events.project_id may be NULL (a system-wide policy's target disabled,
WEBHOOK_TARGET_DISABLED, belongs to no project)

Revision ID: 0011_system_events
Revises: 0010_target_health
Create Date: 2026-11-30 18:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0011_system_events"
down_revision = "0010_target_health"
branch_labels = None
depends_on = None


class _ForeignKeysOff:
    """As in 0009 (a migration is a snapshot: it does not import another): SQLite changes a column's NOT NULL by
    copying the table and dropping the old one, and that DROP would run hook_jobs' ON DELETE CASCADE. So on
    SQLite the foreign keys are off while the table is copied (the pragma works only outside a transaction,
    hence the commits around it); the copy keeps every row and id, and the check after proves nothing dangles."""

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
        with op.batch_alter_table("events", schema=None) as batch_op:
            batch_op.alter_column("project_id", existing_type=sa.Integer(), nullable=True)


def downgrade():
    # Revisions before this one have no event without a project: those events, their hook jobs and the jobs'
    # attempts go (explicitly: SQLite's foreign keys are off below).
    orphans = "SELECT id FROM hook_jobs WHERE event_id IN (SELECT id FROM events WHERE project_id IS NULL)"
    with _ForeignKeysOff():
        op.execute(f"DELETE FROM hook_attempts WHERE hook_job_id IN ({orphans})")
        op.execute("DELETE FROM hook_jobs WHERE event_id IN (SELECT id FROM events WHERE project_id IS NULL)")
        op.execute("DELETE FROM events WHERE project_id IS NULL")
        with op.batch_alter_table("events", schema=None) as batch_op:
            batch_op.alter_column("project_id", existing_type=sa.Integer(), nullable=False)
