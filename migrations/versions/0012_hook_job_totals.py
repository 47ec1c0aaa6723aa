"""hook_job_totals: each project's and policy's hook-job count, kept by triggers on hook_jobs

A list's X-Total-Count counted the project's (or the policy's) rows on every request: 70-300 ms at a million
jobs, while the page itself is an index range. The triggers below keep the count in the same transaction as the
rows: statement-level on PostgreSQL (one upsert per INSERT or DELETE statement, over its transition table, into
the connection's own shard), row-level on SQLite. A job moving to another project or policy (a deleted policy's
jobs get policy_id NULL) moves its count. The counts of the rows already there are written while the triggers'
lock on hook_jobs holds off every writer, so none is counted twice or missed.

On SQLite a later migration that copies hook_jobs (batch_alter_table) drops these triggers with the old table: it
must create them again (tests/integration/test_hook_job_totals.py fails at head without them).

Revision ID: 0012_hook_job_totals
Revises: 0011_system_events
Create Date: 2026-12-01 01:10:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0012_hook_job_totals"
down_revision = "0011_system_events"
branch_labels = None
depends_on = None

SHARDS = 16

_PG_ADD = """
CREATE FUNCTION hook_job_totals_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- In key order: two transactions adding to the same shard lock its rows in the same order (no deadlock).
    INSERT INTO hook_job_totals AS t (project_key, policy_key, shard, jobs)
    SELECT coalesce(project_id, 0), coalesce(policy_id, 0), pg_backend_pid() % {shards}, {sign}count(*)
    FROM {rows} GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (project_key, policy_key, shard) DO UPDATE SET jobs = t.jobs + excluded.jobs;
    RETURN NULL;
END $$
"""
_PG_MOVE = """
CREATE FUNCTION hook_job_totals_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- One statement, in key order as above.
    INSERT INTO hook_job_totals AS t (project_key, policy_key, shard, jobs)
    SELECT project_key, policy_key, pg_backend_pid() % {shards}, jobs FROM (VALUES
        (coalesce(OLD.project_id, 0), coalesce(OLD.policy_id, 0), -1),
        (coalesce(NEW.project_id, 0), coalesce(NEW.policy_id, 0), 1)
    ) AS moved (project_key, policy_key, jobs) ORDER BY 1, 2
    ON CONFLICT (project_key, policy_key, shard) DO UPDATE SET jobs = t.jobs + excluded.jobs;
    RETURN NULL;
END $$
"""
_PG_TRIGGERS = [
    "CREATE TRIGGER hook_job_totals_insert AFTER INSERT ON hook_jobs REFERENCING NEW TABLE AS added "
    "FOR EACH STATEMENT EXECUTE FUNCTION hook_job_totals_added()",
    "CREATE TRIGGER hook_job_totals_delete AFTER DELETE ON hook_jobs REFERENCING OLD TABLE AS removed "
    "FOR EACH STATEMENT EXECUTE FUNCTION hook_job_totals_removed()",
    # Row-level, and only when a key column is in the UPDATE (a status change never fires it).
    "CREATE TRIGGER hook_job_totals_update AFTER UPDATE OF project_id, policy_id ON hook_jobs FOR EACH ROW "
    "WHEN (OLD.project_id IS DISTINCT FROM NEW.project_id OR OLD.policy_id IS DISTINCT FROM NEW.policy_id) "
    "EXECUTE FUNCTION hook_job_totals_moved()",
]

_SQLITE_ADD = """
INSERT INTO hook_job_totals (project_key, policy_key, shard, jobs)
VALUES (coalesce({row}.project_id, 0), coalesce({row}.policy_id, 0), 0, {delta})
ON CONFLICT (project_key, policy_key, shard) DO UPDATE SET jobs = jobs + excluded.jobs;
"""
_SQLITE_TRIGGERS = [
    f"CREATE TRIGGER hook_job_totals_insert AFTER INSERT ON hook_jobs BEGIN {_SQLITE_ADD.format(row='NEW', delta=1)} END",
    f"CREATE TRIGGER hook_job_totals_delete AFTER DELETE ON hook_jobs BEGIN {_SQLITE_ADD.format(row='OLD', delta=-1)} END",
    "CREATE TRIGGER hook_job_totals_update AFTER UPDATE OF project_id, policy_id ON hook_jobs "
    "WHEN OLD.project_id IS NOT NEW.project_id OR OLD.policy_id IS NOT NEW.policy_id "
    f"BEGIN {_SQLITE_ADD.format(row='OLD', delta=-1)} {_SQLITE_ADD.format(row='NEW', delta=1)} END",
]
TRIGGERS = ("hook_job_totals_insert", "hook_job_totals_delete", "hook_job_totals_update")


def upgrade():
    op.create_table(
        "hook_job_totals",
        sa.Column("project_key", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("policy_key", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("shard", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("jobs", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("project_key", "policy_key", "shard", name=op.f("pk_hook_job_totals")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_ADD.format(name="added", rows="added", sign="", shards=SHARDS))
        op.execute(_PG_ADD.format(name="removed", rows="removed", sign="-", shards=SHARDS))
        op.execute(_PG_MOVE.format(shards=SHARDS))
        statements = _PG_TRIGGERS
    else:
        statements = _SQLITE_TRIGGERS
    for statement in statements:
        op.execute(statement)
    # After the triggers: on PostgreSQL CREATE TRIGGER holds a lock on hook_jobs that keeps every writer out until
    # this migration commits (SQLite has one writer), so what is counted here is exactly what the triggers did not see.
    op.execute(
        "INSERT INTO hook_job_totals (project_key, policy_key, shard, jobs) "
        "SELECT coalesce(project_id, 0), coalesce(policy_id, 0), 0, count(*) FROM hook_jobs GROUP BY 1, 2"
    )


def downgrade():
    for trigger in TRIGGERS:
        op.execute(f"DROP TRIGGER {trigger}" + (" ON hook_jobs" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        for function in ("added", "removed", "moved"):
            op.execute(f"DROP FUNCTION hook_job_totals_{function}()")
    op.drop_table("hook_job_totals")
