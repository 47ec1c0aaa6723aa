"""/metrics: protected like the API, and its values move as a scripted push, a failed delivery, a retry and a
success happen (real database, Redis, RQ worker and target; values read with prometheus_client's parser)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from app import queue
from app.extensions import current_settings, db
from jobs.sweep import run as run_sweeper
from tests.integration.test_delivery import add_policy, jobs, push, work
from tests.support import replay
from tests.support.clock import FakeClock
from tests.support.sinks import Reply, Sink

API_TOKEN = "a" * 40
METRICS_TOKEN = "m" * 40

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: FlaskClient, token: str = API_TOKEN) -> Samples:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.mimetype == "text/plain"
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def metrics_app(make_app: Callable[..., Flask], redis_db: str) -> Flask:
    return make_app(
        notify_token=replay.TOKEN,
        api_token=API_TOKEN,
        metrics_token=METRICS_TOKEN,
        redis_url=redis_db,
        retry_schedule=(5, 300),
        http_read_timeout=1.0,
    )


def test_metrics_need_the_metrics_or_the_api_token(metrics_app: Flask) -> None:
    client = metrics_app.test_client()
    assert client.get("/metrics").status_code == 401
    refused = client.get("/metrics", headers={"Authorization": f"Bearer {replay.TOKEN}"})
    assert refused.status_code == 401 and refused.json["errors"][0]["code"] == "UNAUTHORIZED"
    assert scrape(client, METRICS_TOKEN)[("dockhook_up", frozenset({("dependency", "database")}))] == 1
    assert value(scrape(client, API_TOKEN), "dockhook_up", dependency="redis") == 1
    # The metrics token opens nothing else.
    assert client.get("/api/v2.0/projects", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).status_code == 401


def test_metric_values_follow_a_push_a_failure_a_retry_and_a_delivery(
    metrics_app: Flask, redis_db: str, sink: Sink, fake_clock: FakeClock
) -> None:
    client = metrics_app.test_client()
    before = scrape(client)
    assert value(before, "dockhook_hook_jobs", status="pending") == 0
    assert value(before, "dockhook_processes_alive", kind="worker") == 0

    add_policy(metrics_app, [{"address": sink.url}])
    push(metrics_app)  # two blob events (ignored), then the manifest (recorded): three envelopes
    fake_clock.advance(30)
    pushed = scrape(client)
    delta = {
        outcome: value(pushed, "dockhook_registry_events_total", outcome=outcome)
        - value(before, "dockhook_registry_events_total", outcome=outcome)
        for outcome in ("recorded", "ignored", "duplicate", "rejected")
    }
    assert delta == {"recorded": 1, "ignored": 2, "duplicate": 0, "rejected": 0}
    assert (
        value(pushed, "dockhook_notifications_total", code="200")
        - value(before, "dockhook_notifications_total", code="200")
        == 3
    )
    assert value(pushed, "dockhook_events", type="PUSH_ARTIFACT") == 1
    assert value(pushed, "dockhook_hook_jobs", status="pending") == 1
    assert value(pushed, "dockhook_hook_jobs_oldest_pending_age_seconds") == 30
    assert value(pushed, "dockhook_queue_depth", queue="hooks") == 1
    assert value(pushed, "dockhook_targets") == 1 and value(pushed, "dockhook_targets_disabled") == 0

    # The target fails: the job waits for its retry; one failed attempt, of class http_status.
    sink.respond = lambda _: Reply(status=503)
    work(metrics_app, redis_db)
    failed = scrape(client)
    assert value(failed, "dockhook_hook_jobs", status="pending") == 0
    assert value(failed, "dockhook_hook_jobs", status="scheduled") == 1
    assert value(failed, "dockhook_hook_jobs_oldest_pending_age_seconds") == 0
    assert value(failed, "dockhook_queue_depth", queue="hooks") == 0
    assert value(failed, "dockhook_attempts", outcome="retry", error_class="http_status") == 1
    assert (
        value(failed, "dockhook_attempt_duration_seconds_count", outcome="retry")
        - value(before, "dockhook_attempt_duration_seconds_count", outcome="retry")
        == 1
    )
    assert value(failed, "dockhook_policy_last_failure_timestamp_seconds", project="library", policy="ci") > 0
    assert (
        "dockhook_policy_last_success_timestamp_seconds",
        frozenset({("project", "library"), ("policy", "ci")}),
    ) not in failed

    # The retry falls due and waits: an overdue retry is visible until the sweeper enqueues it.
    (job,) = jobs(metrics_app)
    assert job.next_attempt_at is not None
    fake_clock.advance_to(job.next_attempt_at)
    fake_clock.advance(20)
    due = scrape(client)
    assert value(due, "dockhook_hook_jobs_oldest_due_retry_age_seconds") == 20
    with metrics_app.app_context():
        run_sweeper(current_settings(), 0.0, once=True)
        db.session.remove()
    swept = scrape(client)
    assert (
        value(swept, "dockhook_sweeper_actions_total", action="enqueued")
        - value(due, "dockhook_sweeper_actions_total", action="enqueued")
        == 1
    )
    assert value(swept, "dockhook_queue_depth", queue="hooks-retry") == 1

    # The retry succeeds: latency from the event's arrival to the 2xx, 30 + 5ish + 20 seconds of clock.
    sink.respond = lambda _: Reply(status=200)
    latency_before = value(swept, "dockhook_delivery_latency_seconds_sum")
    work(metrics_app, redis_db)
    done = scrape(client)
    assert value(done, "dockhook_hook_jobs", status="scheduled") == 0
    assert value(done, "dockhook_hook_jobs", status="success") == 1
    assert value(done, "dockhook_attempts", outcome="success", error_class="") == 1
    assert (
        value(done, "dockhook_delivery_latency_seconds_count") - value(swept, "dockhook_delivery_latency_seconds_count")
        == 1
    )
    latency = value(done, "dockhook_delivery_latency_seconds_sum") - latency_before
    assert 50 <= latency <= 60, latency
    assert (
        value(done, "dockhook_delivery_latency_seconds_bucket", le="60.0")
        - value(swept, "dockhook_delivery_latency_seconds_bucket", le="60.0")
        == 1
    )
    assert value(
        done, "dockhook_policy_last_success_timestamp_seconds", project="library", policy="ci"
    ) == pytest.approx(fake_clock.now.timestamp(), abs=1)

    # A worker and a sweeper beating are counted.
    queue.beat(redis_db, "worker", "w:1", 30)
    assert value(scrape(client), "dockhook_processes_alive", kind="worker") == 1


def test_a_410_disables_the_target_and_the_gauge_says_so(metrics_app: Flask, redis_db: str, sink: Sink) -> None:
    sink.respond = lambda _: Reply(status=410)
    add_policy(metrics_app, [{"address": sink.url}])
    push(metrics_app)
    work(metrics_app, redis_db)
    samples = scrape(metrics_app.test_client())
    assert value(samples, "dockhook_targets_disabled") == 1
    assert value(samples, "dockhook_attempts", outcome="error", error_class="http_status") == 1


def test_a_scrape_answers_while_redis_is_down(make_app: Callable[..., Flask]) -> None:
    client = make_app(api_token=API_TOKEN, redis_url="redis://127.0.0.1:1/0").test_client()
    samples = scrape(client)
    assert value(samples, "dockhook_up", dependency="redis") == 0
    assert value(samples, "dockhook_up", dependency="database") == 1
    assert ("dockhook_queue_depth", frozenset({("queue", "hooks")})) not in samples


def test_a_system_wide_policy_is_counted_with_the_system_project_label(
    metrics_app: Flask, redis_db: str, sink: Sink
) -> None:
    client = metrics_app.test_client()
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    assert client.post("/api/v2.0/projects", json={"project_name": "library"}, headers=auth).status_code == 201
    body = {"name": "everywhere", "targets": [{"type": "http", "address": sink.url}], "event_types": ["PUSH_ARTIFACT"]}
    assert client.post("/api/v2.0/webhook/policies", json=body, headers=auth).status_code == 201
    push(metrics_app)
    work(metrics_app, redis_db)
    samples = scrape(client)
    assert value(samples, "dockhook_targets") == 1
    last = value(samples, "dockhook_policy_last_success_timestamp_seconds", project="(system)", policy="everywhere")
    assert last > 0
