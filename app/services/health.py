"""Is Dockhook able to work: the database and Redis answer, workers and a sweeper are beating (read-only checks)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from app import queue
from app.extensions import db

# A worker beats every WORKER_BEAT seconds; its key lives HEARTBEAT_TTL seconds, so one missed beat is tolerated.
WORKER_BEAT = 10.0
HEARTBEAT_TTL = 30.0
# Error texts in answers are cut here: enough to tell "connection refused" from "no such database".
ERROR_CHARS = 300


@dataclass
class Check:
    """One dependency's state: ``ok``, why not (``error``, no secret: drivers' messages carry no passwords),
    and what was measured."""

    name: str
    ok: bool
    error: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


def database() -> Check:
    """A ``SELECT 1`` on a pooled connection (a raw one: on SQLite no write lock is taken, unlike a session)."""
    started = time.monotonic()
    try:
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchall()
            cursor.close()
        finally:
            raw.close()
    except Exception as exc:  # a reconnect inside the pool can raise the driver's own error, unwrapped
        return Check("database", False, _first_line(getattr(exc, "orig", None) or exc))
    return Check("database", True, detail={"latency_ms": round((time.monotonic() - started) * 1000, 1)})


def redis(url: str | None) -> Check:
    """Redis answers a PING (not configured counts as down: nothing could be delivered)."""
    if url is None:
        return Check("redis", False, "REDIS_URL is not set")
    started = time.monotonic()
    try:
        queue.ping(url)
    except queue.QueueUnavailable as exc:
        return Check("redis", False, _first_line(exc))
    return Check("redis", True, detail={"latency_ms": round((time.monotonic() - started) * 1000, 1)})


def processes(url: str | None) -> list[Check]:
    """The workers and the sweeper, from their heartbeats: each kind is ok while at least one beats."""
    beats: list[queue.Heartbeat] = []
    error = ""
    if url is None:
        error = "REDIS_URL is not set"
    else:
        try:
            beats = queue.heartbeats(url)
        except queue.QueueUnavailable as exc:
            error = f"Redis unavailable: {_first_line(exc)}"
    checks = []
    for kind in ("worker", "sweeper"):
        alive = [b for b in beats if b.kind == kind]
        problem = error or ("" if alive else f"no {kind} has sent a heartbeat in the last {HEARTBEAT_TTL:.0f} s")
        checks.append(Check(kind, not problem, problem, {"alive": len(alive)}))
    return checks


def _first_line(exc: object) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:ERROR_CHARS]
