"""POST /api/v2.0/events: Harbor's scan, quota, replication and retention events from other producers, validated per
type, deduplicated by Idempotency-Key and delivered through the same broker, policies and hook jobs as registry
events; every CloudEvents delivery is parsed by the CNCF cloudevents SDK as a consumer would."""

from __future__ import annotations

import copy
import ipaddress
import json
from collections.abc import Callable
from typing import Any

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select

from app.extensions import db
from app.models import Event, HookJob
from tests.integration.test_delivery import push
from tests.support.sinks import Sink
from worker import run_worker

EVENTS = "/api/v2.0/events"
POLICIES = "/api/v2.0/projects/library/webhook/policies"
DIGEST = "sha256:6e0801e933911f55adeb296638b421b3365c8d9b85dff219f74eb2d5d52add99"
RESOURCE = {"digest": DIGEST, "tag": "3.19", "resource_url": "harbor.example.com/library/alpine:3.19"}
REPOSITORY = {"name": "alpine", "namespace": "library", "repo_full_name": "library/alpine", "repo_type": "private"}
OVERVIEW = {
    "application/vnd.security.vulnerability.report; version=1.1": {
        "report_id": "f3a1",
        "scan_status": "Success",
        "severity": "High",
        "duration": 4,
        "summary": {"total": 3, "fixable": 2, "summary": {"High": 1, "Medium": 2}},
        "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "v0.50.0"},
    }
}
# Harbor's event_data of each type (reference/harbor-webhooks.md §5, copied into the docs).
SAMPLES: dict[str, dict[str, Any]] = {
    "SCANNING_COMPLETED": {
        "resources": [{**RESOURCE, "scan_overview": OVERVIEW}],
        "repository": REPOSITORY,
        "scan": {"scan_type": "vulnerability"},
    },
    "SCANNING_FAILED": {"resources": [RESOURCE], "repository": REPOSITORY, "scan": {"scan_type": "vulnerability"}},
    "SCANNING_STOPPED": {"resources": [RESOURCE], "repository": REPOSITORY, "scan": {"scan_type": "sbom"}},
    "QUOTA_EXCEED": {
        "resources": [{"digest": DIGEST, "tag": "3.19"}],
        "repository": {"name": "alpine", "namespace": "library", "repo_full_name": "library/alpine"},
        "custom_attributes": {"Details": "adding 12.1 MiB of storage resource, which when updated to current usage"},
    },
    "QUOTA_WARNING": {
        "resources": [{"digest": DIGEST}],
        "repository": {"name": "alpine", "namespace": "library", "repo_full_name": "library/alpine"},
        "custom_attributes": {"Details": "quota usage reach 85%: storage 850 MiB of 1 GiB"},
    },
    "REPLICATION": {
        "replication": {
            "harbor_hostname": "harbor.example.com",
            "job_status": "Success",
            "description": "push to hub",
            "artifact_type": "image",
            "authentication_type": "basic",
            "override_mode": True,
            "trigger_type": "MANUAL",
            "policy_creator": "admin",
            "execution_timestamp": 1699999990,
            "src_resource": {
                "registry_type": "harbor",
                "endpoint": "https://harbor.example.com",
                "namespace": "library",
            },
            "dest_resource": {
                "registry_name": "hub",
                "registry_type": "docker-hub",
                "endpoint": "https://hub.docker.com",
                "namespace": "myorg",
            },
            "successful_artifact": [
                {"type": "image", "status": "Success", "name_tag": "app:1.0", "references": ["1.0"]}
            ],
            "execution_id": 12,
            "task_id": 57,
        }
    },
    "TAG_RETENTION": {
        "retention": {
            "total": 3,
            "retained": 2,
            "harbor_hostname": "harbor.example.com",
            "project_name": "library",
            "retention_policy_id": 1,
            "retention_rule": [
                {
                    "template": "latestPushedK",
                    "params": {"latestPushedK": 2},
                    "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}],
                    "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches"}]},
                }
            ],
            "result": "SUCCESS",
            "deleted_artifact": [{"type": "image", "status": "SUCCESS", "name_tag": "alpine:3.17"}],
        }
    },
}
CLOUDEVENTS_TYPES = {
    "SCANNING_COMPLETED": "harbor.scan.completed",
    "SCANNING_FAILED": "harbor.scan.failed",
    "SCANNING_STOPPED": "harbor.scan.stopped",
    "QUOTA_EXCEED": "harbor.quota.exceeded",
    "QUOTA_WARNING": "harbor.quota.warned",
    "REPLICATION": "harbor.replication.status.changed",
    "TAG_RETENTION": "harbor.tag_retention.finished",
}


@pytest.fixture
def hook_app(make_app: Callable[..., Flask], redis_db: str) -> Flask:
    return make_app(
        redis_url=redis_db,
        retry_schedule=(),
        allowed_target_networks=(ipaddress.ip_network("127.0.0.0/8"),),
    )


@pytest.fixture
def api(hook_app: Flask) -> FlaskClient:
    client = hook_app.test_client()
    for name in ("library", "other"):
        assert client.post("/api/v2.0/projects", json={"project_name": name}).status_code == 201
    return client


def publish(client: FlaskClient, kind: str, data: dict[str, Any] | None = None, **extra: Any) -> Any:
    headers = extra.pop("headers", {})
    body = {"type": kind, "project": "library", "event_data": SAMPLES[kind] if data is None else data, **extra}
    return client.post(EVENTS, json=body, headers=headers)


def subscribe(
    client: FlaskClient, name: str, event_types: list[str], targets: list[dict[str, Any]], **extra: Any
) -> None:
    body = {"name": name, "event_types": event_types, "targets": targets, **extra}
    response = client.post(POLICIES, json=body)
    assert response.status_code == 201, response.get_json()


def counts(client: FlaskClient) -> tuple[int, int]:
    with client.application.app_context():
        events = db.session.scalar(select(func.count()).select_from(Event))
        jobs = db.session.scalar(select(func.count()).select_from(HookJob))
        return int(events or 0), int(jobs or 0)


def test_a_published_scan_event_reaches_a_subscribed_policy_in_default_and_cloudevents(
    api: FlaskClient, hook_app: Flask, redis_db: str, sink: Sink
) -> None:
    targets = [
        {"type": "http", "address": sink.url + "/default"},
        {"type": "http", "address": sink.url + "/ce", "payload_format": "CloudEvents"},
    ]
    subscribe(api, "scans", ["SCANNING_COMPLETED"], targets)
    subscribe(api, "pushes", ["PUSH_ARTIFACT"], targets)

    response = publish(api, "SCANNING_COMPLETED", operator="trivy", occur_at=1700000000)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["hook_jobs"] == 2 and response.get_json()["duplicate"] is False
    run_worker(hook_app, redis_db, burst=True)
    received = {r.path: r for r in sink.wait_for(2)}
    assert set(received) == {"/hook/default", "/hook/ce"}

    default = received["/hook/default"]
    assert default.headers["content-type"] == "application/json"
    assert json.loads(default.body) == {
        "type": "SCANNING_COMPLETED",
        "occur_at": 1700000000,
        "operator": "trivy",
        "event_data": SAMPLES["SCANNING_COMPLETED"],
    }
    parsed = from_http_event(HTTPMessage(headers=received["/hook/ce"].headers, body=received["/hook/ce"].body))
    assert parsed.get_type() == "harbor.scan.completed"
    assert parsed.get_specversion() == "1.0"
    assert parsed.get_source().endswith("/webhook/policies/1") and parsed.get_source().startswith("/projects/")
    assert parsed.get_extension("operator") == "trivy"
    assert parsed.get_time() is not None and int(parsed.get_time().timestamp()) == 1700000000
    assert parsed.get_data() == SAMPLES["SCANNING_COMPLETED"]


@pytest.mark.parametrize("kind", list(SAMPLES))
def test_every_published_type_is_delivered_as_a_cloudevent_the_sdk_parses(
    api: FlaskClient, hook_app: Flask, redis_db: str, sink: Sink, kind: str
) -> None:
    subscribe(api, "ce", [kind], [{"type": "http", "address": sink.url, "payload_format": "CloudEvents"}])
    response = publish(api, kind)
    assert response.status_code == 201, response.get_json()
    run_worker(hook_app, redis_db, burst=True)
    (request,) = sink.wait_for(1)
    event = from_http_event(HTTPMessage(headers=request.headers, body=request.body))
    assert (event.get_type(), event.get_data()) == (CLOUDEVENTS_TYPES[kind], SAMPLES[kind])
    assert event.get_id() == request.headers["webhook-id"], "the id is the hook job's uuid"


def test_the_catalogue_offers_the_published_types(api: FlaskClient) -> None:
    offered = api.get("/api/v2.0/projects/library/webhook/events").get_json()["event_type"]
    # After the registry's artifact events (and Dockhook's own WEBHOOK_TARGET_DISABLED), in order.
    assert offered[-len(SAMPLES) :] == list(SAMPLES) and set(offered[: -len(SAMPLES)]).isdisjoint(SAMPLES)


def test_an_idempotency_key_makes_a_resend_record_nothing(api: FlaskClient, sink: Sink) -> None:
    subscribe(api, "scans", ["SCANNING_FAILED"], [{"type": "http", "address": sink.url}])
    key = {"Idempotency-Key": "scan-7f2a/attempt"}
    first = publish(api, "SCANNING_FAILED", headers=key)
    again = publish(api, "SCANNING_FAILED", headers=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == {**first.get_json(), "duplicate": True}
    assert counts(api) == (1, 1)
    other = copy.deepcopy(SAMPLES["SCANNING_FAILED"])
    other["repository"] = {**REPOSITORY, "namespace": "other", "repo_full_name": "other/alpine"}
    elsewhere = api.post(EVENTS, json={"type": "SCANNING_FAILED", "project": "other", "event_data": other}, headers=key)
    assert elsewhere.status_code == 201, "keys are scoped per project"
    assert publish(api, "SCANNING_FAILED").status_code == 201, "no key: every publish is an event"
    assert counts(api) == (3, 2)


def test_an_idempotency_key_reused_for_another_event_is_refused_and_changes_nothing(
    api: FlaskClient, sink: Sink
) -> None:
    subscribe(api, "scans", ["SCANNING_FAILED", "SCANNING_STOPPED"], [{"type": "http", "address": sink.url}])
    key = {"Idempotency-Key": "scan-91c3"}
    first = publish(api, "SCANNING_FAILED", headers=key, operator="trivy", occur_at=1_700_000_000)
    assert first.status_code == 201, first.get_json()
    other_tag = copy.deepcopy(SAMPLES["SCANNING_FAILED"])
    other_tag["resources"][0]["tag"] = "3.20"
    refused = {
        "event_data": publish(api, "SCANNING_FAILED", other_tag, headers=key, operator="trivy", occur_at=1_700_000_000),
        "type": publish(
            api, "SCANNING_STOPPED", SAMPLES["SCANNING_FAILED"], headers=key, operator="trivy", occur_at=1_700_000_000
        ),
        "operator": publish(api, "SCANNING_FAILED", headers=key, operator="clair", occur_at=1_700_000_000),
        "occur_at": publish(api, "SCANNING_FAILED", headers=key, operator="trivy", occur_at=1_700_000_060),
    }
    for differs, answer in refused.items():
        assert answer.status_code == 422, (differs, answer.get_json())
        message = answer.get_json()["errors"][0]["message"]
        assert f"({differs} differ)" in message and "new key" in message, message
        assert "3.20" not in message and "clair" not in message, "names what differs, never the values"
    assert counts(api) == (1, 1), "a refused re-send records nothing"
    again = publish(api, "SCANNING_FAILED", headers=key, operator="trivy", occur_at=1_700_000_000)
    assert (again.status_code, again.get_json()) == (200, {**first.get_json(), "duplicate": True})
    # occur_at left out: the first event's time stands (a re-send's own "now" is no difference).
    assert publish(api, "SCANNING_FAILED", headers=key, operator="trivy").status_code == 200
    assert counts(api) == (1, 1)


def test_a_media_types_filter_takes_a_published_event_by_the_recorded_media_type_of_its_artifact(
    api: FlaskClient, hook_app: Flask, sink: Sink
) -> None:
    target = [{"type": "http", "address": sink.url}]
    subscribe(api, "images", ["SCANNING_COMPLETED"], target, filters={"media_types": ["image"]})
    subscribe(api, "indexes", ["SCANNING_COMPLETED"], target, filters={"media_types": ["index"]})
    subscribe(api, "any", ["SCANNING_COMPLETED"], target)
    assert publish(api, "SCANNING_COMPLETED").get_json()["hook_jobs"] == 1, "an artifact never seen has no media type"
    push(hook_app)  # the registry's push of library/alpine:3.19, whose manifest is DIGEST (an OCI image manifest)
    scanned = publish(api, "SCANNING_COMPLETED")
    assert scanned.status_code == 201 and scanned.get_json()["hook_jobs"] == 2
    with hook_app.app_context():
        made = db.session.scalars(select(HookJob.policy_name).where(HookJob.event_id == scanned.get_json()["event_id"]))
        assert sorted(made) == ["any", "images"]
    elsewhere = copy.deepcopy(SAMPLES["SCANNING_COMPLETED"])
    elsewhere["repository"] = {**REPOSITORY, "name": "busybox", "repo_full_name": "library/busybox"}
    assert publish(api, "SCANNING_COMPLETED", elsewhere).get_json()["hook_jobs"] == 1, "looked up in its repository"


def test_the_media_type_is_read_only_when_a_media_types_filter_asks_and_once(api: FlaskClient, sink: Sink) -> None:
    target = [{"type": "http", "address": sink.url}]
    subscribe(api, "any", ["SCANNING_COMPLETED"], target)
    with api.application.app_context():
        engine = db.engine
    reads: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM artifacts" in statement:
            reads.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert publish(api, "SCANNING_COMPLETED").get_json()["hook_jobs"] == 1
        assert reads == [], "no policy filters on media types: the artifact is not looked up"
        subscribe(api, "images", ["SCANNING_COMPLETED"], target, filters={"media_types": ["image"]})
        subscribe(api, "indexes", ["SCANNING_COMPLETED"], target, filters={"media_types": ["index"]})
        assert publish(api, "SCANNING_COMPLETED").get_json()["hook_jobs"] == 1
        assert len(reads) == 1, f"one look-up for both filters: {reads}"
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def test_filters_apply_to_published_events(api: FlaskClient, sink: Sink) -> None:
    target = [{"type": "http", "address": sink.url}]
    subscribe(api, "by-trivy", ["SCANNING_COMPLETED"], target, filters={"operators": ["trivy"]})
    subscribe(api, "by-clair", ["SCANNING_COMPLETED"], target, filters={"operators": ["clair"]})
    subscribe(
        api, "alpine-releases", ["SCANNING_COMPLETED"], target, filters={"repositories": ["*/alpine"], "tags": ["3.*"]}
    )
    subscribe(api, "busybox", ["SCANNING_COMPLETED"], target, filters={"repositories": ["*/busybox"]})
    subscribe(api, "retention-repos", ["TAG_RETENTION"], target, filters={"repositories": ["**"]})
    assert publish(api, "SCANNING_COMPLETED", operator="trivy").get_json()["hook_jobs"] == 2
    assert publish(api, "TAG_RETENTION").get_json()["hook_jobs"] == 0, "retention names no repository"
    with api.application.app_context():
        assert sorted(db.session.scalars(select(HookJob.policy_name))) == ["alpine-releases", "by-trivy"]


def _without(data: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != key}


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"type": "PUSH_ARTIFACT", "project": "library", "event_data": {}}, "type"),
        ({"type": "scanningCompleted", "project": "library", "event_data": SAMPLES["SCANNING_COMPLETED"]}, "type"),
        ({"type": "SCANNING_COMPLETED", "project": "library"}, "event_data"),
        ({"type": "SCANNING_COMPLETED", "event_data": SAMPLES["SCANNING_COMPLETED"]}, "project"),
        ({"type": "SCANNING_COMPLETED", "project": "library", "event_data": {"resources": []}}, "resources"),
        (
            {
                "type": "SCANNING_COMPLETED",
                "project": "library",
                "event_data": _without(SAMPLES["SCANNING_COMPLETED"], "repository"),
            },
            "repository",
        ),
        (
            {
                "type": "SCANNING_COMPLETED",
                "project": "library",
                "event_data": {**SAMPLES["SCANNING_COMPLETED"], "scan": {"scan_type": "virus"}},
            },
            "scan_type",
        ),
        (
            {"type": "SCANNING_FAILED", "project": "library", "event_data": {**SAMPLES["SCANNING_FAILED"], "extra": 1}},
            "extra",
        ),
        (
            {
                "type": "QUOTA_EXCEED",
                "project": "library",
                "event_data": _without(SAMPLES["QUOTA_EXCEED"], "custom_attributes"),
            },
            "custom_attributes",
        ),
        (
            {
                "type": "REPLICATION",
                "project": "library",
                "event_data": {"replication": {"job_status": "Success", "task_id": "57"}},
            },
            "task_id",
        ),
        (
            {
                "type": "REPLICATION",
                "project": "library",
                "event_data": {"replication": {"override_mode": "yes", "job_status": "x"}},
            },
            "override_mode",
        ),
        ({"type": "TAG_RETENTION", "project": "library", "event_data": {"retention": {"total": -1}}}, "total"),
        (
            {"type": "TAG_RETENTION", "project": "library", "event_data": {"retention": {"project_name": "other"}}},
            "project_name",
        ),
        (
            {
                "type": "SCANNING_FAILED",
                "project": "library",
                "event_data": {**SAMPLES["SCANNING_FAILED"], "repository": {**REPOSITORY, "namespace": "other"}},
            },
            "namespace",
        ),
        (
            {
                "type": "SCANNING_FAILED",
                "project": "library",
                "event_data": {
                    **SAMPLES["SCANNING_FAILED"],
                    "repository": {**REPOSITORY, "repo_full_name": "other/alpine"},
                },
            },
            "repo_full_name",
        ),
        (
            {"type": "SCANNING_FAILED", "project": "library", "occur_at": -5, "event_data": SAMPLES["SCANNING_FAILED"]},
            "occur_at",
        ),
        (
            {
                "type": "SCANNING_FAILED",
                "project": "library",
                "occur_at": True,
                "event_data": SAMPLES["SCANNING_FAILED"],
            },
            "occur_at",
        ),
        ({"type": "SCANNING_FAILED", "project": 7, "event_data": SAMPLES["SCANNING_FAILED"]}, "project"),
        ([1, 2], "Invalid input type"),
    ],
)
def test_an_invalid_event_is_a_400_naming_the_field_and_records_nothing(
    api: FlaskClient, body: Any, named: str
) -> None:
    response = api.post(EVENTS, json=body)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert named in response.get_data(as_text=True)
    assert counts(api) == (0, 0)


def test_a_bad_idempotency_key_or_an_unknown_project_changes_nothing(api: FlaskClient) -> None:
    assert publish(api, "SCANNING_FAILED", headers={"Idempotency-Key": "x" * 256}).status_code == 400
    assert publish(api, "SCANNING_FAILED", headers={"Idempotency-Key": "a key"}).status_code == 400
    unknown = api.post(EVENTS, json={"type": "REPLICATION", "project": "nope", "event_data": SAMPLES["REPLICATION"]})
    assert unknown.status_code == 404
    assert counts(api) == (0, 0)
