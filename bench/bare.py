"""The baselines a user would pick instead of Dockhook, in the same run: a plain RQ job that POSTs the body
(run by ``rq worker``, forking or ``SimpleWorker``), a bare Flask JSON endpoint under the same gunicorn, and the
same endpoint made durable (``durable_app``: one INSERT and a COMMIT before the answer, P2's floor)."""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import Any

import psycopg
import requests
from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy.engine import make_url

_session: requests.Session | None = None


def post(url: str, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> int:
    """The job a user writes: POST ``body`` to ``url`` with a keep-alive session, fail on a non-2xx."""
    global _session
    if _session is None:
        _session = requests.Session()
        _session.trust_env = False
    response = _session.post(
        url, data=body, headers={"Content-Type": content_type, **(headers or {})}, timeout=(10, 10)
    )
    response.raise_for_status()
    return response.status_code


app = Flask(__name__)


@app.post("/service/notifications")
def notifications() -> ResponseReturnValue:
    """Parse the envelope as JSON and answer how many events it held: what a minimal receiver does."""
    document = request.get_json(force=True, silent=True) or {}
    return jsonify(events=len(document.get("events", [])))


@app.get("/healthz")
def healthz() -> ResponseReturnValue:
    return jsonify(status="ok")


# --- the durable floor: what any receiver that commits before it answers pays ---------------------------------

durable_app = Flask(__name__)
_connections = threading.local()


def _connect(database_url: str) -> Any:
    """A DBAPI connection to ``database_url``: psycopg, or sqlite3 with Dockhook's WAL and busy timeout."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        connection = sqlite3.connect(url.database or "", isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA busy_timeout=15000")
        return connection
    return psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))


def create_inbox(database_url: str) -> None:
    """The durable floor's one table, made before its gunicorn starts: made by its request threads, the first
    ones raced each other's CREATE TABLE IF NOT EXISTS on PostgreSQL (a unique violation in pg_type, a 500)."""
    connection = _connect(database_url)
    try:
        key = "INTEGER" if isinstance(connection, sqlite3.Connection) else "BIGSERIAL"
        connection.execute(f"CREATE TABLE IF NOT EXISTS bench_inbox (id {key} PRIMARY KEY, body TEXT)")
        connection.commit()
    finally:
        connection.close()


def _connection() -> Any:
    """This thread's DBAPI connection to DATABASE_URL."""
    connection = getattr(_connections, "connection", None)
    if connection is None:
        connection = _connections.connection = _connect(os.environ["DATABASE_URL"])
    return connection


@durable_app.post("/service/notifications")
def durable_notifications() -> ResponseReturnValue:
    """Parse the envelope, INSERT its raw body as one row and COMMIT, then answer: one prepared statement on a
    connection of the thread's own, no ORM. Nothing any receiver that commits before it answers can do less."""
    document = request.get_json(force=True, silent=True) or {}
    connection = _connection()
    body = request.get_data(as_text=True)
    if isinstance(connection, sqlite3.Connection):
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO bench_inbox (body) VALUES (?)", (body,))
        connection.execute("COMMIT")
    else:
        connection.execute("INSERT INTO bench_inbox (body) VALUES (%s)", (body,), prepare=True)
        connection.commit()
    return jsonify(events=len(document.get("events", [])))


@durable_app.get("/healthz")
def durable_healthz() -> ResponseReturnValue:
    return jsonify(status="ok")
