"""P4 queries: the hook-job list and a job's status with 10³ and 10⁶ hook jobs (PostgreSQL).

The rows are copies of one real hook job (and one attempt each) made by ``generate_series`` in SQL: a million
rows take seconds, not the hours the receiver would. Each query is asked ``samples`` times through the Flask
app in-process (the API with its sign-in), and the p50 per size is compared with the smallest size's.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select, text

from app.extensions import db
from app.models import HookJob
from bench import harness, versus
from tests.support.sinks import Sink

TOKEN = "bench-api-token-0123456789abcdef"
LABELS = {
    "list": "GET /api/v2.0/projects/library/webhook/hook-jobs",
    "status": "GET /api/v2.0/hook-jobs/{uuid}",
}

_COPY_JOBS = """
INSERT INTO hook_jobs (uuid, event_id, policy_id, policy_name, project_id, event_type, notify_type, target_index,
    target, content_type, payload, status, attempt_count, max_attempts, trigger, last_status_code, last_error,
    final_reason, creation_time, update_time, finished_at, operator)
SELECT gen_random_uuid()::text, event_id, policy_id, policy_name, project_id, event_type, notify_type, target_index,
    target, content_type, payload, 'success', 1, max_attempts, 'auto', 200, '', 'delivered',
    creation_time - g * interval '1 millisecond', update_time, finished_at, operator
FROM hook_jobs, generate_series(1, :count) AS g WHERE hook_jobs.id = :seed
"""
_COPY_ATTEMPTS = """
INSERT INTO hook_attempts (hook_job_id, number, manual, started_at, duration_ms, status_code, response_body,
    error_class, error_message, outcome)
SELECT id, 1, false, creation_time, 1, 200, 'ok', '', '', 'success' FROM hook_jobs WHERE id > :after
"""


def _time(client: Any, path: str, samples: int) -> list[float]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    took = []
    for _ in range(samples):
        began = time.perf_counter()
        response = client.get(path, headers=headers)
        took.append(time.perf_counter() - began)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.get_data(as_text=True)[:200]}")
    return took


def run(
    database_url: str, redis_url: str, sink: Sink, sizes: tuple[int, ...], samples: int, step: Callable[[str], None]
) -> dict[str, dict[str, list[float]]]:
    """Per query and size: the timings (seconds) of ``samples`` requests."""
    app = harness.make_app(database_url, redis_url, api_token=TOKEN)
    offline = harness.make_app(database_url, None)
    harness.reset(app, redis_url)
    versus.add_policy(app, "library", [sink.url], "one")
    versus.create_pending(offline, harness.manifest_pushes(1))
    client = app.test_client()
    timings: dict[str, dict[str, list[float]]] = {name: {} for name in LABELS}
    have = 1
    for size in sizes:
        step(f"P4 queries: {size} hook jobs")
        began = time.monotonic()
        with app.app_context():
            seed, after = db.session.execute(select(func.min(HookJob.id), func.max(HookJob.id))).one()
            db.session.execute(text(_COPY_JOBS), {"count": size - have, "seed": seed})
            db.session.execute(text(_COPY_ATTEMPTS), {"after": after})
            db.session.commit()
            db.session.execute(text("ANALYZE hook_jobs"))
            db.session.execute(text("ANALYZE hook_attempts"))
            db.session.commit()
            uuids = list(db.session.scalars(select(HookJob.uuid).order_by(func.random()).limit(samples)))
            db.session.remove()
        step(f"P4 queries: {size} rows written in {time.monotonic() - began:.1f} s")
        have = size
        timings["list"][str(size)] = _time(client, "/api/v2.0/projects/library/webhook/hook-jobs", samples)
        status = []
        for uuid in random.sample(uuids, len(uuids)):
            status += _time(client, f"/api/v2.0/hook-jobs/{uuid}", 1)
        timings["status"][str(size)] = status
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    with offline.app_context():
        db.engine.dispose()
    return timings
