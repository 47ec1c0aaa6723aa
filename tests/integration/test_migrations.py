"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL, and downgrade cleanly."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Base, WebhookPolicy


def test_migrated_schema_matches_the_models(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    with app.app_context(), db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
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
        db.session.add(WebhookPolicy(project_id=424242, name="orphan", targets=[{"auth_header": secret}]))
        with pytest.raises(IntegrityError) as caught:
            db.session.commit()  # no such project: a foreign-key violation
        db.session.rollback()
    assert secret not in str(caught.value)
