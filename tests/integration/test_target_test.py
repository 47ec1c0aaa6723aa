"""Test a target: a ``ping`` sent by a real worker process (``python worker.py``) through the delivery sender, SSRF
guard and signing, answered within 5 s with status, latency and a body excerpt; at most 10 per policy per minute."""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from app.extensions import db
from app.models import Event, HookAttempt, HookJob
from tests.support import processes
from tests.support.sinks import Reply, Sink, closed_port_url

POLICIES = "/api/v2.0/projects/library/webhook/policies"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
AUTH = "Bearer t3st-target-token-4e1b"
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


@pytest.fixture
def api(make_app: Callable[..., Flask], redis_db: str) -> FlaskClient:
    """The API on the session's database and Redis, loopback targets allowed (so a sink can be saved)."""
    client = make_app(redis_url=redis_db, allowed_target_networks=LOOPBACK).test_client()
    assert client.post("/api/v2.0/projects", json={"project_name": "library"}).status_code == 201
    return client


@pytest.fixture
def start_worker(database_url: str, redis_db: str, tmp_path: Path) -> Iterator[Callable[..., processes.Process]]:
    """``python worker.py`` on the test's database and Redis with the given environment; stopped by PID."""
    started: list[processes.Process] = []

    def start(**settings: str) -> processes.Process:
        env = processes.clean_env(DATABASE_URL=database_url, REDIS_URL=redis_db, **settings)
        process = processes.start(
            "worker", [str(processes.VENV_BIN / "python"), "worker.py"], tmp_path, env=env, cwd=processes.ROOT
        )
        started.append(process)
        connection = redis.Redis.from_url(redis_db)
        processes.wait_until(
            lambda: connection.scard("rq:workers") >= 1 and bool(connection.keys("dockhook:heartbeat:worker:*")),
            timeout=30,
            what="the worker registering and beating",
            processes=[process],
        )
        return process

    yield start
    for process in started:
        process.stop()


def add_policy(client: FlaskClient, targets: list[dict[str, Any]]) -> str:
    body = {"name": "tested", "targets": targets, "event_types": ["PUSH_ARTIFACT"]}
    response = client.post(POLICIES, json=body)
    assert response.status_code == 201, response.get_json()
    return str(response.headers["Location"])


def nothing_recorded(client: FlaskClient) -> bool:
    with client.application.app_context():
        return all(
            db.session.scalar(select(func.count()).select_from(model)) == 0 for model in (Event, HookJob, HookAttempt)
        )


def test_a_target_test_sends_a_signed_ping_and_answers_status_latency_and_body(
    api: FlaskClient, sink: Sink, start_worker: Callable[..., processes.Process]
) -> None:
    start_worker()
    sink.respond = lambda _: Reply(status=202, body=b'{"accepted": true, "note": "' + b"x" * 3000 + b'"}')
    location = add_policy(
        api,
        [
            {"type": "http", "address": closed_port_url()},
            {"type": "http", "address": sink.url, "auth_header": AUTH, "secret": SECRET},
        ],
    )
    began = time.monotonic()
    response = api.post(f"{location}/targets/1/test")
    assert time.monotonic() - began < 5.5
    assert response.status_code == 200, response.get_json()
    result = response.get_json()
    assert (result["index"], result["ok"], result["status_code"], result["error_class"]) == (1, True, 202, "")
    assert isinstance(result["latency_ms"], int) and 0 <= result["latency_ms"] < 5000
    assert result["body_excerpt"].startswith('{"accepted": true') and len(result["body_excerpt"]) == 1024

    (request,) = sink.wait_for(1)
    assert request.headers["authorization"] == AUTH
    assert request.headers["webhook-id"] == result["webhook_id"]
    Webhook(SECRET).verify(request.body, request.headers)  # raises unless signed as deliveries are
    ping = json.loads(request.body)
    assert ping["type"] == "PING" and ping["event_data"]["target_index"] == 1
    assert nothing_recorded(api), "a test makes no event, hook job or attempt"
    assert AUTH not in response.get_data(as_text=True)

    refused = api.post(f"{location}/targets/0/test").get_json()
    assert (refused["ok"], refused["status_code"], refused["error_class"]) == (False, None, "connection_refused")
    assert api.post(f"{location}/targets/2/test").status_code == 404


def test_a_cloudevents_target_gets_a_dockhook_ping_and_a_slow_target_is_cut_within_5_s(
    api: FlaskClient, sink: Sink, start_worker: Callable[..., processes.Process]
) -> None:
    start_worker()
    location = add_policy(api, [{"type": "http", "address": sink.url, "payload_format": "CloudEvents"}])
    answer = api.post(f"{location}/targets/0/test").get_json()
    assert answer["ok"] is True
    (request,) = sink.wait_for(1)
    assert request.headers["content-type"] == "application/cloudevents+json"
    assert json.loads(request.body)["type"] == "dockhook.ping"

    sink.respond = lambda _: Reply(delay=4.0)
    began = time.monotonic()
    slow = api.post(f"{location}/targets/0/test").get_json()
    assert time.monotonic() - began < 5.5
    assert (slow["ok"], slow["error_class"]) == (False, "read_timeout")


def test_a_target_in_a_network_the_workers_deny_is_refused_and_nothing_is_sent(
    api: FlaskClient, sink: Sink, start_worker: Callable[..., processes.Process]
) -> None:
    # Saved while loopback was allowed; the workers, which send, allow no private network at all.
    location = add_policy(api, [{"type": "http", "address": sink.url}])
    start_worker(DOCKHOOK_ALLOWED_TARGET_NETWORKS="")
    answer = api.post(f"{location}/targets/0/test").get_json()
    assert (answer["ok"], answer["status_code"], answer["error_class"]) == (False, None, "blocked_address")
    assert "loopback" in answer["error_message"]
    time.sleep(0.2)
    assert sink.received == []


def test_the_body_form_checks_the_targets_like_a_save_and_tests_each(
    make_app: Callable[..., Flask], redis_db: str, sink: Sink, start_worker: Callable[..., processes.Process]
) -> None:
    denied = make_app(redis_url=redis_db, allowed_target_networks=()).test_client()
    assert denied.post("/api/v2.0/projects", json={"project_name": "library"}).status_code == 201
    body = {"name": "draft", "targets": [{"type": "http", "address": sink.url}], "event_types": ["PUSH_ARTIFACT"]}
    for path in (f"{POLICIES}/test", "/api/projects/1/webhook/policies/test"):
        response = denied.post(path, json=body)
        assert response.status_code == 400, "a denied address is refused before anything is sent"
        assert "loopback" in response.get_json()["errors"][0]["message"]
    assert sink.received == []

    allowed = make_app(redis_url=redis_db, allowed_target_networks=LOOPBACK).test_client()
    start_worker()
    two = {**body, "targets": [body["targets"][0], {"type": "slack", "address": sink.url + "/slack"}]}
    answer = allowed.post("/api/projects/1/webhook/policies/test", json=two)
    assert answer.status_code == 200, answer.get_json()
    assert [(t["index"], t["type"], t["ok"]) for t in answer.get_json()["targets"]] == [
        (0, "http", True),
        (1, "slack", True),
    ]
    by_path = {r.path: json.loads(r.body) for r in sink.wait_for(2)}
    assert by_path["/hook"]["type"] == "PING"
    assert "blocks" in by_path["/hook/slack"]
    masked = {**body, "targets": [{**body["targets"][0], "auth_header": "******"}]}
    assert allowed.post(f"{POLICIES}/test", json=masked).status_code == 400, "nothing stored to keep"


def test_at_most_10_tests_per_policy_per_minute_then_429_with_retry_after(api: FlaskClient, sink: Sink) -> None:
    location = add_policy(api, [{"type": "http", "address": sink.url}])
    other = api.post(
        POLICIES,
        json={"name": "other", "targets": [{"type": "http", "address": sink.url}], "event_types": ["PUSH_ARTIFACT"]},
    )
    # No worker runs: each test answers at once that none would send it (and nothing is queued).
    answers = [api.post(f"{location}/targets/0/test") for _ in range(10)]
    assert {(a.status_code, a.get_json()["error_class"]) for a in answers} == {(200, "no_worker")}
    refused = api.post(f"{location}/targets/0/test")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "10" in refused.get_json()["errors"][0]["message"]
    assert api.post(f"{other.headers['Location']}/targets/0/test").status_code == 200, "another policy has its own"
    assert sink.received == []
    assert nothing_recorded(api)


def test_chat_and_template_targets_get_the_ping_in_their_own_format(
    api: FlaskClient, sink: Sink, start_worker: Callable[..., processes.Process]
) -> None:
    start_worker(DOCKHOOK_CHAT_INTERVALS="discord=0.01")
    # Checked against a sample push when saved; the ping carries the same top-level fields.
    template = '{"kind": {{ type|tojson }}, "at": {{ occur_at }}}'
    location = add_policy(
        api,
        [
            {"type": "discord", "address": sink.url},
            {"type": "http", "address": sink.url, "payload_format": "Template", "template": template,
             "content_type": "application/vnd.example+json"},
        ],
    )  # fmt: skip
    discord = api.post(f"{location}/targets/0/test").get_json()
    templated = api.post(f"{location}/targets/1/test").get_json()
    assert (discord["ok"], templated["ok"]) == (True, True), (discord, templated)
    first, second = sink.wait_for(2)
    embed = json.loads(first.body)
    assert embed["allowed_mentions"] == {"parse": []} and embed["embeds"][0]["title"], embed
    assert second.headers["content-type"] == "application/vnd.example+json"
    rendered = json.loads(second.body)
    assert rendered["kind"] == "PING" and isinstance(rendered["at"], int), rendered
    assert nothing_recorded(api)
