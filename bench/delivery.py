"""Delivery cost: hook jobs/s delivered by one in-process SimpleWorker, against raw POSTs of the same body.

Each round: the receiver creates the hook jobs (3 policies × 2 targets, one loopback sink; not timed), then
- baseline: the same number of ``requests.Session().post`` calls with a hook job's body, in a plain loop;
- Dockhook: ``worker.run_worker(app, url, burst=True)`` until the queues are empty.
The ratio is what Dockhook adds per delivery: RQ dequeue and bookkeeping, the claim (guarded UPDATE,
commit, reload), the attempt row and the status update (commit). Per-delivery p50/p95 are the gaps
between consecutive requests arriving at the sink.

Also Redis memory (``used_memory``) per hook job, once queued (the baseline) and once delivered: RQ keeps
a finished job only for its ``result_ttl`` (0 since the benchmark first showed ~5 KB per delivery).
"""

from __future__ import annotations

import gc
import itertools
import time
from dataclasses import dataclass

import redis
import requests
from flask import Flask
from sqlalchemy import func, select

from app import queue
from app.extensions import db
from app.models import HookJob
from bench import harness
from tests.support.sinks import Sink
from worker import run_worker

SCENARIOS = ("raw", "worker")
LABELS = {
    "raw": "raw requests.Session().post loop",
    "worker": "Dockhook SimpleWorker, burst",
}
REDIS_LABELS = {
    "queued": "queued, not yet delivered",
    "delivered": "delivered (what RQ keeps after)",
}
FANOUT = 6


@dataclass(frozen=True)
class Sample:
    """One side of one round: how many requests reached the sink, the gaps between them (s), the wall time (s)."""

    count: int
    gaps: list[float]
    elapsed: float

    def summary(self) -> dict[str, float]:
        return {
            "per_s": self.count / self.elapsed,
            "mean_ms": self.elapsed / self.count * 1000,
            "p50_ms": harness.percentile(self.gaps, 0.50) * 1000,
            "p95_ms": harness.percentile(self.gaps, 0.95) * 1000,
        }


def _arrivals(sink: Sink, count: int) -> list[float]:
    received = sink.wait_for(count, timeout=30)
    if len(received) != count:
        raise RuntimeError(f"the sink got {len(received)} requests, not {count}")
    return [later - earlier for earlier, later in itertools.pairwise(r.at for r in received)]


def _clear(sink: Sink) -> None:
    with sink._lock:  # the sink's own lock: its handler threads append under it
        sink.received.clear()


def _redis_memory(redis_url: str) -> int:
    connection = redis.Redis.from_url(redis_url)
    used = int(connection.info("memory")["used_memory"])
    connection.close()
    return used


def _prepare(app: Flask, redis_url: str, sink: Sink, jobs: int) -> tuple[bytes, str]:
    """Empty state, 3 × 2 targets on the sink, ``jobs`` hook jobs pending on the queue; a job's body and type."""
    harness.reset(app, redis_url)
    harness.add_policies(app, sink.url)
    client = app.test_client()
    for notification in harness.manifest_pushes(jobs // FANOUT):
        response = client.post(harness.NOTIFY_PATH, data=notification.body, headers=notification.headers)
        if response.status_code != 200:
            raise RuntimeError(f"receiver answered {response.status_code}")
    queued = len(queue.queued_hook_jobs(redis_url, queue.HOOKS))  # hook jobs, however many RQ jobs carry them
    with app.app_context():
        job = db.session.scalars(select(HookJob).limit(1)).one()
        body, content_type = job.payload.encode(), job.content_type
        db.session.remove()
    if queued != jobs:
        raise RuntimeError(f"{queued} jobs queued, not {jobs}")
    return body, content_type


def _raw(sink: Sink, body: bytes, content_type: str, count: int) -> Sample:
    _clear(sink)
    session = requests.Session()
    gc.collect()
    began = time.perf_counter()
    for _ in range(count):
        session.post(sink.url, data=body, headers={"Content-Type": content_type}).raise_for_status()
    elapsed = time.perf_counter() - began
    session.close()
    return Sample(count, _arrivals(sink, count), elapsed)


def _worker(app: Flask, redis_url: str, sink: Sink, count: int) -> Sample:
    _clear(sink)
    gc.collect()
    began = time.perf_counter()
    run_worker(app, redis_url, burst=True)
    elapsed = time.perf_counter() - began
    gaps = _arrivals(sink, count)
    with app.app_context():
        statuses = dict(
            db.session.execute(select(HookJob.status, func.count()).group_by(HookJob.status)).tuples().all()
        )
        db.session.remove()
    if statuses != {"success": count}:
        raise RuntimeError(f"hook jobs after the worker: {statuses}, not {count} success")
    return Sample(count, gaps, elapsed)


def run(
    app: Flask, redis_url: str, sink: Sink, jobs: int, rounds: int
) -> tuple[dict[str, list[Sample]], dict[str, list[dict[str, float]]]]:
    """The timed samples per side, and Redis bytes per job (queued, delivered) per round."""
    jobs -= jobs % FANOUT
    samples: dict[str, list[Sample]] = {scenario: [] for scenario in SCENARIOS}
    memory: dict[str, list[dict[str, float]]] = {"queued": [], "delivered": []}
    for _ in range(rounds):
        harness.reset(app, redis_url)
        empty = _redis_memory(redis_url)
        body, content_type = _prepare(app, redis_url, sink, jobs)
        memory["queued"].append({"b_per_job": (_redis_memory(redis_url) - empty) / jobs})
        samples["raw"].append(_raw(sink, body, content_type, jobs))
        samples["worker"].append(_worker(app, redis_url, sink, jobs))
        memory["delivered"].append({"b_per_job": (_redis_memory(redis_url) - empty) / jobs})
    return samples, memory
