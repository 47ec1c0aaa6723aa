"""Webhook policies over the REST API (Harbor 2.x paths and the 1.x family): CRUD, validation, secrets, triggers."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.broker.topics import EVENT_TYPES
from app.extensions import db
from app.models import Event, HookJob, WebhookPolicy
from app.services import credentials

# The tokens of every auth header these tests send; no response or log line may ever contain one.
SECRET = "s3cr3t-token-7f2a"
NEW_SECRET = "n3w-token-91c4"
TOKENS = (SECRET, NEW_SECRET)
SIGNING_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MASK = "******"
# The health of a target nothing was sent to yet.
NEVER_SENT = {
    "last_success": None,
    "last_failure": None,
    "consecutive_failures": 0,
    "failing_since": None,
    "attempts_24h": 0,
    "success_rate_24h": None,
}

V2 = "/api/v2.0/projects/library/webhook"
V2_OTHER = "/api/v2.0/projects/other/webhook"


@pytest.fixture
def api(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> Iterator[FlaskClient]:
    """The test client, with every response and log record checked for the auth-header tokens afterwards."""
    caplog.set_level(logging.DEBUG)
    responses = []
    send = client.open

    def open_and_record(*args: Any, **kwargs: Any) -> Any:
        response = send(*args, **kwargs)
        responses.append(response)
        return response

    client.open = open_and_record  # type: ignore[method-assign]
    for name in ("library", "other"):
        assert client.post("/api/v2.0/projects", json={"project_name": name}).status_code == 201
    yield client
    for response in responses:
        text = response.get_data(as_text=True) + "".join(f"{k}: {v}\n" for k, v in response.headers)
        for token in TOKENS:
            assert token not in text, f"{response.request.method} {response.request.path} leaked an auth header"
    for token in TOKENS:
        assert token not in caplog.text


def body(**overrides: Any) -> dict[str, Any]:
    policy: dict[str, Any] = {
        "name": "ci-hook",
        "description": "notify CI",
        "targets": [
            {
                "type": "http",
                "address": "https://ci.example.com/harbor",
                "auth_header": f"Bearer {SECRET}",
                "skip_cert_verify": True,
                "payload_format": "CloudEvents",
            }
        ],
        "event_types": ["PUSH_ARTIFACT"],
        "creator": "admin",
    }
    policy.update(overrides)
    return policy


def target(**overrides: Any) -> dict[str, Any]:
    return {**body()["targets"][0], **overrides}


def create(api: FlaskClient, prefix: str = V2, **overrides: Any) -> str:
    response = api.post(f"{prefix}/policies", json=body(**overrides))
    assert response.status_code == 201, response.get_json()
    return str(response.headers["Location"])


def errors(response: Any) -> list[dict[str, str]]:
    payload = response.get_json()
    assert set(payload) == {"errors"}
    return list(payload["errors"])


def stored_targets(app: Flask, policy_id: int) -> list[dict[str, Any]]:
    """The policy's targets as stored, with their credentials decrypted (stored only encrypted)."""
    with app.app_context():
        policy = db.session.get(WebhookPolicy, policy_id)
        assert policy is not None
        shown = []
        for stored in policy.targets:
            assert "auth_header" not in stored and "secret" not in stored, "a credential stored in clear"
            assert not any(token in json.dumps(stored) for token in (*TOKENS, SIGNING_SECRET))
            target = {k: v for k, v in stored.items() if not k.endswith("_enc") and k != "previous_secret_until"}
            target["auth_header"] = credentials.decrypt(stored["auth_header_enc"])
            target["secret"] = credentials.decrypt(stored["secret_enc"])
            shown.append(target)
        return shown


def policy_id(location: str) -> int:
    return int(location.rsplit("/", 1)[1])


def test_create_answers_201_with_location_and_get_shows_the_stored_policy(api: FlaskClient) -> None:
    response = api.post(
        f"{V2}/policies",
        json=body(
            targets=[
                target(address="  HTTPS://CI.Example.COM:8443/Harbor/Hook/?Token=AbC//  "),
                {"type": "slack", "address": "https://hooks.slack.com/services/T0/B0/x"},
            ],
            event_types=["pushImage", "PUSH_ARTIFACT", "deleteImage", "pullImage"],
            project_id=999,
            id=77,
            colour="blue",
        ),
    )
    assert response.status_code == 201
    assert response.get_data() == b""
    location = response.headers["Location"]
    assert re.fullmatch(rf"{V2}/policies/\d+", location)

    policy = api.get(location).get_json()
    assert policy["id"] == policy_id(location)
    assert policy["name"] == "ci-hook" and policy["description"] == "notify CI"
    assert policy["project_id"] == api.get("/api/v2.0/projects/library").get_json()["project_id"]
    assert policy["creator"] == "admin" and policy["enabled"] is True
    assert policy["targets"] == [
        {
            "type": "http",
            "address": "https://ci.example.com:8443/Harbor/Hook/?Token=******",
            "auth_header": MASK,
            "skip_cert_verify": True,
            "payload_format": "CloudEvents",
            "disabled": False,
            "health": NEVER_SENT,
            "secret": "",
        },
        {
            "type": "slack",
            "address": "https://hooks.slack.com/services/T0/B0/******",
            "auth_header": "",
            "skip_cert_verify": False,
            "payload_format": "",
            "disabled": False,
            "health": NEVER_SENT,
            "secret": "",
        },
    ]
    assert policy["event_types"] == ["PUSH_ARTIFACT", "DELETE_ARTIFACT", "PULL_ARTIFACT"]
    assert policy["creation_time"] and policy["update_time"]
    assert api.get(f"{V2}/policies").get_json() == [policy]


def test_create_applies_defaults(api: FlaskClient, app: Flask) -> None:
    location = create(
        api,
        targets=[{"type": "http", "address": "http://receiver.example"}],
        description=None,
        creator=None,
    )
    minimal = api.post(
        f"{V2}/policies",
        json={
            "name": "minimal",
            "targets": [{"type": "http", "address": "http://r"}],
            "event_types": ["PULL_ARTIFACT"],
        },
    )
    assert minimal.status_code == 201
    for path in (location, minimal.headers["Location"]):
        policy = api.get(path).get_json()
        assert (policy["enabled"], policy["creator"], policy["description"]) == (True, "", "")
        assert policy["targets"][0]["payload_format"] == "Default"
        assert policy["targets"][0]["skip_cert_verify"] is False
        assert policy["targets"][0]["auth_header"] == ""
    assert stored_targets(app, policy_id(location))[0]["auth_header"] == ""


# (case, body overrides (None drops the key), fragment the error message must contain)
INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("name-missing", {"name": None}, "name"),
    ("name-empty", {"name": ""}, "name"),
    ("name-blank", {"name": "   "}, "name"),
    ("name-too-long", {"name": "n" * 257}, "name"),
    ("targets-missing", {"targets": None}, "targets"),
    ("targets-empty", {"targets": []}, "targets"),
    ("target-type", {"targets": [target(type="email")]}, "targets.0.type"),
    ("address-missing", {"targets": [{"type": "http"}]}, "targets.0.address"),
    ("address-blank", {"targets": [target(address="  ")]}, "targets.0.address: is required"),
    ("address-no-scheme", {"targets": [target(address="ci.example.com/hook")]}, "targets.0.address: has no scheme"),
    ("address-ftp", {"targets": [target(address="ftp://ci.example.com")]}, "targets.0.address: scheme 'ftp'"),
    ("address-javascript", {"targets": [target(address="javascript://x")]}, "targets.0.address: scheme"),
    ("address-no-host", {"targets": [target(address="http://")]}, "targets.0.address: has no host"),
    ("address-path-only", {"targets": [target(address="https:///hook")]}, "targets.0.address: has no host"),
    ("address-space", {"targets": [target(address="http://ci example.com")]}, "targets.0.address"),
    ("address-port", {"targets": [target(address="http://ci.example.com:99999")]}, "targets.0.address"),
    ("address-userinfo", {"targets": [target(address="https://u:pw@ci.example.com")]}, "credentials"),
    ("second-target", {"targets": [target(), target(address="gopher://x")]}, "targets.1.address"),
    ("format-unknown", {"targets": [target(payload_format="Xml")]}, "targets.0.payload_format"),
    (
        "format-on-slack",
        {"targets": [{"type": "slack", "address": "https://hooks.slack.com/x", "payload_format": "Default"}]},
        "targets.0.payload_format: must be empty for a slack target",
    ),
    ("skip-not-bool", {"targets": [target(skip_cert_verify="yes")]}, "targets.0.skip_cert_verify"),
    ("header-crlf", {"targets": [target(auth_header=f"Bearer {SECRET}\r\nX-Evil: 1")]}, "valid HTTP header value"),
    ("header-lf", {"targets": [target(auth_header=f"Bearer {SECRET}\nX-Evil: 1")]}, "targets.0.auth_header"),
    ("header-not-string", {"targets": [target(auth_header=5)]}, "targets.0.auth_header"),
    ("header-mask-on-create", {"targets": [target(auth_header=MASK)]}, "targets.0.auth_header"),
    ("events-missing", {"event_types": None}, "event_types"),
    ("events-empty", {"event_types": []}, "event_types"),
    (
        "event-unknown",
        {"event_types": ["PUSH_ARTIFACT", "teleport"]},
        "event_types.1: unsupported event type 'teleport'",
    ),
    ("event-delivery-topic", {"event_types": ["http"]}, "event_types.0"),
    ("event-not-string", {"event_types": [3]}, "event_types.0"),
    ("enabled-not-bool", {"enabled": "true"}, "enabled"),
    ("creator-too-long", {"creator": "c" * 256}, "creator"),
]


def test_invalid_policy_is_400_naming_the_field_and_writes_nothing(api: FlaskClient) -> None:
    for case, overrides, fragment in INVALID:
        policy = {k: v for k, v in body(**overrides).items() if v is not None}
        response = api.post(f"{V2}/policies", json=policy)
        assert response.status_code == 400, case
        (error,) = errors(response)
        assert error["code"] == "BAD_REQUEST", case
        assert fragment in error["message"], (case, error)
        assert api.get(f"{V2}/policies").get_json() == [], case


def test_invalid_update_is_400_and_leaves_the_policy_unchanged(api: FlaskClient) -> None:
    location = create(api)
    before = api.get(location).get_json()
    response = api.put(location, json=body(name="renamed", targets=[target(address="ci.example.com")]))
    assert response.status_code == 400
    assert "targets.0.address" in errors(response)[0]["message"]
    assert api.get(location).get_json() == before


def test_duplicate_name_is_409_in_the_same_project_but_fine_in_another(api: FlaskClient) -> None:
    create(api)
    again = api.post(f"{V2}/policies", json=body(description="second"))
    assert again.status_code == 409
    (error,) = errors(again)
    assert error["code"] == "CONFLICT" and "ci-hook" in error["message"]
    assert api.get(f"{V2}/policies").headers["X-Total-Count"] == "1"
    create(api, prefix=V2_OTHER)
    assert [p["name"] for p in api.get(f"{V2_OTHER}/policies").get_json()] == ["ci-hook"]


def test_duplicate_name_that_slips_past_the_check_is_409_from_the_unique_constraint(
    api: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.services import policies

    create(api)
    # As if a concurrent request created the name between this request's check and its commit.
    monkeypatch.setattr(policies, "_ensure_name_free", lambda *args, **kwargs: None)
    again = api.post(f"{V2}/policies", json=body())
    assert again.status_code == 409
    assert errors(again)[0]["code"] == "CONFLICT"
    assert api.get(f"{V2}/policies").headers["X-Total-Count"] == "1"


def test_renaming_onto_another_policys_name_is_409(api: FlaskClient) -> None:
    create(api)
    second = create(api, name="second")
    response = api.put(second, json=body(name="ci-hook"))
    assert response.status_code == 409
    assert api.get(second).get_json()["name"] == "second"
    assert api.put(second, json=body(name="second", description="same name is fine")).status_code == 200


def test_policy_of_another_project_is_404_for_get_put_and_delete(api: FlaskClient) -> None:
    other = create(api, prefix=V2_OTHER)
    foreign = f"{V2}/policies/{policy_id(other)}"
    for response in (api.get(foreign), api.put(foreign, json=body(name="hijacked")), api.delete(foreign)):
        assert response.status_code == 404
        (error,) = errors(response)
        assert error["code"] == "NOT_FOUND"
    assert api.get(other).get_json()["name"] == "ci-hook"


def test_unknown_project_or_policy_is_404(api: FlaskClient) -> None:
    for path in (
        "/api/v2.0/projects/nope/webhook/policies",
        "/api/v2.0/projects/nope/webhook/events",
        "/api/v2.0/projects/nope/webhook/lasttrigger",
        "/api/projects/9999/webhook/policies",
        "/api/projects/9999/webhook/lasttrigger",
        f"{V2}/policies/9999",
    ):
        response = api.get(path)
        assert response.status_code == 404, path
        assert errors(response)[0]["code"] == "NOT_FOUND"
    assert api.post("/api/v2.0/projects/nope/webhook/policies", json=body()).status_code == 404
    assert api.put(f"{V2}/policies/9999", json=body()).status_code == 404
    assert api.delete(f"{V2}/policies/9999").status_code == 404


def test_put_replaces_the_policy_but_keeps_creator_creation_time_and_project(api: FlaskClient) -> None:
    location = create(api)
    before = api.get(location).get_json()
    response = api.put(
        location,
        json={
            "name": "renamed",
            "description": "",
            "enabled": False,
            "targets": [{"type": "slack", "address": "https://hooks.slack.com/x"}],
            "event_types": ["deleteImage"],
            "creator": "mallory",
            "creation_time": "2000-01-01T00:00:00Z",
            "project_id": 999,
        },
    )
    assert response.status_code == 200
    assert response.get_data() == b""
    after = api.get(location).get_json()
    assert (after["creator"], after["creation_time"], after["project_id"]) == (
        before["creator"],
        before["creation_time"],
        before["project_id"],
    )
    assert after["update_time"] != before["update_time"]
    assert datetime.fromisoformat(after["update_time"]) > datetime.fromisoformat(before["update_time"])
    assert (after["name"], after["description"], after["enabled"]) == ("renamed", "", False)
    assert after["event_types"] == ["DELETE_ARTIFACT"]
    assert after["targets"] == [
        {
            "type": "slack",
            "address": "https://hooks.slack.com/******",
            "auth_header": "",
            "skip_cert_verify": False,
            "payload_format": "",
            "disabled": False,
            "health": NEVER_SENT,
            "secret": "",
        }
    ]


def test_put_of_an_unchanged_policy_still_moves_update_time(api: FlaskClient) -> None:
    location = create(api)
    before = api.get(location).get_json()
    assert api.put(location, json=before).status_code == 200
    after = api.get(location).get_json()
    assert datetime.fromisoformat(after["update_time"]) > datetime.fromisoformat(before["update_time"])
    assert {k: v for k, v in after.items() if k != "update_time"} == {
        k: v for k, v in before.items() if k != "update_time"
    }


def test_put_with_the_mask_keeps_the_stored_auth_header(api: FlaskClient, app: Flask) -> None:
    location = create(api, targets=[target(), target(address="https://second.example", auth_header="")])
    shown = api.get(location).get_json()
    assert [t["auth_header"] for t in shown["targets"]] == [MASK, ""]
    shown["description"] = "edited in the UI"
    assert api.put(location, json=shown).status_code == 200
    stored = stored_targets(app, policy_id(location))
    assert [t["auth_header"] for t in stored] == [f"Bearer {SECRET}", ""]
    assert api.get(location).get_json()["description"] == "edited in the UI"


def test_put_with_a_new_auth_header_replaces_the_stored_one(api: FlaskClient, app: Flask) -> None:
    location = create(api)
    assert api.put(location, json=body(targets=[target(auth_header=f"Token {NEW_SECRET}")])).status_code == 200
    assert stored_targets(app, policy_id(location))[0]["auth_header"] == f"Token {NEW_SECRET}"
    assert api.get(location).get_json()["targets"][0]["auth_header"] == MASK
    assert api.put(location, json=body(targets=[target(auth_header="")])).status_code == 200
    assert stored_targets(app, policy_id(location))[0]["auth_header"] == ""
    assert api.get(location).get_json()["targets"][0]["auth_header"] == ""


def test_put_with_the_mask_for_a_changed_address_or_a_new_target_is_400(api: FlaskClient, app: Flask) -> None:
    location = create(api)
    moved = api.put(location, json=body(targets=[target(address="https://elsewhere.example", auth_header=MASK)]))
    assert moved.status_code == 400
    message = errors(moved)[0]["message"]
    assert "targets.0.auth_header" in message and "re-entered" in message
    added = api.put(location, json=body(targets=[target(auth_header=MASK), target(auth_header=MASK)]))
    assert added.status_code == 400
    assert "targets.1.auth_header" in errors(added)[0]["message"]
    assert stored_targets(app, policy_id(location)) == [
        {
            "type": "http",
            "address": "https://ci.example.com/harbor",
            "auth_header": f"Bearer {SECRET}",
            "skip_cert_verify": True,
            "payload_format": "CloudEvents",
            "secret": "",
        }
    ]
    # The same address written differently still names the same target.
    same = api.put(location, json=body(targets=[target(address="HTTPS://CI.EXAMPLE.COM/harbor/", auth_header=MASK)]))
    assert same.status_code == 200
    assert stored_targets(app, policy_id(location))[0]["auth_header"] == f"Bearer {SECRET}"


def test_delete_removes_the_policy_and_keeps_its_hook_jobs(api: FlaskClient, app: Flask) -> None:
    location = create(api)
    job_id = add_hook_jobs(app, policy_id(location), [("PUSH_ARTIFACT", datetime(2025, 1, 1, tzinfo=UTC))])[0]
    response = api.delete(location)
    assert response.status_code == 200
    assert api.get(location).status_code == 404
    assert api.get(f"{V2}/policies").get_json() == []
    assert api.delete(location).status_code == 404
    with app.app_context():
        job = db.session.get(HookJob, job_id)
        assert job is not None and job.policy_id is None


def test_harbor_1x_routes_serve_the_same_policies(api: FlaskClient) -> None:
    project_id = api.get("/api/v2.0/projects/library").get_json()["project_id"]
    v1 = f"/api/projects/{project_id}/webhook"
    created = api.post(f"{v1}/policies", json=body(event_types=["pushImage"]))
    assert created.status_code == 201
    location = created.headers["Location"]
    assert re.fullmatch(rf"{v1}/policies/\d+", location)
    v2_location = f"{V2}/policies/{policy_id(location)}"
    assert api.get(location).get_json() == api.get(v2_location).get_json()
    assert api.get(f"{v1}/policies").get_json() == api.get(f"{V2}/policies").get_json()
    assert api.get(f"{v1}/events").get_json() == api.get(f"{V2}/events").get_json()

    assert api.put(location, json=body(name="via-1x")).status_code == 200
    assert api.get(v2_location).get_json()["name"] == "via-1x"
    assert api.delete(location).status_code == 200
    assert api.get(v2_location).status_code == 404
    # Projects are also addressed by numeric id on the 2.x paths.
    assert api.get(f"/api/v2.0/projects/{project_id}/webhook/policies").get_json() == []


def test_list_is_newest_first_with_total_and_link_headers(api: FlaskClient) -> None:
    for i in range(3):
        create(api, name=f"p{i}")
    first = api.get(f"{V2}/policies?page=1&page_size=2")
    assert [p["name"] for p in first.get_json()] == ["p2", "p1"]
    assert first.headers["X-Total-Count"] == "3"
    assert first.headers["Link"] == f'<{V2}/policies?page=2&page_size=2>; rel="next"'
    last = api.get(f"{V2}/policies?page=2&page_size=2")
    assert [p["name"] for p in last.get_json()] == ["p0"]
    assert last.headers["Link"] == f'<{V2}/policies?page=1&page_size=2>; rel="prev"'
    assert api.get(f"{V2}/policies?page_size=101").status_code == 400
    assert api.get(f"{V2_OTHER}/policies").headers["X-Total-Count"] == "0"


def test_events_lists_the_supported_event_notify_types_and_formats(api: FlaskClient) -> None:
    response = api.get(f"{V2}/events")
    assert response.status_code == 200
    assert response.get_json() == {
        "event_type": [t.value for t in EVENT_TYPES],
        "notify_type": ["http", "slack", "teams", "mattermost", "discord", "googlechat"],
        "payload_formats": [{"notify_type": "http", "formats": ["Default", "CloudEvents", "Template"]}],
    }
    assert "PUSH_ARTIFACT" in response.get_json()["event_type"]


def add_hook_jobs(app: Flask, policy: int, jobs: list[tuple[str, datetime]]) -> list[int]:
    """Hook jobs of ``policy`` (event type, creation time), each for a fresh event; returns their ids."""
    with app.app_context():
        row = db.session.get(WebhookPolicy, policy)
        assert row is not None
        ids = []
        for event_type, created in jobs:
            event = Event(type=event_type, project_id=row.project_id, occurred_at=created, data={})
            db.session.add(event)
            db.session.flush()
            job = HookJob(
                event_id=event.id,
                policy_id=row.id,
                policy_name=row.name,
                project_id=row.project_id,
                event_type=event_type,
                notify_type="http",
                target={"type": "http", "address": "https://ci.example.com/harbor"},
                payload="{}",
                creation_time=created,
            )
            db.session.add(job)
            db.session.flush()
            ids.append(job.id)
        db.session.commit()
        return ids


def test_lasttrigger_shows_the_newest_hook_job_per_policy_and_event_type(api: FlaskClient, app: Flask) -> None:
    t0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    older = policy_id(create(api, name="older", event_types=["PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT"]))
    newer = policy_id(create(api, name="newer", event_types=["PUSH_ARTIFACT"], enabled=False))
    foreign = policy_id(create(api, prefix=V2_OTHER, name="foreign", event_types=["DELETE_ARTIFACT"]))
    add_hook_jobs(
        app,
        older,
        [
            ("PUSH_ARTIFACT", t0),
            ("PUSH_ARTIFACT", t0 + timedelta(minutes=5)),
            ("PUSH_ARTIFACT", t0 + timedelta(minutes=1)),
            ("PULL_ARTIFACT", t0 + timedelta(hours=1)),
            # Not subscribed any more: no row for it.
            ("SCANNING_COMPLETED", t0 + timedelta(hours=2)),
        ],
    )
    add_hook_jobs(app, newer, [("PUSH_ARTIFACT", t0 + timedelta(days=1))])
    add_hook_jobs(app, foreign, [("DELETE_ARTIFACT", t0 + timedelta(days=2))])

    response = api.get(f"{V2}/lasttrigger")
    assert response.status_code == 200
    rows = response.get_json()
    policies = {p["name"]: p for p in api.get(f"{V2}/policies").get_json()}
    assert [(r["policy_name"], r["event_type"], r["enabled"]) for r in rows] == [
        ("newer", "PUSH_ARTIFACT", False),
        ("older", "PUSH_ARTIFACT", True),
        ("older", "PULL_ARTIFACT", True),
        ("older", "DELETE_ARTIFACT", True),
    ]
    for row in rows:
        assert row["creation_time"] == policies[row["policy_name"]]["creation_time"]
    times = [datetime.fromisoformat(r["last_trigger_time"]) if "last_trigger_time" in r else None for r in rows]
    assert times == [t0 + timedelta(days=1), t0 + timedelta(minutes=5), t0 + timedelta(hours=1), None]
    assert api.get(f"{V2_OTHER}/lasttrigger").get_json()[0]["last_trigger_time"].startswith("2025-03-03T12:00:00")


def test_lasttrigger_of_a_project_without_policies_is_empty(api: FlaskClient) -> None:
    response = api.get(f"{V2}/lasttrigger")
    assert response.status_code == 200
    assert response.get_json() == []


def test_stored_policy_is_normalised_with_the_header_encrypted_for_the_worker(api: FlaskClient, app: Flask) -> None:
    location = create(api, targets=[target(address="HTTP://Hooks.Example:80/In/")], event_types=["OnPushImage"])
    with app.app_context():
        stored = db.session.scalars(select(WebhookPolicy)).one()
        assert stored.id == policy_id(location)
        assert stored.event_types == ["PUSH_ARTIFACT"]
        assert stored.targets[0]["address"] == "http://hooks.example:80/In"
        assert SECRET not in json.dumps(stored.targets)
        assert credentials.decrypt(stored.targets[0]["auth_header_enc"]) == f"Bearer {SECRET}"


def test_openapi_document_lists_the_webhook_paths(api: FlaskClient) -> None:
    paths = set(api.get("/api/v2.0/openapi.json").get_json()["paths"])
    assert {
        "/api/v2.0/projects/{project_name_or_id}/webhook/policies",
        "/api/v2.0/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}",
        "/api/v2.0/projects/{project_name_or_id}/webhook/events",
        "/api/v2.0/projects/{project_name_or_id}/webhook/lasttrigger",
        "/api/projects/{project_id}/webhook/policies",
        "/api/projects/{project_id}/webhook/policies/{webhook_policy_id}",
        "/api/projects/{project_id}/webhook/events",
        "/api/projects/{project_id}/webhook/lasttrigger",
    } <= paths


def test_a_signing_secret_is_stored_shown_masked_and_kept_by_the_mask(api: FlaskClient, app: Flask) -> None:
    location = create(api, targets=[target(secret=SIGNING_SECRET), target(address="https://second.example")])
    response = api.get(location)
    assert SIGNING_SECRET not in response.get_data(as_text=True)
    shown = response.get_json()
    assert [t["secret"] for t in shown["targets"]] == [MASK, ""]
    assert api.put(location, json=shown).status_code == 200
    assert [t["secret"] for t in stored_targets(app, policy_id(location))] == [SIGNING_SECRET, ""]
    shown["targets"][0]["secret"] = ""
    assert api.put(location, json=shown).status_code == 200
    assert stored_targets(app, policy_id(location))[0]["secret"] == ""


def test_a_malformed_signing_secret_is_400_without_echoing_it(api: FlaskClient) -> None:
    for secret in ("not-a-whsec", "whsec_c2hvcnQ=", "whsec_!!!"):
        response = api.post(f"{V2}/policies", json=body(targets=[target(secret=secret)]))
        assert response.status_code == 400
        (error,) = errors(response)
        assert "targets.0.secret" in error["message"] and secret not in error["message"]
    masked = api.post(f"{V2}/policies", json=body(targets=[target(secret=MASK)]))
    assert masked.status_code == 400 and "targets.0.secret" in errors(masked)[0]["message"]
    assert api.get(f"{V2}/policies").get_json() == []
