"""The sweeper holds no row lock while it talks to Redis: a hung Redis never blocks the database's writers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select, update

from app import clock
from app.extensions import current_settings, db
from app.models import HookJob
from jobs.sweep import sweep_once
from tests.integration.test_delivery import add_policy, jobs, push
from tests.support import replay


@pytest.fixture
def silent_redis() -> Iterator[tuple[str, threading.Event]]:
    """A loopback TCP server that accepts and never answers: a Redis that hangs."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)
            accepted.set()

    threading.Thread(target=serve, daemon=True).start()
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0", accepted
    listener.close()
    for conn in held:
        conn.close()


def test_a_sweep_waiting_on_a_hung_redis_holds_no_lock_on_the_jobs_it_claimed(
    make_app: Callable[..., Flask], silent_redis: tuple[str, threading.Event]
) -> None:
    url, accepted = silent_redis
    app = make_app(notify_token=replay.TOKEN, redis_url=None, sweep_grace=1)
    add_policy(app, [{"address": "https://ci.example.com/in"}])
    push(app)  # no Redis: the job stays pending for the sweeper
    (job,) = jobs(app)
    sweeper = make_app(notify_token=replay.TOKEN, redis_url=url, sweep_grace=1)
    outcome: list[object] = []

    def sweep() -> None:
        with sweeper.app_context(), clock.replaced(lambda: job.creation_time + timedelta(seconds=5)):
            try:
                outcome.append(sweep_once(current_settings()))
            finally:
                db.session.remove()

    thread = threading.Thread(target=sweep)
    thread.start()
    assert accepted.wait(10), "the sweeper reached Redis"
    began = time.monotonic()
    with app.app_context():  # a writer (an API stop, a worker's claim) on the very row the sweeper claimed
        db.session.execute(update(HookJob).where(HookJob.id == job.id).values(final_reason="touched"))
        db.session.commit()
        waited = time.monotonic() - began
        claimed = db.session.scalar(select(HookJob.enqueued_at).where(HookJob.id == job.id))
    assert thread.is_alive(), "the sweeper was still waiting on Redis while the row was written"
    assert waited < 1.0, f"the writer waited {waited:.1f} s for the sweeper's lock"
    assert claimed is not None, "the claim was committed before Redis was asked"
    thread.join(timeout=30)
    assert not thread.is_alive()
    (stats,) = outcome
    assert getattr(stats, "redis_error", "")
    (after,) = jobs(app)
    assert after.enqueued_at is None, "Redis refused: the claim is given back for the next sweep"
    assert after.status == "pending"
