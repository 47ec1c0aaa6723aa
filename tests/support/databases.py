"""Throwaway databases for tests: a SQLite file, or a fresh PostgreSQL database on TEST_DATABASE_URL's server."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from app.config import Settings
from app.models import Base, HookJobTotal
from tests.support import settings as test_settings


def tables_to_empty() -> list[str]:
    """Every table, in an order that empties them one ``DELETE`` at a time: a table before those it refers to, and
    hook_job_totals last, which triggers on hook_jobs write (SQLite's DELETE fires them)."""
    names = [table.name for table in reversed(Base.metadata.sorted_tables) if table.name != HookJobTotal.__tablename__]
    return [*names, HookJobTotal.__tablename__]


def postgres_base_url() -> str | None:
    raw = os.environ.get("TEST_DATABASE_URL", "").strip()
    return Settings.from_env({**test_settings.ENV, "DATABASE_URL": raw}).database_url if raw else None


def create_postgres_database(base_url: str) -> str:
    """Create ``dockhook_test_<random>`` on the server of ``base_url``; return its SQLAlchemy URL."""
    url = make_url(base_url)
    name = f"dockhook_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(database_url: str) -> None:
    url = make_url(database_url)
    admin = url.set(database=os.environ.get("TEST_DATABASE_ADMIN_DB", "postgres"))
    with psycopg.connect(_libpq(admin), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'dockhook.db'}"


def _libpq(url: object) -> str:
    u = make_url(str(url)) if not hasattr(url, "set") else url
    parts = {
        "host": u.host or "127.0.0.1",  # type: ignore[union-attr]
        "port": str(u.port or 5432),  # type: ignore[union-attr]
        "dbname": u.database or "postgres",  # type: ignore[union-attr]
        "user": u.username or "postgres",  # type: ignore[union-attr]
    }
    if u.password:  # type: ignore[union-attr]
        parts["password"] = u.password  # type: ignore[union-attr]
    return " ".join(f"{k}={v}" for k, v in parts.items())


def contents(database_url: str) -> bytes:
    """Every byte the database keeps: a SQLite file with its WAL, or a pg_dump of a PostgreSQL database."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = Path(str(url.database))
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    dump = subprocess.run(["pg_dump", "-d", _libpq(url)], capture_output=True, timeout=60, check=True)
    return dump.stdout
