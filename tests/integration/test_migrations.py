"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL, and downgrade cleanly."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from app import clock
from app.extensions import db
from app.models import Base, Event, HookAttempt, HookJob, PolicyEventType, WebhookPolicy
from app.services import credentials, projects
from tests.support import databases


def test_migrated_schema_matches_the_models(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    with app.app_context(), db.engine.connect() as conn:
        # Column types too: a model whose column became wider, or an integer a string, needs a migration.
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == [], "models and migrations disagree: write a migration"


def test_downgrade_to_base_and_upgrade_again(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    with app.app_context():
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert {t.name for t in Base.metadata.sorted_tables} <= set(inspect(db.engine).get_table_names())


def test_a_failed_statement_never_carries_its_values_into_the_error_text(make_app: Callable[..., Flask]) -> None:
    """Policy targets hold auth headers: a database error (which reaches the logs) must not quote them."""
    secret = "Bearer never-in-a-log-4f1c"
    app = make_app()
    with app.app_context():
        db.session.add(WebhookPolicy(project_id=424242, name="orphan", targets=[{"auth_header_enc": secret}]))
        with pytest.raises(IntegrityError) as caught:
            db.session.commit()  # no such project: a foreign-key violation
        db.session.rollback()
    assert secret not in str(caught.value)


CLEAR_HEADER = "Bearer before-0004-3c1f9a"
CLEAR_SECRET = "whsec_" + base64.b64encode(b"m" * 32).decode()


def test_migration_0004_encrypts_stored_secrets_strips_job_copies_and_downgrades_back(
    make_app: Callable[..., Flask], database_url: str
) -> None:
    app = make_app()
    with app.app_context():
        downgrade(revision="0003")
        # Rows as Dockhook 0003 wrote them: credentials in clear on the policy, and copied into each job.
        clear = {
            "type": "http",
            "address": "https://ci.example.com/in",
            "auth_header": CLEAR_HEADER,
            "secret": CLEAR_SECRET,
        }
        owner = projects.ensure("library")
        # As 0003's schema has it: a plain row (later revisions add tables the model writes to).
        now = clock.system_now()
        policy_id = db.session.execute(
            insert(WebhookPolicy.__table__).values(
                project_id=owner.id,
                name="old",
                description="",
                enabled=True,
                event_types=["PUSH_ARTIFACT"],
                targets=[clear],
                creator="",
                creation_time=now,
                update_time=now,
            )
        ).inserted_primary_key[0]
        event = Event(type="PUSH_ARTIFACT", project_id=owner.id, occurred_at=now, data={})
        db.session.add(event)
        db.session.flush()
        # A plain row too: later revisions add columns the model reads back (0008's operator).
        job_id = db.session.execute(
            insert(HookJob.__table__).values(
                uuid="00000000-0000-4000-8000-000000000004",
                event_id=event.id,
                project_id=owner.id,
                policy_id=policy_id,
                event_type="PUSH_ARTIFACT",
                notify_type="http",
                target=dict(clear),
                payload="{}",
                status="success",
                creation_time=now,
                update_time=now,
            )
        ).inserted_primary_key[0]
        db.session.commit()
        db.session.close()  # SQLite: no transaction of ours may hold the file while Alembic writes

        upgrade()
        db.session.expire_all()
        (stored,) = db.session.get(WebhookPolicy, policy_id).targets
        assert credentials.decrypt(stored["auth_header_enc"]) == CLEAR_HEADER
        assert credentials.decrypt(stored["secret_enc"]) == CLEAR_SECRET
        assert "auth_header" not in stored and "secret" not in stored
        assert db.session.get(HookJob, job_id).target == {"type": "http", "address": clear["address"]}
        assert credentials.startup_problem() is None, "the migration records the key check"
        subscribed = db.session.execute(select(PolicyEventType.policy_id, PolicyEventType.event_type)).all()
        assert [tuple(row) for row in subscribed] == [(policy_id, "PUSH_ARTIFACT")], "0006 indexes the event types"
        db.session.commit()
        db.session.close()
        if database_url.startswith("sqlite"):
            # What closing the last connection does after `flask db upgrade`: the WAL goes into the file.
            raw = db.engine.raw_connection()
            try:
                raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                raw.close()
        everything = databases.contents(database_url)
        assert CLEAR_HEADER.encode() not in everything and CLEAR_SECRET.encode() not in everything

        downgrade(revision="0003")
        # Only the columns 0003 has (the model's later ones are gone at this revision).
        policies = WebhookPolicy.__table__
        assert db.session.scalar(select(policies.c.targets).where(policies.c.id == policy_id)) == [clear]
        target = db.session.scalar(select(HookJob.__table__.c.target).where(HookJob.__table__.c.id == job_id))
        assert target == clear, "jobs get their policy's values back"
        db.session.close()
        upgrade()


def test_migration_0010_adds_the_target_health_tables_and_downgrades_back(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    health_tables = {"target_health", "target_attempt_hours"}
    with app.app_context():
        assert health_tables <= set(inspect(db.engine).get_table_names())
        downgrade(revision="0009_policy_filters")
        assert not health_tables & set(inspect(db.engine).get_table_names())
        assert "webhook_policies" in inspect(db.engine).get_table_names()
        upgrade()
        assert health_tables <= set(inspect(db.engine).get_table_names())
        primary = inspect(db.engine).get_pk_constraint("target_attempt_hours")["constrained_columns"]
        assert primary == ["policy_id", "target_key", "hour"]


def job_with_attempt(uuid: str, event: Event, policy_id: int | None, now: datetime) -> int:
    """A delivered hook job of ``event`` with its one attempt, written with the tables' columns only (the models
    may be ahead of the schema a test downgraded to); its id."""
    job_id = db.session.execute(
        insert(HookJob.__table__).values(
            uuid=uuid,
            event_id=event.id,
            project_id=event.project_id,
            policy_id=policy_id,
            event_type=event.type,
            notify_type="http",
            target={"type": "http", "address": "https://ci.example.com/in"},
            payload="{}",
            status="success",
            creation_time=now,
            update_time=now,
        )
    ).inserted_primary_key[0]
    db.session.execute(
        insert(HookAttempt.__table__).values(
            hook_job_id=job_id, number=1, started_at=now, duration_ms=5, status_code=200, outcome="success"
        )
    )
    return int(job_id)


def test_migration_0011_lets_an_event_have_no_project_and_downgrades_those_away(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    with app.app_context():
        owner = projects.ensure("library")
        now = clock.system_now()
        kept = Event(type="PUSH_ARTIFACT", project_id=owner.id, occurred_at=now, data={})
        orphan = Event(type="WEBHOOK_TARGET_DISABLED", project_id=None, occurred_at=now, data={})
        db.session.add_all([kept, orphan])
        db.session.flush()
        for number, event in enumerate((kept, orphan)):
            job_with_attempt(f"00000000-0000-4000-8000-00000000001{number}", event, None, now)
        db.session.commit()
        kept_id = kept.id
        db.session.close()

        downgrade(revision="0010_target_health")
        assert db.session.scalars(select(Event.__table__.c.id)).all() == [kept_id], "events of no project go"
        assert db.session.scalar(select(func.count()).select_from(HookJob.__table__)) == 1, "with their jobs"
        assert db.session.scalar(select(func.count()).select_from(HookAttempt.__table__)) == 1, "and attempts"
        db.session.close()
        upgrade()
        column = next(c for c in inspect(db.engine).get_columns("events") if c["name"] == "project_id")
        assert column["nullable"] is True
        assert db.session.scalar(select(func.count()).select_from(HookAttempt.__table__)) == 1, "the copy keeps rows"


def test_migration_0009_keeps_every_row_that_points_at_the_copied_tables_and_downgrades_system_policies_away(
    make_app: Callable[..., Flask],
) -> None:
    """0009 makes project_id nullable, which SQLite does by copying the table: the rows of the tables that point
    at it (subscriptions, hook jobs' policy, attempts) must survive, not be cascaded away."""
    app = make_app()
    with app.app_context():
        downgrade(revision="0008_accounts")
        owner = projects.ensure("library")
        now = clock.system_now()
        policies = WebhookPolicy.__table__
        policy_id = db.session.execute(
            insert(policies).values(
                project_id=owner.id,
                name="kept",
                description="",
                enabled=True,
                event_types=["PUSH_ARTIFACT"],
                targets=[{"type": "http", "address": "https://ci.example.com/in"}],
                creator="",
                creation_time=now,
                update_time=now,
            )
        ).inserted_primary_key[0]
        db.session.execute(
            insert(PolicyEventType.__table__).values(
                policy_id=policy_id, event_type="PUSH_ARTIFACT", project_id=owner.id
            )
        )
        event = Event(type="PUSH_ARTIFACT", project_id=owner.id, occurred_at=now, data={})
        db.session.add(event)
        db.session.flush()
        job_id = job_with_attempt("00000000-0000-4000-8000-000000000009", event, policy_id, now)
        db.session.commit()
        db.session.close()

        upgrade()
        subscribed = db.session.execute(select(PolicyEventType.policy_id, PolicyEventType.event_type)).all()
        assert [tuple(row) for row in subscribed] == [(policy_id, "PUSH_ARTIFACT")]
        assert db.session.scalar(select(HookJob.policy_id).where(HookJob.id == job_id)) == policy_id
        assert db.session.scalar(select(func.count()).select_from(HookAttempt)) == 1
        assert db.session.scalar(select(policies.c.filters).where(policies.c.id == policy_id)) is None
        system = WebhookPolicy(project_id=None, name="all", event_types=["PUSH_ARTIFACT"], targets=[])
        db.session.add(system)
        db.session.commit()
        system_id = system.id
        db.session.close()

        downgrade(revision="0008_accounts")
        remaining = db.session.execute(select(policies.c.id)).scalars().all()
        assert remaining == [policy_id], "system-wide policies cannot exist before 0009: they go"
        assert system_id not in remaining
        assert db.session.scalar(select(func.count()).select_from(HookAttempt.__table__)) == 1
        db.session.close()
        upgrade()
