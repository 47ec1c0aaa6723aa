"""System-wide policies (/api/v2.0/webhook/policies): one policy for every project's events, with filters; their
hook jobs belong to no project, so only system administrators see them."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import Event, HookJob
from tests.support import replay
from tests.support.sinks import Sink
from tests.support.state import send
from worker import run_worker

SYSTEM = "/api/v2.0/webhook/policies"


@pytest.fixture
def hook_app(make_app: Callable[..., Flask], redis_db: str) -> Flask:
    import ipaddress

    return make_app(
        notify_token=replay.TOKEN,
        redis_url=redis_db,
        retry_schedule=(),
        allowed_target_networks=(ipaddress.ip_network("127.0.0.0/8"),),
    )


def replay_push(client: FlaskClient, scenario: str) -> None:
    for delivery in replay.deliveries(scenario):
        assert send(client, delivery)[0] == 200


def test_a_system_wide_policy_receives_the_events_of_every_project(hook_app: Flask, redis_db: str, sink: Sink) -> None:
    client = hook_app.test_client()
    for name in ("library", "team-a"):
        assert client.post("/api/v2.0/projects", json={"project_name": name}).status_code == 201
    target = {"type": "http", "address": sink.url, "payload_format": "CloudEvents"}
    made = client.post(SYSTEM, json={"name": "everywhere", "targets": [target], "event_types": ["PUSH_ARTIFACT"]})
    assert made.status_code == 201, made.get_json()
    policy_id = int(made.headers["Location"].rsplit("/", 1)[1])
    filtered = {"name": "no-team-a", "targets": [target], "event_types": ["PUSH_ARTIFACT"]}
    assert client.post(SYSTEM, json={**filtered, "filters": {"repositories": ["!team-a/**"]}}).status_code == 201
    project_policy = {"name": "own", "targets": [target], "event_types": ["PUSH_ARTIFACT"]}
    own = client.post("/api/v2.0/projects/team-a/webhook/policies", json=project_policy)
    assert own.status_code == 201
    own_id = int(own.headers["Location"].rsplit("/", 1)[1])

    replay_push(client, "push_oci_alpine_3.19")
    replay_push(client, "push_oci_nested_team-a_sub_app_1.0")

    with hook_app.app_context():
        rows = db.session.execute(
            select(HookJob.policy_name, HookJob.project_id, Event.repository)
            .join(Event, Event.id == HookJob.event_id)
            .order_by(HookJob.id)
        ).all()
        team_a = db.session.scalar(select(Event.project_id).where(Event.repository == "team-a/sub/app"))
    assert sorted(tuple(r) for r in rows) == sorted(
        [
            ("everywhere", None, "library/alpine"),
            ("no-team-a", None, "library/alpine"),
            ("everywhere", None, "team-a/sub/app"),
            ("own", team_a, "team-a/sub/app"),
        ]
    )
    # A project's job list shows its own policies' jobs only.
    listed = client.get("/api/v2.0/projects/team-a/webhook/hook-jobs").get_json()
    assert [job["policy_name"] for job in listed] == ["own"]

    run_worker(hook_app, redis_db, burst=True)
    received = sink.wait_for(4)
    assert len(received) == 4
    sources = sorted(json.loads(r.body)["source"] for r in received)
    assert sources.count(f"/webhook/policies/{policy_id}") == 2
    assert f"/projects/{team_a}/webhook/policies/{own_id}" in sources
    namespaces = sorted(json.loads(r.body)["data"]["repository"]["namespace"] for r in received)
    assert namespaces == ["library", "library", "team-a", "team-a"]


def test_system_wide_policies_crud(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    assert client.post("/api/v2.0/projects", json={"project_name": "library"}).status_code == 201
    body = {
        "name": "all",
        "targets": [{"type": "http", "address": "https://hooks.example.com/in"}],
        "event_types": ["pushImage"],
        "filters": {"tags": ["v*"]},
    }
    location = client.post(SYSTEM, json=body).headers["Location"]
    assert client.post(SYSTEM, json=body).status_code == 409, "names are unique among system-wide policies"
    assert client.post("/api/v2.0/projects/library/webhook/policies", json=body).status_code == 201, (
        "a project policy may share the name"
    )
    shown = client.get(location).get_json()
    assert (shown["project_id"], shown["event_types"], shown["filters"]) == (None, ["PUSH_ARTIFACT"], {"tags": ["v*"]})
    assert [p["name"] for p in client.get(SYSTEM).get_json()] == ["all"], "project policies are not listed"
    project_policy = client.get("/api/v2.0/projects/library/webhook/policies").get_json()[0]["id"]
    assert client.get(f"{SYSTEM}/{project_policy}").status_code == 404
    assert client.get(f"/api/v2.0/projects/library/webhook/policies/{shown['id']}").status_code == 404
    update = {k: v for k, v in body.items() if k != "filters"} | {"enabled": False}
    assert client.put(location, json=update).status_code == 200
    assert client.get(location).get_json()["filters"] == {"tags": ["v*"]}, "kept by a PUT that omits them"
    assert client.get(location).get_json()["enabled"] is False
    assert client.put(location, json={**update, "targets": []}).status_code == 400
    assert client.delete(location).status_code == 200
    assert client.get(location).status_code == 404
