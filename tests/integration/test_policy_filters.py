"""Policy filters (repository and tag globs, media types, operators): a filtered-out event makes no hook job; the
filters are validated (400), shown in the policy JSON and kept by a PUT that omits them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.models import Event, HookJob, WebhookPolicy
from app.services import policy_filters
from app.services.policy_filters import Facts
from tests.support import replay
from tests.support.state import send

POLICIES = "/api/v2.0/projects/{project}/webhook/policies"
TARGET = [{"type": "http", "address": "https://ci.example.com/in"}]


@pytest.fixture
def api(make_app: Callable[..., Flask]) -> FlaskClient:
    app = make_app(notify_token=replay.TOKEN)
    client = app.test_client()
    for name in ("library", "team-a"):
        assert client.post("/api/v2.0/projects", json={"project_name": name}).status_code == 201
    return client


def add(client: FlaskClient, name: str, filters: dict[str, Any] | None, project: str = "library", **extra: Any) -> str:
    body: dict[str, Any] = {"name": name, "targets": TARGET, "event_types": ["PUSH_ARTIFACT"], **extra}
    if filters is not None:
        body["filters"] = filters
    response = client.post(POLICIES.format(project=project), json=body)
    assert response.status_code == 201, response.get_json()
    return str(response.headers["Location"])


def replay_push(client: FlaskClient, scenario: str) -> None:
    for delivery in replay.deliveries(scenario):
        assert send(client, delivery)[0] == 200


def jobs_by_policy(client: FlaskClient) -> dict[str, list[str]]:
    """Policy name → the repositories of the events its hook jobs are for."""
    app = client.application
    with app.app_context():
        rows = db.session.execute(
            select(HookJob.policy_name, Event.repository).join(Event, Event.id == HookJob.event_id).order_by(HookJob.id)
        ).all()
        result: dict[str, list[str]] = {}
        for name, repository in rows:
            result.setdefault(name, []).append(repository)
        return result


def test_filtered_out_events_make_no_hook_job(api: FlaskClient) -> None:
    add(api, "everything", None)
    add(api, "team-a", {"repositories": ["team-a/**"]}, project="team-a")
    add(api, "frontends", {"repositories": ["*/alpine", "*/busybox"], "tags": ["3.*", "!*-rc*"]})
    add(api, "releases-only", {"tags": ["v*"]})
    add(api, "indexes", {"media_types": ["index"]})
    add(api, "images", {"media_types": ["image"], "repositories": ["library/**"]})
    add(api, "no-alpine", {"repositories": ["!library/alpine"]})
    add(api, "by-ci", {"operators": ["ci-*"]})

    replay_push(api, "push_oci_alpine_3.19")  # library/alpine:3.19, an OCI image manifest, no operator
    replay_push(api, "push_oci_nested_team-a_sub_app_1.0")  # team-a/sub/app:1.0
    replay_push(api, "push_oci_index_multiarch")  # library/multiarch:1.0, an OCI index (children untagged)

    assert jobs_by_policy(api) == {
        "everything": ["library/alpine", "library/multiarch"],
        "team-a": ["team-a/sub/app"],
        "frontends": ["library/alpine"],
        "indexes": ["library/multiarch"],
        "images": ["library/alpine"],
        "no-alpine": ["library/multiarch"],
    }
    with api.application.app_context():
        assert db.session.scalar(select(func.count()).select_from(Event).where(Event.type == "PUSH_ARTIFACT")) == 3


def test_filters_are_shown_kept_by_a_put_without_them_and_cleared_by_null(api: FlaskClient) -> None:
    filters = {"repositories": ["team-a/**", "*/frontend"], "tags": ["v*", "!*-rc*"], "media_types": ["Image"]}
    location = add(api, "f", filters)
    shown = api.get(location).get_json()
    assert shown["filters"] == {**filters, "media_types": ["image"]}
    listed = api.get(POLICIES.format(project="library")).get_json()
    assert listed[0]["filters"] == shown["filters"]

    body = {"name": "f", "targets": TARGET, "event_types": ["PUSH_ARTIFACT"], "description": "renamed"}
    assert api.put(location, json=body).status_code == 200, "a Harbor client's PUT knows no filters"
    assert api.get(location).get_json()["filters"] == shown["filters"]

    assert api.put(location, json={**body, "filters": {"tags": ["1.*"]}}).status_code == 200
    assert api.get(location).get_json()["filters"] == {"tags": ["1.*"]}
    assert api.put(location, json={**body, "filters": None}).status_code == 200
    assert api.get(location).get_json()["filters"] == {}
    with api.application.app_context():
        assert db.session.scalars(select(WebhookPolicy.filters)).one() is None


@pytest.mark.parametrize(
    ("filters", "named"),
    [
        ({"repositories": [""]}, "filters.repositories.0"),
        ({"repositories": ["team-a/[abc"]}, "unbalanced"),
        ({"repositories": ["/team-a/**"]}, "empty path segment"),
        ({"repositories": ["team-a//x"]}, "empty path segment"),
        ({"repositories": ["Team A/*"]}, "never has"),
        ({"tags": ["!"]}, "lone '!'"),
        ({"tags": ["v1 beta"]}, "never has"),
        ({"tags": ["x" * 300]}, "tags"),
        ({"tags": ["v*"] * 33}, "tags"),
        ({"media_types": ["picture"]}, "not image, index or a media type"),
        ({"operators": ["ci\nbot"]}, "never has"),
        ({"repository": ["team-a/**"]}, "repository"),
        ({"tags": "v*"}, "tags"),
        ("team-a/**", "filters"),
    ],
)
def test_an_invalid_filter_is_a_400_naming_it_and_nothing_is_saved(api: FlaskClient, filters: Any, named: str) -> None:
    body = {"name": "bad", "targets": TARGET, "event_types": ["PUSH_ARTIFACT"], "filters": filters}
    response = api.post(POLICIES.format(project="library"), json=body)
    assert response.status_code == 400
    assert named in response.get_data(as_text=True)
    with api.application.app_context():
        assert db.session.scalars(select(WebhookPolicy)).all() == []


def test_an_invalid_filter_in_a_put_is_a_400_and_the_stored_filters_stay(api: FlaskClient) -> None:
    location = add(api, "f", {"tags": ["v*"]})
    body = {"name": "f", "targets": TARGET, "event_types": ["PUSH_ARTIFACT"], "filters": {"tags": ["[v"]}}
    assert api.put(location, json=body).status_code == 400
    assert api.get(location).get_json()["filters"] == {"tags": ["v*"]}


def test_glob_semantics() -> None:
    def admits(filters: dict[str, Any], **facts: Any) -> bool:
        return policy_filters.admits(policy_filters.validate(filters), Facts(**{"operator": "", **facts}))

    assert admits({"repositories": ["team-a/**"]}, repository="team-a/sub/app")
    assert not admits({"repositories": ["team-a/**"]}, repository="team-b/app")
    assert admits({"repositories": ["*/frontend"]}, repository="shop/frontend")
    assert not admits({"repositories": ["*/frontend"]}, repository="shop/web/frontend"), "* stays in its segment"
    assert admits({"tags": ["v*", "!*-rc*"]}, tags=("v1.2",))
    assert not admits({"tags": ["v*", "!*-rc*"]}, tags=("v1.2-rc1",))
    assert admits({"tags": ["v*", "!*-rc*"]}, tags=("v1.2-rc1", "v1.2")), "one passing tag is enough"
    assert admits({"tags": ["!*-rc*"]}, tags=("latest",)), "only exclusions: everything else passes"
    assert not admits({"tags": ["v*"]}, tags=()), "an untagged event never passes a tag filter"
    assert not admits({"repositories": ["**"]}), "an event without a repository never passes a repository filter"
    assert admits({"media_types": ["index"]}, media_type="application/vnd.docker.distribution.manifest.list.v2+json")
    assert not admits({"media_types": ["index"]}, media_type="application/vnd.oci.image.manifest.v1+json")
    assert admits({"operators": ["robot$ci+*"]}, operator="robot$ci+builder")
    assert not admits({"operators": ["ci"]}, operator="Ci"), "case-sensitive"
