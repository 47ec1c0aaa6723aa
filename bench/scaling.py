"""Bounded work per request: per-event cost against the number of other policies, and the largest envelope.

- ``policies``: manifest pushes to ``library`` with one matching policy, and 0 / 100 / 10,000 other
  policies (half in other projects, half in ``library`` subscribed to another event type). The
  baseline is 0 others: a ratio near 1.0 means the other policies cost nothing per event.
- ``envelope``: one envelope as large as the body limit allows (1 MiB: about 1,900 manifest push
  events), recorded with one matching policy; the baseline is the same size of blob events, which the
  filter drops (parse and validate only). The absolute time is the point: the registry waits 1 s by
  default (3 s in the example configuration) before it resends. Its hook jobs go on the queue after the
  answer (``queued s``: answer plus enqueue), and the run checks they all did.
"""

from __future__ import annotations

import gc
import json
import time
import uuid
from typing import Any

from flask import Flask
from sqlalchemy import insert

from app import queue
from app.extensions import db
from app.models import PolicyEventType, Project, WebhookPolicy
from app.queue import HOOKS
from app.services import projects
from bench import harness

OTHERS = (0, 100, 10_000)
POLICY_LABELS = {f"others_{n}": f"push, 1 matching policy, {n:,} other policies" for n in OTHERS}
ENVELOPE_LABELS = {
    "blob": "1 MiB envelope of blob events (dropped)",
    "manifest": "1 MiB envelope of manifest pushes (recorded)",
}
EVENT_LIMIT = 1024 * 1024


def _add_policies(app: Flask, address: str, others: int) -> None:
    """One matching PUSH_ARTIFACT policy on library, then ``others`` that do not match, inserted in bulk."""
    target = [{"type": "http", "address": address, "skip_cert_verify": False, "payload_format": "Default"}]
    with app.app_context():
        library = projects.ensure("library")
        rows: list[dict[str, Any]] = []
        for number in range(others):
            if number % 2:
                project = Project(name=f"other-{number}", public=False)
                db.session.add(project)
                db.session.flush()
                rows.append({"project_id": project.id, "event_types": ["PUSH_ARTIFACT"], "name": f"o-{number}"})
            else:
                rows.append({"project_id": library.id, "event_types": ["PULL_ARTIFACT"], "name": f"o-{number}"})
        rows.append({"project_id": library.id, "event_types": ["PUSH_ARTIFACT"], "name": "matching"})
        for row in rows:
            row.update(description="", enabled=True, targets=target, creator="bench")
        ids = db.session.scalars(insert(WebhookPolicy).returning(WebhookPolicy.id), rows).all()
        db.session.execute(
            insert(PolicyEventType),
            [
                {"policy_id": i, "event_type": r["event_types"][0], "project_id": r["project_id"]}
                for i, r in zip(ids, rows, strict=True)
            ],
        )
        db.session.commit()
        db.session.remove()


def _per_event(app: Flask, redis_url: str, address: str, others: int, count: int) -> dict[str, float]:
    harness.reset(app, redis_url)
    _add_policies(app, address, others)
    notifications = harness.manifest_pushes(count + 5)
    client = app.test_client()
    for notification in notifications[:5]:
        client.post(harness.NOTIFY_PATH, data=notification.body, headers=notification.headers)
    gc.collect()
    began = time.perf_counter()
    for notification in notifications[5:]:
        response = client.post(harness.NOTIFY_PATH, data=notification.body, headers=notification.headers)
        if response.status_code != 200 or response.get_json()["recorded"] != 1:
            raise RuntimeError(f"receiver answered {response.status_code}: {response.get_data(as_text=True)[:200]}")
    elapsed = time.perf_counter() - began
    return {"per_s": count / elapsed, "mean_ms": elapsed / count * 1000}


def envelope(kind: str) -> tuple[dict[str, str], bytes, int]:
    """The largest envelope under the body limit of captured ``kind`` events (blob or manifest), fresh ids."""
    source = harness.blob_push() if kind == "blob" else harness.manifest_pushes(1)[0]
    template = json.loads(source.body)["events"][0]
    events: list[dict[str, Any]] = []
    size = len(b'{"events":[]}')
    while True:
        event = json.loads(json.dumps(template))
        event["id"] = str(uuid.uuid4())
        if kind == "manifest":
            event["target"]["tag"] = f"big-{len(events)}"
        encoded = len(json.dumps(event, separators=(",", ":")).encode()) + 1
        if size + encoded > EVENT_LIMIT:
            break
        events.append(event)
        size += encoded
    body = json.dumps({"events": events}, separators=(",", ":")).encode()
    assert len(body) <= EVENT_LIMIT, len(body)
    return source.headers, body, len(events)


def _one_envelope(app: Flask, redis_url: str, address: str, kind: str) -> dict[str, float]:
    """Seconds until the answer, and until its hook jobs are on the queue: the receiver enqueues a large
    envelope's jobs after its answer is sent, when the server closes the response (done here by hand)."""
    harness.reset(app, redis_url)
    _add_policies(app, address, 0)
    headers, body, count = envelope(kind)
    client = app.test_client()
    gc.collect()
    began = time.perf_counter()
    response = client.post(harness.NOTIFY_PATH, data=body, headers=headers)
    answered = time.perf_counter() - began
    response.close()
    queued = time.perf_counter() - began
    expected = 0 if kind == "blob" else count
    if response.status_code != 200 or response.get_json()["recorded"] != expected:
        raise RuntimeError(f"envelope answered {response.status_code}: {response.get_data(as_text=True)[:200]}")
    on_queue = len(queue.queued_hook_jobs(redis_url, HOOKS))  # hook jobs, however many RQ jobs carry them
    if on_queue != expected:
        raise RuntimeError(f"{on_queue} deliveries on the queue after the envelope, expected {expected}")
    return {
        "per_s": count / answered,
        "mean_ms": answered / count * 1000,
        "seconds": answered,
        "queued_seconds": queued,
        "events": count,
    }


def run(
    app: Flask, redis_url: str, address: str, count: int, rounds: int
) -> tuple[dict[str, list[dict[str, float]]], dict[str, list[dict[str, float]]]]:
    """Rounds of (per-event cost by number of other policies) and (the 1 MiB envelope), interleaved."""
    per_event: dict[str, list[dict[str, float]]] = {f"others_{n}": [] for n in OTHERS}
    envelopes: dict[str, list[dict[str, float]]] = {kind: [] for kind in ENVELOPE_LABELS}
    for _ in range(rounds):
        for others in OTHERS:
            per_event[f"others_{others}"].append(_per_event(app, redis_url, address, others, count))
        for kind in ENVELOPE_LABELS:
            envelopes[kind].append(_one_envelope(app, redis_url, address, kind))
    return per_event, envelopes
