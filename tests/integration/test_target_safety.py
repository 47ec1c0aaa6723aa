"""At send time: a denied address is never connected to, credentials are read from the policy, never copied,
and never rest in clear; replaced signing secrets keep signing through the rotation overlap."""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, select
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app import clock
from app.extensions import db
from app.models import Configuration, HookJob, WebhookPolicy
from app.services import credentials, projects
from jobs import sender
from jobs.deliver import deliver
from tests.integration.test_delivery import attempts, jobs, push, work
from tests.support import databases, replay
from tests.support.connects import Watch
from tests.support.dns import PUBLIC, FakeDNS
from tests.support.settings import NEW_SECRET_KEY, SECRET_KEY
from tests.support.sinks import Reply, Sink

POLICIES = "/api/v2.0/projects/library/webhook/policies"
OLD_HEADER = "Bearer old-header-5b7d1e"
NEW_HEADER = "Bearer new-header-c93a04"
SIGNING = ["whsec_" + base64.b64encode(bytes([n]) * 32).decode() for n in (7, 8)]


def create_policy(app: Flask, targets: list[dict[str, Any]], name: str = "ci") -> str:
    client = app.test_client()
    if client.get("/api/v2.0/projects/library").status_code == 404:
        assert client.post("/api/v2.0/projects", json={"project_name": "library"}).status_code == 201
    body = {"name": name, "targets": [{"type": "http", **t} for t in targets], "event_types": ["PUSH_ARTIFACT"]}
    response = client.post(POLICIES, json=body)
    assert response.status_code == 201, response.get_json()
    return str(response.headers["Location"])


def update_policy(app: Flask, location: str, **target: Any) -> None:
    client = app.test_client()
    shown = client.get(location).get_json()
    shown["targets"][0].update(target)
    assert client.put(location, json=shown).status_code == 200


def connected_to(watch: Watch, port: int) -> list[tuple[str, int]]:
    return [endpoint for endpoint in watch.endpoints if endpoint[1] == port]


def test_a_name_that_resolves_to_a_denied_address_only_at_send_time_is_blocked_before_any_connect(
    make_app: Callable[..., Flask], redis_db: str, sink: Sink, watch: Watch
) -> None:
    dns = FakeDNS({"hooks.example.test": [PUBLIC]})
    app = make_app(
        notify_token=replay.TOKEN, redis_url=redis_db, resolver=dns, allowed_target_networks=(), retry_schedule=(1, 1)
    )
    port = sink.server.server_address[1]
    create_policy(app, [{"address": f"http://hooks.example.test:{port}/hook", "auth_header": OLD_HEADER}])
    dns.answers["hooks.example.test"] = ["127.0.0.1"]  # DNS rebinding: public when saved, loopback when sent
    push(app)
    work(app, redis_db)

    (job,) = jobs(app)
    (attempt,) = attempts(app, job.id)
    assert (job.status, job.attempt_count) == ("error", 1), "blocked is final: no retry"
    assert (attempt.error_class, attempt.outcome, attempt.status_code) == ("blocked_address", "error", None)
    assert "127.0.0.1 is loopback" in attempt.error_message
    assert "DOCKHOOK_ALLOWED_TARGET_NETWORKS" in attempt.error_message
    assert connected_to(watch, port) == [] and sink.received == []
    assert "hooks.example.test" in dns.asked


# Stored as if saved before the guard existed (or the network was allowed then): the worker still refuses.
DENIED_AT_SEND = [
    "http://127.0.0.1:{port}/hook",
    "http://[::ffff:127.0.0.1]:{port}/hook",
    "http://2130706433:{port}/hook",
    "http://0x7f000001:{port}/hook",
    "http://127.1:{port}/hook",
    "http://[::1]:{port}/hook",
    "http://169.254.169.254:{port}/latest/meta-data",
    "http://10.0.0.1:{port}/hook",
]


def test_every_denied_literal_is_blocked_at_send_time_without_a_connect(
    make_app: Callable[..., Flask], redis_db: str, sink: Sink, watch: Watch
) -> None:
    app = make_app(notify_token=replay.TOKEN, redis_url=redis_db, allowed_target_networks=(), retry_schedule=(1,))
    port = sink.server.server_address[1]
    with app.app_context():
        owner = projects.ensure("library")
        targets = [
            {"type": "http", "address": a.format(port=port), "auth_header_enc": "", "secret_enc": ""}
            for a in DENIED_AT_SEND
        ]
        db.session.add(WebhookPolicy(project_id=owner.id, name="old", event_types=["PUSH_ARTIFACT"], targets=targets))
        db.session.commit()
    push(app)
    work(app, redis_db)

    found = jobs(app)
    assert len(found) == len(DENIED_AT_SEND)
    for job in found:
        (attempt,) = attempts(app, job.id)
        assert (job.status, attempt.error_class) == ("error", "blocked_address"), job.target["address"]
    assert connected_to(watch, port) == [] and sink.received == []


def test_a_retry_after_a_credential_change_sends_the_new_header_and_nothing_rests_in_clear(
    make_app: Callable[..., Flask], redis_db: str, sink: Sink, database_url: str
) -> None:
    replies = iter([Reply(status=503)])
    sink.respond = lambda _: next(replies, Reply())
    app = make_app(notify_token=replay.TOKEN, redis_url=redis_db, retry_schedule=(1,))
    location = create_policy(app, [{"address": sink.url, "auth_header": OLD_HEADER, "secret": SIGNING[0]}])
    push(app)
    work(app, redis_db)
    (job,) = jobs(app)
    assert job.status == "scheduled"
    assert "auth_header" not in job.target and "secret" not in job.target and "auth_header_enc" not in job.target

    update_policy(app, location, auth_header=NEW_HEADER, secret=SIGNING[1])
    with app.app_context():
        assert deliver(job.id) == "success"
    assert app.test_client().post(f"/api/v2.0/hook-jobs/{job.uuid}/redeliver").status_code == 202
    work(app, redis_db)
    first, retry, redelivery = sink.wait_for(3)
    assert first.headers["authorization"] == OLD_HEADER
    assert retry.headers["authorization"] == redelivery.headers["authorization"] == NEW_HEADER
    assert {r.headers["webhook-id"] for r in (first, retry, redelivery)} == {job.uuid}

    # The operator rotates keys: the new one first, the old one kept until `secrets rotate` ran.
    rotating = make_app(secret_keys=(NEW_SECRET_KEY, SECRET_KEY))
    with rotating.app_context():
        assert credentials.rotate() == 3  # the header, the new secret and the one still in its overlap
    new_only = make_app(notify_token=replay.TOKEN, redis_url=redis_db, secret_keys=(NEW_SECRET_KEY,))
    with new_only.app_context():
        assert credentials.startup_problem() is None
    assert new_only.test_client().post(f"/api/v2.0/hook-jobs/{job.uuid}/redeliver").status_code == 202
    work(new_only, redis_db)
    assert sink.wait_for(4)[-1].headers["authorization"] == NEW_HEADER
    old_only = make_app(secret_keys=(SECRET_KEY,))
    with old_only.app_context():
        problem = credentials.startup_problem()
    assert problem is not None and "cannot decrypt" in problem and "secrets rotate" in problem

    stored = databases.contents(database_url)
    for secret in (OLD_HEADER, NEW_HEADER, *SIGNING, *(s.removeprefix("whsec_") for s in SIGNING)):
        assert secret.encode() not in stored, "a credential rests in clear in the database"


def test_deleting_a_policy_removes_its_secrets_and_its_jobs_keep_their_history(
    make_app: Callable[..., Flask], redis_db: str, sink: Sink
) -> None:
    app = make_app(notify_token=replay.TOKEN, redis_url=redis_db, retry_schedule=())
    location = create_policy(app, [{"address": sink.url, "auth_header": OLD_HEADER}])
    push(app)
    work(app, redis_db)
    (job,) = jobs(app)
    client = app.test_client()
    assert client.delete(location).status_code == 200
    with app.app_context():
        assert db.session.scalars(select(WebhookPolicy)).all() == []
        kept = db.session.scalars(select(HookJob)).one()
        assert kept.target == {
            "type": "http",
            "address": sink.url,
            "skip_cert_verify": False,
            "payload_format": "Default",
        }
    shown = client.get(f"/api/v2.0/hook-jobs/{job.uuid}")
    assert shown.status_code == 200 and shown.get_json()["status"] == "success"
    refused = client.post(f"/api/v2.0/hook-jobs/{job.uuid}/redeliver")
    assert refused.status_code == 409 and "credentials" in refused.get_json()["errors"][0]["message"]


def test_a_job_whose_target_was_removed_ends_without_sending(
    make_app: Callable[..., Flask], redis_db: str, sink: Sink
) -> None:
    app = make_app(notify_token=replay.TOKEN, redis_url=redis_db, retry_schedule=())
    location = create_policy(app, [{"address": sink.url + "/a"}, {"address": sink.url + "/b"}])
    push(app)  # two pending jobs; then the first target goes away before a worker runs
    client = app.test_client()
    shown = client.get(location).get_json()
    shown["targets"] = shown["targets"][1:]
    assert client.put(location, json=shown).status_code == 200
    work(app, redis_db)

    removed, kept = jobs(app)
    (attempt,) = attempts(app, removed.id)
    assert (removed.status, attempt.error_class) == ("error", "target_removed")
    assert kept.status == "success"
    assert [r.path for r in sink.received] == ["/hook/b"]


def test_a_replaced_signing_secret_keeps_signing_through_the_overlap_then_stops(
    make_app: Callable[..., Flask], redis_db: str, sink: Sink
) -> None:
    app = make_app(notify_token=replay.TOKEN, redis_url=redis_db, retry_schedule=(), secret_rotation_overlap=60)
    location = create_policy(app, [{"address": sink.url, "secret": SIGNING[0]}])
    update_policy(app, location, secret=SIGNING[1])
    push(app)
    work(app, redis_db)
    (during,) = sink.wait_for(1)
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    for secret in SIGNING:  # a consumer holding either secret verifies it, as Standard Webhooks defines
        assert Webhook(secret).verify(during.body, during.headers) is not None

    # Sending the mask (or the same secret) again keeps the overlap that is running; it does not restart it.
    update_policy(app, location, description="edited")
    (job,) = jobs(app)
    with clock.replaced(lambda: clock.system_now() + timedelta(seconds=61)):
        assert app.test_client().post(f"/api/v2.0/hook-jobs/{job.uuid}/redeliver").status_code == 202
        work(app, redis_db)
    after = sink.wait_for(2)[-1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert Webhook(SIGNING[1]).verify(after.body, after.headers) is not None
    with pytest.raises(WebhookVerificationError):
        Webhook(SIGNING[0]).verify(after.body, after.headers)


def test_a_target_without_an_allowed_network_is_refused_when_saved_but_loopback_is_fine_when_allowed(
    make_app: Callable[..., Flask], sink: Sink
) -> None:
    closed = make_app(allowed_target_networks=())
    client = closed.test_client()
    assert client.post("/api/v2.0/projects", json={"project_name": "library"}).status_code == 201
    body = {"name": "local", "targets": [{"type": "http", "address": sink.url}], "event_types": ["PUSH_ARTIFACT"]}
    assert client.post(POLICIES, json=body).status_code == 400
    opened = make_app(allowed_target_networks=(ipaddress.ip_network("127.0.0.0/8"),))
    assert opened.test_client().post(POLICIES, json=body).status_code == 201


def test_a_stored_header_requests_refuses_is_an_attempt_that_never_quotes_it(
    make_app: Callable[..., Flask], redis_db: str, sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    """A header saved before validation existed (leading whitespace): requests refuses it, quoting it; we don't."""
    app = make_app(notify_token=replay.TOKEN, redis_url=redis_db, retry_schedule=())
    with app.app_context():
        owner = projects.ensure("library")
        target = {"type": "http", "address": sink.url, "auth_header_enc": credentials.encrypt(f" {OLD_HEADER}")}
        db.session.add(WebhookPolicy(project_id=owner.id, name="old", event_types=["PUSH_ARTIFACT"], targets=[target]))
        db.session.commit()
    push(app)
    work(app, redis_db)
    (job,) = jobs(app)
    (attempt,) = attempts(app, job.id)
    assert (job.status, attempt.error_class) == ("error", "invalid_header")
    shown = app.test_client().get(f"/api/v2.0/hook-jobs/{job.uuid}").get_data(as_text=True)
    log = app.test_client().get(
        f"/api/v2.0/projects/library/webhook/policies/{job.policy_id}/executions/{job.id}/tasks/{job.id}/log"
    )
    for text in (attempt.error_message, job.last_error, shown, log.get_data(as_text=True), caplog.text):
        assert "old-header" not in text
    assert sink.received == []


def test_reprs_of_what_carries_credentials_show_none() -> None:
    request = sender.Request(
        hook_id="id",
        address="https://ci.example.com/in",
        body=b"{}",
        content_type="application/json",
        auth_header=OLD_HEADER,
        secrets=(SIGNING[0],),
    )
    target = credentials.TargetCredentials(
        address="https://x", skip_cert_verify=False, auth_header=OLD_HEADER, signing_secrets=(SIGNING[0],)
    )
    for shown in (repr(request), repr(target)):
        assert OLD_HEADER not in shown and SIGNING[0] not in shown


def test_processes_starting_together_on_a_database_without_the_key_check_all_start(
    make_app: Callable[..., Flask], database_url: str
) -> None:
    """make run starts web, worker and sweeper at once: the one that stores the key check value first wins, and the
    others check their keys against it instead of failing on the duplicate."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite: BEGIN IMMEDIATE takes the write lock at the first read, so the two cannot interleave")
    app = make_app()
    other = make_app()
    with other.app_context():
        db.session.execute(delete(Configuration).where(Configuration.key == credentials.KEY_CHECK))
        db.session.commit()

    def store_first(_session: Session) -> None:
        # Another process commits its check value between this one's read (none) and its commit.
        with other.app_context():
            credentials.check_keys()

    with app.app_context():
        sa_event.listen(db.session(), "before_commit", store_first, once=True)
        assert credentials.startup_problem() is None
        assert db.session.get(Configuration, credentials.KEY_CHECK) is not None
