"""What every benchmark stands on: a real Redis, a migrated database, an app, captured notification bodies, stats."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import shutil
import statistics
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import text

from app import create_app
from app.config import Settings
from app.extensions import db
from app.models import WebhookPolicy
from app.services import projects
from tests.support import databases, redis_server, replay
from tests.support import settings as test_settings
from tests.support.sinks import Sink

SCENARIO = "push_oci_alpine_3.19"
NOTIFY_PATH = "/service/notifications"


def quiet_logging() -> None:
    """Warnings and errors only (to stderr): per-request INFO lines would be part of what is timed."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", force=True)
    logging.getLogger("rq.worker").setLevel(logging.WARNING)  # rq sets INFO on import: 4 lines per job


# --- Redis and the sink ----------------------------------------------------------------------


@contextlib.contextmanager
def redis_on_loopback() -> Iterator[str]:
    """A redis-server of our own on a free 127.0.0.1 port (no persistence); stopped by its PID afterwards."""
    with redis_server.own_server(tcp=True) as url:
        yield url


def sink() -> Sink:
    """The tests' loopback sink (it answers with TCP_NODELAY, as real servers do: without it each reply
    waited ~40 ms for the client's delayed ACK, which this benchmark first found)."""
    return Sink()


# --- databases -----------------------------------------------------------------------------


def settings_for(database_url: str, **overrides: Any) -> Settings:
    """Settings from the tests' environment only: the developer's variables never leak into a benchmark."""
    return Settings.from_env(test_settings.ENV, database_url=database_url, **overrides)


def migrate(database_url: str) -> None:
    app = create_app(settings_for(database_url))
    with app.app_context(), contextlib.redirect_stderr(io.StringIO()):
        upgrade()  # alembic.ini's logging config prints each revision; keep the table readable
        db.engine.dispose()
    quiet_logging()  # alembic's fileConfig replaced the handlers


@contextlib.contextmanager
def database(backend: str) -> Iterator[str]:
    """A migrated, empty database: SQLite in a temp dir, or a throwaway PostgreSQL database (dropped after)."""
    if backend == "sqlite":
        directory = Path(tempfile.mkdtemp(prefix="dockhook-bench-sqlite-"))
        try:
            url = databases.sqlite_url(directory)
            migrate(url)
            yield url
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return
    base = databases.postgres_base_url()
    if base is None:
        raise RuntimeError("PostgreSQL needs TEST_DATABASE_URL")
    url = databases.create_postgres_database(base)
    try:
        migrate(url)
        yield url
    finally:
        databases.drop_postgres_database(url)


def backends() -> list[str]:
    return ["sqlite", "postgresql"] if databases.postgres_base_url() else ["sqlite"]


def make_app(database_url: str, redis_url: str | None, **overrides: Any) -> Flask:
    """The receiver as the captured registry was configured (bearer token), with no retries."""
    settings = settings_for(
        database_url, redis_url=redis_url, notify_token=replay.TOKEN, retry_schedule=(), **overrides
    )
    return create_app(settings)


def reset(app: Flask, redis_url: str) -> None:
    """Empty every table (the schema stays) and the Redis database, so each measurement starts alike."""
    tables = databases.tables_to_empty()
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            if db.engine.dialect.name == "postgresql":
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    conn.execute(text(f"DELETE FROM {table}"))
    connection = redis.Redis.from_url(redis_url)
    connection.flushdb()
    connection.close()


def add_policies(app: Flask, address: str, policies: int = 3, targets: int = 2) -> None:
    """``policies`` enabled PUSH_ARTIFACT policies on ``library``, each with ``targets`` http targets."""
    with app.app_context():
        owner = projects.ensure("library")
        for number in range(policies):
            db.session.add(
                WebhookPolicy(
                    project_id=owner.id,
                    name=f"bench-{number}",
                    event_types=["PUSH_ARTIFACT"],
                    targets=[
                        {"type": "http", "address": address, "skip_cert_verify": False, "payload_format": "Default"}
                        for _ in range(targets)
                    ],
                    enabled=True,
                )
            )
        db.session.commit()
        db.session.remove()


# --- captured notifications ----------------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    headers: dict[str, str]
    body: bytes


def blob_push() -> Notification:
    """The captured push's first delivery: one blob event, which the filter drops (no database write)."""
    first = replay.deliveries(SCENARIO)[0]
    assert first.events()[0]["target"]["mediaType"] == "application/octet-stream"
    return Notification(first.request_headers(), first.body)


def manifest_pushes(count: int) -> list[Notification]:
    """The captured manifest push, ``count`` times, each with a fresh event id and tag (so none is a re-send)."""
    last = replay.deliveries(SCENARIO)[-1]
    document = json.loads(last.body)
    headers = last.request_headers()
    bodies = []
    for number in range(count):
        event = document["events"][0]
        event["id"] = str(uuid.uuid4())
        event["target"]["tag"] = f"bench-{number}"
        bodies.append(Notification(headers, json.dumps(document, indent=3).encode()))
    return bodies


# --- numbers -------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values`` (``fraction`` in 0..1)."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))
    return ordered[index]


def median(values: list[float]) -> float:
    return float(statistics.median(values))
