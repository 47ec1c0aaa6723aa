"""From a registry notification to a delivered webhook: hook job rows, RQ jobs, a real worker, real HTTP(S) targets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from rq import Queue
from sqlalchemy import select

from app import queue
from app.extensions import db
from app.models import Configuration, HookAttempt, HookJob, WebhookPolicy
from app.services import policies, projects
from jobs.deliver import deliver
from tests.support import replay
from tests.support.sinks import Reply, Sink, closed_port_url, tls_context
from tests.support.state import send
from worker import run_worker

ALPINE = "sha256:6e0801e933911f55adeb296638b421b3365c8d9b85dff219f74eb2d5d52add99"
SECRET = "Bearer s3cr3t-value-42"


@pytest.fixture
def hook_app(make_app: Callable[..., Flask], redis_db: str) -> Flask:
    # No retries here: these tests are about one attempt; retries have their own tests.
    return make_app(
        notify_token=replay.TOKEN,
        redis_url=redis_db,
        http_read_timeout=1.0,
        http_connect_timeout=1.0,
        retry_schedule=(),
    )


def add_policy(
    app: Flask,
    targets: list[dict[str, Any]],
    *,
    name: str = "ci",
    project: str = "library",
    event_types: tuple[str, ...] = ("PUSH_ARTIFACT",),
    enabled: bool = True,
) -> int:
    with app.app_context():
        owner = projects.ensure(project)
        policy = WebhookPolicy(
            project_id=owner.id,
            name=name,
            event_types=list(event_types),
            # As the API stores them: validated, credentials encrypted.
            targets=policies.validate_targets(
                [policies.TargetInput(**{"type": "http", "payload_format": "Default", **t}) for t in targets]
            ),
            enabled=enabled,
        )
        db.session.add(policy)
        db.session.commit()
        return policy.id


def push(app: Flask) -> dict[str, Any]:
    """Replay the captured push of library/alpine:3.19 (2 blobs, then the manifest)."""
    client = app.test_client()
    bodies = [send(client, d) for d in replay.deliveries("push_oci_alpine_3.19")]
    assert [status for status, _ in bodies] == [200, 200, 200]
    return bodies[-1][1]


def jobs(app: Flask) -> list[HookJob]:
    with app.app_context():
        rows = list(db.session.scalars(select(HookJob).order_by(HookJob.id)))
        db.session.expunge_all()
        return rows


def attempts(app: Flask, job_id: int) -> list[HookAttempt]:
    with app.app_context():
        rows = list(db.session.scalars(select(HookAttempt).where(HookAttempt.hook_job_id == job_id)))
        db.session.expunge_all()
        return rows


def work(app: Flask, redis_url: str) -> None:
    run_worker(app, redis_url, burst=True)


@pytest.fixture
def https_sink(tmp_path: Path) -> Iterator[Sink]:
    server = Sink(tls=tls_context(tmp_path))
    yield server
    server.close()


def test_push_creates_a_pending_hook_job_enqueued_under_its_uuid_then_delivered(
    hook_app: Flask, redis_db: str, sink: Sink
) -> None:
    add_policy(hook_app, [{"address": sink.url, "auth_header": SECRET}])
    push(hook_app)

    (job,) = jobs(hook_app)
    assert (job.status, job.attempt_count, job.event_type, job.notify_type) == ("pending", 0, "PUSH_ARTIFACT", "http")
    queued = Queue("hooks", connection=redis.Redis.from_url(redis_db)).job_ids
    assert queued == [job.uuid]
    assert sink.received == []

    before = int(time.time())
    work(hook_app, redis_db)
    (request,) = sink.wait_for(1)
    assert request.method == "POST" and request.path == "/hook"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == SECRET
    assert request.headers["user-agent"].startswith("Dockhook/")
    assert request.headers["webhook-id"] == job.uuid
    assert before <= int(request.headers["webhook-timestamp"]) <= int(time.time())
    assert request.body.decode() == job.payload
    payload = json.loads(request.body)
    assert payload["type"] == "PUSH_ARTIFACT"
    assert payload["operator"] == ""
    (manifest_event,) = replay.deliveries("push_oci_alpine_3.19")[-1].events()
    # occur_at is when the registry says it happened, in seconds (Harbor used its own clock).
    assert payload["occur_at"] == int(datetime.fromisoformat(manifest_event["timestamp"]).timestamp())
    assert payload["event_data"]["resources"] == [
        {"digest": ALPINE, "tag": "3.19", "resource_url": "127.0.0.1:36851/library/alpine:3.19"}
    ]
    repository = payload["event_data"]["repository"]
    assert {k: repository[k] for k in ("name", "namespace", "repo_full_name", "repo_type")} == {
        "name": "alpine",
        "namespace": "library",
        "repo_full_name": "library/alpine",
        "repo_type": "private",
    }
    assert isinstance(repository["date_created"], int)

    (done,) = jobs(hook_app)
    assert (done.status, done.attempt_count, done.last_status_code) == ("success", 1, 200)
    (attempt,) = attempts(hook_app, done.id)
    assert (attempt.number, attempt.status_code, attempt.error_class, attempt.response_body) == (1, 200, "", "ok")
    assert SECRET not in json.dumps(attempt.__dict__, default=str)


def test_three_policies_with_two_targets_fan_out_to_six_deliveries(hook_app: Flask, redis_db: str) -> None:
    first, second = Sink(), Sink()
    try:
        for name in ("a", "b", "c"):
            add_policy(hook_app, [{"address": first.url}, {"address": second.url}], name=name)
        add_policy(hook_app, [{"address": first.url}], name="pulls-only", event_types=("PULL_ARTIFACT",))
        add_policy(hook_app, [{"address": first.url}], name="disabled", enabled=False)
        push(hook_app)
        assert len(jobs(hook_app)) == 6
        work(hook_app, redis_db)
        got = first.wait_for(3) + second.wait_for(3)
        assert len(first.received) == 3 and len(second.received) == 3
        assert len({r.headers["webhook-id"] for r in got}) == 6
        assert {j.status for j in jobs(hook_app)} == {"success"}
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize(
    ("reply", "status_code", "error_class"),
    [
        (Reply(status=500, body=b"boom"), 500, "http_status"),
        (Reply(status=404), 404, "http_status"),
        (Reply(status=302, headers={"Location": "http://127.0.0.1:1/elsewhere"}), 302, "redirect"),
        (Reply(delay=2.5), None, "read_timeout"),
    ],
)
def test_a_failing_target_ends_in_error_with_the_attempt_recorded(
    hook_app: Flask, redis_db: str, sink: Sink, reply: Reply, status_code: int | None, error_class: str
) -> None:
    sink.respond = lambda _: reply
    add_policy(hook_app, [{"address": sink.url}])
    push(hook_app)
    work(hook_app, redis_db)
    (job,) = jobs(hook_app)
    assert job.status == "error"
    assert len(sink.received) == 1, "a redirect is not followed, a failure is not retried yet"
    (attempt,) = attempts(hook_app, job.id)
    assert (attempt.status_code, attempt.error_class, attempt.outcome) == (status_code, error_class, "error")
    assert job.last_error


def test_connection_refused_is_an_error_with_its_class(hook_app: Flask, redis_db: str) -> None:
    add_policy(hook_app, [{"address": closed_port_url()}])
    push(hook_app)
    work(hook_app, redis_db)
    (job,) = jobs(hook_app)
    (attempt,) = attempts(hook_app, job.id)
    assert (job.status, attempt.status_code, attempt.error_class) == ("error", None, "connection_refused")


def test_self_signed_https_fails_tls_unless_skip_cert_verify(hook_app: Flask, redis_db: str, https_sink: Sink) -> None:
    add_policy(hook_app, [{"address": https_sink.url, "skip_cert_verify": False}], name="verify")
    add_policy(hook_app, [{"address": https_sink.url, "skip_cert_verify": True}], name="skip")
    push(hook_app)
    work(hook_app, redis_db)
    verify, skip = jobs(hook_app)
    assert (verify.status, attempts(hook_app, verify.id)[0].error_class) == ("error", "tls_error")
    assert (skip.status, attempts(hook_app, skip.id)[0].status_code) == ("success", 200)
    assert [r.headers["webhook-id"] for r in https_sink.wait_for(1)] == [skip.uuid]


def test_cloudevents_targets_get_a_structured_cloudevent(hook_app: Flask, redis_db: str, sink: Sink) -> None:
    policy_id = add_policy(hook_app, [{"address": sink.url, "payload_format": "CloudEvents"}])
    push(hook_app)
    work(hook_app, redis_db)
    (request,) = sink.wait_for(1)
    (job,) = jobs(hook_app)
    assert request.headers["content-type"] == "application/cloudevents+json"
    event = json.loads(request.body)
    assert event["specversion"] == "1.0"
    assert event["id"] == job.uuid == request.headers["webhook-id"]
    assert event["type"] == "harbor.artifact.pushed"
    assert event["source"] == f"/projects/{job.project_id}/webhook/policies/{policy_id}"
    assert event["data"]["resources"][0]["tag"] == "3.19"


def test_redis_down_still_answers_200_and_leaves_the_rows_pending(make_app: Callable[..., Flask], sink: Sink) -> None:
    app = make_app(notify_token=replay.TOKEN, redis_url=f"redis://{closed_port_url()[7:].split('/')[0]}/0")
    add_policy(app, [{"address": sink.url}])
    body = push(app)
    assert body["recorded"] == 1
    (job,) = jobs(app)
    assert (job.status, job.attempt_count) == ("pending", 0)


def test_global_switch_off_records_events_but_creates_no_hook_jobs(hook_app: Flask, sink: Sink) -> None:
    add_policy(hook_app, [{"address": sink.url}])
    with hook_app.app_context():
        db.session.add(Configuration(key="notification_enable", value=False))
        db.session.commit()
    assert push(hook_app)["published"] == ["PUSH_ARTIFACT"]
    assert jobs(hook_app) == []


def test_a_second_run_of_a_delivered_job_is_a_no_op(hook_app: Flask, redis_db: str, sink: Sink) -> None:
    add_policy(hook_app, [{"address": sink.url}])
    push(hook_app)
    work(hook_app, redis_db)
    (job,) = jobs(hook_app)
    with hook_app.app_context():
        assert deliver(job.id) == "skipped"
    assert len(sink.received) == 1
    assert len(attempts(hook_app, job.id)) == 1
    assert jobs(hook_app)[0].status == "success"


def test_a_resent_registry_event_creates_no_second_hook_job(hook_app: Flask, sink: Sink) -> None:
    add_policy(hook_app, [{"address": sink.url}])
    push(hook_app)
    push(hook_app)
    assert len(jobs(hook_app)) == 1


def test_resource_url_uses_the_configured_external_url(
    make_app: Callable[..., Flask], redis_db: str, sink: Sink
) -> None:
    app = make_app(notify_token=replay.TOKEN, redis_url=redis_db, external_url="https://registry.example.com:8443")
    add_policy(app, [{"address": sink.url}])
    push(app)
    work(app, redis_db)
    (request,) = sink.wait_for(1)
    resource = json.loads(request.body)["event_data"]["resources"][0]
    assert resource["resource_url"] == "registry.example.com:8443/library/alpine:3.19"


def test_a_target_with_a_secret_gets_a_standard_webhooks_signature(hook_app: Flask, redis_db: str, sink: Sink) -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    add_policy(hook_app, [{"address": sink.url, "secret": secret}], name="signed")
    add_policy(hook_app, [{"address": sink.url}], name="unsigned")
    push(hook_app)
    work(hook_app, redis_db)
    signed, unsigned = sorted(sink.wait_for(2), key=lambda r: "webhook-signature" not in r.headers)
    assert "webhook-signature" not in unsigned.headers
    # Verified independently of Dockhook's code: HMAC-SHA256 over "id.timestamp.body" with the decoded key.
    content = f"{signed.headers['webhook-id']}.{signed.headers['webhook-timestamp']}.".encode() + signed.body
    expected = base64.b64encode(hmac.new(b"k" * 32, content, hashlib.sha256).digest()).decode()
    assert signed.headers["webhook-signature"] == f"v1,{expected}"
    job = next(j for j in jobs(hook_app) if j.uuid == signed.headers["webhook-id"])
    shown = hook_app.test_client().get(f"/api/v2.0/hook-jobs/{job.uuid}")
    assert secret not in shown.get_data(as_text=True)
    assert "secret" not in shown.get_json()["target"], "a hook job keeps no credential of its target"


def test_slack_targets_get_block_kit_at_most_once_a_second(hook_app: Flask, redis_db: str, sink: Sink) -> None:
    for name in ("slack-a", "slack-b", "slack-c"):
        add_policy(hook_app, [{"type": "slack", "address": sink.url, "payload_format": ""}], name=name)
    push(hook_app)
    assert {j.notify_type for j in jobs(hook_app)} == {"slack"}
    # One RQ job carries the fan-out (app.queue.BATCH): three hook jobs on the slack queue.
    assert len(queue.queued_hook_jobs(redis_db, "slack")) == 3
    work(hook_app, redis_db)
    received = sorted(sink.wait_for(3), key=lambda r: r.at)
    assert len(received) == 3
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(received)]
    assert min(gaps) >= 0.9, gaps
    message = json.loads(received[0].body)
    assert [b["type"] for b in message["blocks"]] == ["section"] * 6
    assert "PUSH_ARTIFACT" in message["blocks"][1]["text"]["text"]
    assert "authorization" not in received[0].headers
    assert {j.status for j in jobs(hook_app)} == {"success"}
