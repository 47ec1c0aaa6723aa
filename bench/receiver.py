"""Receiver cost: notifications/s through the Flask app (test client, in-process), against dropped blob events.

Scenarios, interleaved in each round so they share the machine's mood:
- ``blob``: the captured blob push, dropped by the filter (no database write) — the baseline;
- ``manifest``: the captured manifest push with a fresh event id and tag each time (recorded, no policy);
- ``fanout``: the same with 3 policies × 2 targets: 6 hook job rows per event, enqueued on Redis after commit.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app import queue
from app.extensions import db
from app.models import AccessLog, HookJob
from bench import harness

SCENARIOS = ("blob", "manifest", "fanout")
LABELS = {
    "blob": "(a) blob push, dropped by the filter",
    "manifest": "(b) manifest push, recorded, no policy",
    "fanout": "(c) manifest push, 3 policies x 2 targets",
}
WARMUP = 20
FANOUT = 6


@dataclass(frozen=True)
class Sample:
    """One scenario in one round: the per-request latencies (s) and the wall time of the whole run (s)."""

    latencies: list[float]
    elapsed: float

    def summary(self) -> dict[str, float]:
        return {
            "per_s": len(self.latencies) / self.elapsed,
            "mean_ms": self.elapsed / len(self.latencies) * 1000,
            "p50_ms": harness.percentile(self.latencies, 0.50) * 1000,
            "p95_ms": harness.percentile(self.latencies, 0.95) * 1000,
        }


def _post(client: FlaskClient, notification: harness.Notification) -> dict[str, object]:
    response = client.post(harness.NOTIFY_PATH, data=notification.body, headers=notification.headers)
    if response.status_code != 200:
        raise RuntimeError(f"receiver answered {response.status_code}: {response.get_data(as_text=True)[:300]}")
    return dict(response.get_json())


def _timed(client: FlaskClient, notifications: list[harness.Notification]) -> Sample:
    latencies = []
    statuses = set()
    gc.collect()
    began = time.perf_counter()
    for notification in notifications:
        start = time.perf_counter()
        response = client.post(harness.NOTIFY_PATH, data=notification.body, headers=notification.headers)
        latencies.append(time.perf_counter() - start)
        statuses.add(response.status_code)
    elapsed = time.perf_counter() - began
    if statuses != {200}:
        raise RuntimeError(f"receiver answered {sorted(statuses)}, not only 200")
    return Sample(latencies, elapsed)


def _check(app: Flask, redis_url: str, scenario: str, sent: int) -> None:
    """Each scenario did what it claims: nothing recorded, one access log per event, or 6 hook jobs enqueued."""
    with app.app_context():
        logs = db.session.scalar(select(func.count()).select_from(AccessLog))
        jobs = db.session.scalar(select(func.count()).select_from(HookJob))
        db.session.remove()
    queued = len(queue.queued_hook_jobs(redis_url, queue.HOOKS))  # hook jobs, however many RQ jobs carry them
    expected = {
        "blob": (0, 0, 0),
        "manifest": (sent, 0, 0),
        "fanout": (sent, FANOUT * sent, FANOUT * sent),
    }[scenario]
    if (logs, jobs, queued) != expected:
        raise RuntimeError(f"{scenario}: (access logs, hook jobs, queued) = {(logs, jobs, queued)}, not {expected}")


def measure(app: Flask, redis_url: str, target_url: str, scenario: str, count: int) -> Sample:
    """Reset the state, warm up, then time ``count`` notifications of ``scenario``; check what was recorded."""
    harness.reset(app, redis_url)
    if scenario == "fanout":
        harness.add_policies(app, target_url)
    if scenario == "blob":
        notifications = [harness.blob_push()] * (WARMUP + count)
    else:
        notifications = harness.manifest_pushes(WARMUP + count)
    client = app.test_client()
    for notification in notifications[:WARMUP]:
        _post(client, notification)
    sample = _timed(client, notifications[WARMUP:])
    _check(app, redis_url, scenario, WARMUP + count)
    return sample


def run(app: Flask, redis_url: str, target_url: str, count: int, rounds: int) -> dict[str, list[Sample]]:
    samples: dict[str, list[Sample]] = {scenario: [] for scenario in SCENARIOS}
    for _ in range(rounds):
        for scenario in SCENARIOS:
            samples[scenario].append(measure(app, redis_url, target_url, scenario, count))
    return samples
