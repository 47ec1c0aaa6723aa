"""Migration 0008_accounts: adds the account tables and the hook jobs' operator, and takes them away again."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select

from app.extensions import db
from app.models import User
from app.services import projects
from tests.support import accounts

ACCOUNT_TABLES = {"users", "project_members", "robots", "audit_log_exts", "signin_failures"}


def test_0008_adds_the_account_tables_and_the_operator_and_downgrades_without_them(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app()
    with app.app_context():
        library = projects.create("library", public=False)
        accounts.member(library, accounts.user("ann"), 1)
        accounts.robot("ci", accounts.grant("library", ("notification-policy", "read")), project=library)
        db.session.commit()
        db.session.close()

        downgrade(revision="0007")
        schema = inspect(db.engine)
        assert not ACCOUNT_TABLES & set(schema.get_table_names())
        assert "operator" not in {c["name"] for c in schema.get_columns("hook_jobs")}
        assert schema.get_table_names(), "only 0008's tables went"

        upgrade()
        schema = inspect(db.engine)
        assert set(schema.get_table_names()) >= ACCOUNT_TABLES
        operator = next(c for c in schema.get_columns("hook_jobs") if c["name"] == "operator")
        assert operator["nullable"] is False
        assert list(db.session.scalars(select(User))) == [], "the downgrade dropped the accounts with their tables"
