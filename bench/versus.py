"""P1 delivery, P4 fan-out and backlog, and isolation: Dockhook workers (``python worker.py``, real processes)
against the workers a user would run instead, all in the same round, on the same Redis, sink and body.

Each Dockhook measurement: the hook jobs are created by the receiver first with no Redis (rows ``pending``,
not timed), the workers are started and registered idle, then the jobs are enqueued as the receiver does
(one enqueue per event's fan-out) and the clock runs from that enqueue until the sink has every request; every
job must then be ``success`` with one attempt row. The baselines are timed the same way: ``rq worker`` processes
registered idle, then the same number of jobs of ``bench.bare.post`` (POST the same body to the same sink)
enqueued in pipelines of the same size.
"""

from __future__ import annotations

import gc
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import redis
from flask import Flask
from rq import Queue
from sqlalchemy import func, select

from app import queue
from app.extensions import db
from app.models import HookAttempt, HookJob, WebhookPolicy
from app.services import hook_jobs, projects
from bench import harness, stack
from tests.support.sinks import Received, Reply, Sink

JOB_TIMEOUT = 60
LABELS = {
    "dockhook_1": "Dockhook, 1 worker (python worker.py)",
    "rq_simple_1": "bare RQ SimpleWorker + POST job, 1 worker",
    "dockhook_4": "Dockhook, 4 workers",
    "rq_simple_4": "bare RQ SimpleWorker + POST job, 4 workers",
    "rq_fork_1": "naive forking `rq worker` + POST job, 1 worker",
}
FANOUT_LABELS = {f"targets_{n}": f"{n} target(s) per event, 1 worker" for n in (1, 10, 100)}
ISOLATION_LABELS = {
    "alone": "healthy target alone, 1 worker",
    "beside_slow": "healthy target beside a slow target's backlog",
}


@dataclass(frozen=True)
class Run:
    """One timed side of one round: items done, seconds from the enqueue to the last arrival, arrival offsets."""

    count: int
    elapsed: float
    offsets: list[float]

    def summary(self) -> dict[str, float]:
        return {
            "per_s": self.count / self.elapsed,
            "mean_ms": self.elapsed / self.count * 1000,
            "p50_ms": harness.percentile(self.offsets, 0.50) * 1000,
            "p99_ms": harness.percentile(self.offsets, 0.99) * 1000,
        }


def clear(sink: Sink) -> None:
    with sink._lock:  # the sink's own lock: its handler threads append under it
        sink.received.clear()


def _arrived(sink: Sink, count: int, t0: float, timeout: float) -> Run:
    received = sink.wait_for(count, timeout=timeout)
    if not received:  # nothing within the bound: recorded as such, not a crash of the whole run
        return Run(0, timeout, [timeout])
    offsets = sorted(r.at - t0 for r in received[:count])
    # Cut off at the timeout: what arrived by then, over the whole wait.
    elapsed = offsets[-1] if len(offsets) == count else max(timeout, offsets[-1])
    return Run(len(offsets), max(elapsed, 1e-6), offsets)


# --- creating hook jobs without Redis, and enqueueing them as the receiver does ----------------------------


def add_policy(app: Flask, project: str, addresses: list[str], name: str) -> None:
    with app.app_context():
        owner = projects.ensure(project)
        db.session.add(
            WebhookPolicy(
                project_id=owner.id,
                name=name,
                event_types=["PUSH_ARTIFACT"],
                targets=[
                    {"type": "http", "address": a, "skip_cert_verify": False, "payload_format": "Default"}
                    for a in addresses
                ],
                enabled=True,
            )
        )
        db.session.commit()
        db.session.remove()


def pushes(count: int, repository: str = "library/alpine") -> list[harness.Notification]:
    notifications = harness.manifest_pushes(count)
    if repository == "library/alpine":
        return notifications
    result = []
    for notification in notifications:
        document = json.loads(notification.body)
        document["events"][0]["target"]["repository"] = repository
        result.append(harness.Notification(notification.headers, json.dumps(document).encode()))
    return result


def create_pending(offline: Flask, notifications: list[harness.Notification]) -> list[list[hook_jobs.NewJob]]:
    """Post ``notifications`` to an app without Redis (its jobs stay ``pending``); their jobs grouped by event."""
    client = offline.test_client()
    # "REDIS_URL is not set: N hook jobs stay pending" is the point here, not news.
    logging.getLogger("app.services.hook_jobs").setLevel(logging.ERROR)
    for notification in notifications:
        response = client.post(harness.NOTIFY_PATH, data=notification.body, headers=notification.headers)
        if response.status_code != 200:
            raise RuntimeError(f"receiver answered {response.status_code}: {response.get_data(as_text=True)[:200]}")
    with offline.app_context():
        rows = db.session.execute(
            select(HookJob.id, HookJob.uuid, HookJob.notify_type, HookJob.event_id, HookJob.target)
            .where(HookJob.status == "pending")
            .order_by(HookJob.id)
        ).all()
        db.session.remove()
    groups: dict[int, list[hook_jobs.NewJob]] = defaultdict(list)
    for row in rows:
        # As the receiver enqueues them: with their target's key (the worker's per-target lane).
        key = queue.target_key(str(row.target.get("address", "")))
        groups[row.event_id].append(hook_jobs.NewJob(row.id, row.uuid, row.notify_type, key))
    return list(groups.values())


def enqueue(groups: list[list[hook_jobs.NewJob]], redis_url: str) -> None:
    for group in groups:
        if hook_jobs.enqueue(group, redis_url, JOB_TIMEOUT) != len(group):
            raise RuntimeError("Redis did not take the jobs")


def check_done(app: Flask, count: int, timeout: float = 30) -> None:
    """Every hook job ``success`` with exactly one attempt row (the record follows the POST by a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        with app.app_context():
            statuses = dict(
                db.session.execute(select(HookJob.status, func.count()).group_by(HookJob.status)).tuples().all()
            )
            attempts = db.session.scalar(select(func.count()).select_from(HookAttempt))
            db.session.remove()
        if statuses == {"success": count} and attempts == count:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"hook jobs after the run: {statuses}, {attempts} attempts; expected {count} success")
        time.sleep(0.05)


def dockhook_run(
    app: Flask,
    offline: Flask,
    database_url: str,
    redis_url: str,
    sink: Sink,
    workers: int,
    notifications: list[harness.Notification],
    check: bool = True,
    **settings: str,
) -> Run:
    groups = create_pending(offline, notifications)
    count = sum(len(g) for g in groups)
    with stack.workers("dockhook", workers, redis_url, database_url, **settings):
        clear(sink)
        gc.collect()
        t0 = time.monotonic()
        enqueue(groups, redis_url)
        run = _arrived(sink, count, t0, timeout=120)
        if check:
            check_done(app, count)
    return run


def bare_run(kind: str, workers: int, redis_url: str, sink: Sink, body: bytes, count: int, group: int) -> Run:
    connection = redis.Redis.from_url(redis_url)
    queue = Queue(stack.BARE_QUEUE, connection=connection)
    try:
        with stack.workers(kind, workers, redis_url):
            clear(sink)
            gc.collect()
            t0 = time.monotonic()
            for start in range(0, count, group):
                with connection.pipeline() as pipe:
                    queue.enqueue_many(
                        [
                            Queue.prepare_data(
                                "bench.bare.post", args=(sink.url, body, "application/json"), result_ttl=0
                            )
                            for _ in range(min(group, count - start))
                        ],
                        pipeline=pipe,
                    )
                    pipe.execute()
            return _arrived(sink, count, t0, timeout=180)
    finally:
        connection.close()


def _body(app: Flask) -> bytes:
    with app.app_context():
        payload = db.session.scalars(select(HookJob.payload).limit(1)).one()
        db.session.remove()
    return payload.encode()


# --- P1 --------------------------------------------------------------------------------------------------


def delivery(
    app: Flask,
    offline: Flask,
    database_url: str,
    redis_url: str,
    sink: Sink,
    jobs: int,
    naive_jobs: int,
    rounds: int,
    step: Callable[[str], None],
) -> dict[str, list[Run]]:
    """P1: hook jobs/s, Dockhook against bare RQ at 1 and 4 workers, and against the naive forking worker.
    3 policies × 2 targets on the sink: 6 hook jobs per notification."""
    jobs -= jobs % 6
    naive_jobs -= naive_jobs % 6
    runs: dict[str, list[Run]] = {name: [] for name in LABELS}
    for number in range(rounds):
        for workers in (1, 4):
            step(f"P1 round {number + 1}: {workers} worker(s), {jobs} jobs, Dockhook then bare RQ")
            harness.reset(app, redis_url)
            harness.add_policies(app, sink.url)
            runs[f"dockhook_{workers}"].append(
                dockhook_run(app, offline, database_url, redis_url, sink, workers, harness.manifest_pushes(jobs // 6))
            )
            body = _body(app)
            runs[f"rq_simple_{workers}"].append(bare_run("rq-simple", workers, redis_url, sink, body, jobs, 6))
        step(f"P1 round {number + 1}: naive forking rq worker, {naive_jobs} jobs")
        runs["rq_fork_1"].append(bare_run("rq-fork", 1, redis_url, sink, body, naive_jobs, 6))
    return runs


# --- P4: fan-out and backlog -----------------------------------------------------------------------------


def fanout(
    app: Flask,
    offline: Flask,
    database_url: str,
    redis_url: str,
    sink: Sink,
    jobs: int,
    backlog: int,
    rounds: int,
    step: Callable[[str], None],
) -> tuple[dict[str, list[Run]], dict[str, list[Run]]]:
    """P4: cost per delivery with 1, 10 and 100 targets per event (``jobs`` deliveries each, 1 worker); and a
    ``backlog`` of jobs (10 targets per event) queued at once, drained by 1 worker, against 10 targets' rate."""
    jobs -= jobs % 100
    runs: dict[str, list[Run]] = {name: [] for name in FANOUT_LABELS}
    drains: dict[str, list[Run]] = {"steady": [], "backlog": []}
    for number in range(rounds):
        for targets in (1, 10, 100):
            step(f"P4 round {number + 1}: {targets} target(s) per event, {jobs} jobs")
            harness.reset(app, redis_url)
            add_policy(app, "library", [sink.url] * targets, "fanout")
            run = dockhook_run(app, offline, database_url, redis_url, sink, 1, harness.manifest_pushes(jobs // targets))
            runs[f"targets_{targets}"].append(run)
            if targets == 10:
                drains["steady"].append(run)
        step(f"P4 round {number + 1}: a backlog of {backlog} jobs (10 targets per event)")
        harness.reset(app, redis_url)
        add_policy(app, "library", [sink.url] * 10, "fanout")
        drains["backlog"].append(
            dockhook_run(app, offline, database_url, redis_url, sink, 1, harness.manifest_pushes(backlog // 10))
        )
    return runs, drains


# --- isolation -------------------------------------------------------------------------------------------


def isolation(
    app: Flask,
    offline: Flask,
    database_url: str,
    redis_url: str,
    sink: Sink,
    healthy: int,
    slow: int,
    rounds: int,
    step: Callable[[str], None],
) -> dict[str, list[Run]]:
    """A healthy target's jobs (burst of ``healthy``) delivered by 1 worker, alone and queued right behind a backlog
    of ``slow`` jobs for a target that answers 0.5 s after the worker's 1 s read timeout."""
    read_timeout = 1.0
    slow_sink = Sink()
    slow_sink.respond = lambda _request: Reply(delay=read_timeout + 0.5)
    settings = {"DOCKHOOK_HTTP_READ_TIMEOUT": str(read_timeout), "DOCKHOOK_HTTP_CONNECT_TIMEOUT": str(read_timeout)}
    runs: dict[str, list[Run]] = {name: [] for name in ISOLATION_LABELS}
    try:
        for number in range(rounds):
            step(f"isolation round {number + 1}: {healthy} healthy jobs alone, then behind {slow} slow ones")
            harness.reset(app, redis_url)
            add_policy(app, "library", [sink.url], "healthy")
            runs["alone"].append(
                dockhook_run(
                    app, offline, database_url, redis_url, sink, 1, harness.manifest_pushes(healthy), **settings
                )
            )
            harness.reset(app, redis_url)
            add_policy(app, "library", [sink.url], "healthy")
            add_policy(app, "slow", [slow_sink.url], "slow")
            slow_groups = create_pending(offline, pushes(slow, "slow/alpine"))
            slow_ids = {job.id for group in slow_groups for job in group}
            healthy_groups = [
                [job for job in group if job.id not in slow_ids]
                for group in create_pending(offline, harness.manifest_pushes(healthy))
            ]
            with stack.workers("dockhook", 1, redis_url, database_url, **settings):
                clear(sink)
                gc.collect()  # as before the healthy target alone (dockhook_run): no collection of the set-up's garbage
                enqueue(slow_groups, redis_url)
                t0 = time.monotonic()
                enqueue([g for g in healthy_groups if g], redis_url)
                # Bounded: a worker stalled by the slow target would take slow × 1 s; cut off at 30 s.
                runs["beside_slow"].append(_arrived(sink, healthy, t0, timeout=30))
    finally:
        slow_sink.close()
    return runs


def received_of(sink: Sink) -> list[Received]:
    with sink._lock:
        return list(sink.received)
