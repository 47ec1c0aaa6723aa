"""target secrets encrypted at rest; hook jobs keep no copy of them

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 03:00:00

Policy targets: ``auth_header`` and ``secret`` (clear) become ``auth_header_enc`` and ``secret_enc``
(Fernet, the first of DOCKHOOK_SECRET_KEYS). Hook jobs: the target snapshot loses both. Downgrade
decrypts them back, and gives each hook job its policy target's values again where that target still
exists (a deleted policy's secrets are gone for good).
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa
from cryptography.fernet import Fernet, MultiFernet
from flask import current_app


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

policies = sa.table('webhook_policies', sa.column('id', sa.Integer), sa.column('targets', sa.JSON))
hook_jobs = sa.table(
    'hook_jobs',
    sa.column('id', sa.Integer),
    sa.column('policy_id', sa.Integer),
    sa.column('target_index', sa.Integer),
    sa.column('target', sa.JSON),
)
configurations = sa.table(
    'configurations',
    sa.column('key', sa.String),
    sa.column('value', sa.JSON),
    sa.column('update_time', sa.DateTime(timezone=True)),
)
CLEAR_TO_ENCRYPTED = {'auth_header': 'auth_header_enc', 'secret': 'secret_enc'}
ROTATION = ('previous_secret_enc', 'previous_secret_until')
KEY_CHECK = 'secret_key_check'
KEY_CHECK_TEXT = b'dockhook: DOCKHOOK_SECRET_KEYS opens this'


def _box():
    keys = current_app.extensions['dockhook.settings'].secret_keys
    return MultiFernet([Fernet(key) for key in keys])


def _now(conn):
    # As app.models.base.UTCDateTime stores it: naive UTC on SQLite, aware on PostgreSQL.
    now = datetime.now(timezone.utc)
    return now.replace(tzinfo=None) if conn.dialect.name == 'sqlite' else now


def upgrade():
    box = _box()
    conn = op.get_bind()
    for policy_id, targets in conn.execute(sa.select(policies.c.id, policies.c.targets)).all():
        stored = []
        for target in targets or []:
            target = dict(target)
            for clear, encrypted in CLEAR_TO_ENCRYPTED.items():
                value = target.pop(clear, '') or ''
                target[encrypted] = box.encrypt(value.encode()).decode() if value else ''
            stored.append(target)
        conn.execute(policies.update().where(policies.c.id == policy_id).values(targets=stored))
    for job_id, target in conn.execute(sa.select(hook_jobs.c.id, hook_jobs.c.target)).all():
        if target and any(name in target for name in CLEAR_TO_ENCRYPTED):
            kept = {k: v for k, v in target.items() if k not in CLEAR_TO_ENCRYPTED}
            conn.execute(hook_jobs.update().where(hook_jobs.c.id == job_id).values(target=kept))
    conn.execute(configurations.delete().where(configurations.c.key == KEY_CHECK))
    conn.execute(
        configurations.insert().values(
            key=KEY_CHECK, value=box.encrypt(KEY_CHECK_TEXT).decode(), update_time=_now(conn)
        )
    )


def downgrade():
    box = _box()
    conn = op.get_bind()
    clear_targets = {}
    for policy_id, targets in conn.execute(sa.select(policies.c.id, policies.c.targets)).all():
        stored = []
        for target in targets or []:
            target = dict(target)
            for clear, encrypted in CLEAR_TO_ENCRYPTED.items():
                value = target.pop(encrypted, '') or ''
                target[clear] = box.decrypt(value.encode()).decode() if value else ''
            for name in ROTATION:
                target.pop(name, None)
            stored.append(target)
        clear_targets[policy_id] = stored
        conn.execute(policies.update().where(policies.c.id == policy_id).values(targets=stored))
    rows = conn.execute(
        sa.select(hook_jobs.c.id, hook_jobs.c.policy_id, hook_jobs.c.target_index, hook_jobs.c.target)
    ).all()
    for job_id, policy_id, index, target in rows:
        targets = clear_targets.get(policy_id) or []
        if target and index < len(targets) and targets[index].get('address') == target.get('address'):
            restored = {**target, **{k: targets[index][k] for k in CLEAR_TO_ENCRYPTED}}
            conn.execute(hook_jobs.update().where(hook_jobs.c.id == job_id).values(target=restored))
    conn.execute(configurations.delete().where(configurations.c.key == KEY_CHECK))
