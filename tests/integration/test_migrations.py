"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL, and downgrade cleanly."""

from __future__ import annotations

from collections.abc import Callable

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from app.extensions import db
from app.models import Base


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
