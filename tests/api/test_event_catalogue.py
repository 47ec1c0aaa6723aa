"""The event types offered to policies are exactly those Dockhook produces: the rest is refused, saying why."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

V2 = "/api/v2.0/projects/library/webhook"


def policy(*event_types: str) -> dict[str, Any]:
    return {
        "name": "catalogue",
        "targets": [{"type": "http", "address": "https://ci.example.com/in"}],
        "event_types": list(event_types),
    }


@pytest.fixture
def api(client: FlaskClient) -> FlaskClient:
    assert client.post("/api/v2.0/projects", json={"project_name": "library"}).status_code == 201
    return client


def test_webhook_events_advertises_exactly_what_can_fire(api: FlaskClient) -> None:
    events = api.get(f"{V2}/events").get_json()
    assert events["event_type"] == [
        "PUSH_ARTIFACT",
        "PULL_ARTIFACT",
        "DELETE_ARTIFACT",
        # WEBHOOK_TARGET_DISABLED fires when a target fails for DOCKHOOK_DISABLE_AFTER (test_target_health.py).
        "WEBHOOK_TARGET_DISABLED",
        # The publish API (POST /api/v2.0/events) produces these.
        "SCANNING_COMPLETED",
        "SCANNING_FAILED",
        "SCANNING_STOPPED",
        "QUOTA_EXCEED",
        "QUOTA_WARNING",
        "REPLICATION",
        "TAG_RETENTION",
    ]


def test_the_published_types_and_their_1x_aliases_are_accepted(api: FlaskClient) -> None:
    response = api.post(f"{V2}/policies", json=policy("scanningFailed", "projectQuota", "REPLICATION", "TAG_RETENTION"))
    assert response.status_code == 201
    stored = api.get(response.headers["Location"]).get_json()
    assert stored["event_types"] == ["SCANNING_FAILED", "QUOTA_EXCEED", "REPLICATION", "TAG_RETENTION"]


@pytest.mark.parametrize("name", ["SCANNING_COMPLETED", "REPLICATION", "scanningFailed"])
def test_a_type_nothing_produces_is_400_saying_it_would_never_fire(
    api: FlaskClient, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As the catalogue was before the publish API: only the registry's artifact events had a producer.
    from app.broker.topics import Topic
    from app.services import policies

    monkeypatch.setattr(policies, "EVENT_TYPES", (Topic.PUSH_ARTIFACT, Topic.PULL_ARTIFACT, Topic.DELETE_ARTIFACT))
    response = api.post(f"{V2}/policies", json=policy("PUSH_ARTIFACT", name))
    assert response.status_code == 400
    message = response.get_json()["errors"][0]["message"]
    assert message.startswith("event_types.1:") and "never fire" in message and "PUSH_ARTIFACT" in message
    assert api.get(f"{V2}/policies").get_json() == []


@pytest.mark.parametrize("name", ["UPLOAD_CHART", "DOWNLOAD_CHART", "DELETE_CHART", "uploadChart", "OnDeleteChart"])
def test_chart_types_are_400_saying_harbor_dropped_them(api: FlaskClient, name: str) -> None:
    response = api.post(f"{V2}/policies", json=policy(name))
    assert response.status_code == 400
    message = response.get_json()["errors"][0]["message"]
    assert "chart" in message and "ChartMuseum" in message


def test_1x_aliases_of_offered_types_keep_working(api: FlaskClient) -> None:
    response = api.post(f"{V2}/policies", json=policy("pushImage", "OnPullImage", "deleteImage", "PUSH_ARTIFACT"))
    assert response.status_code == 201
    stored = api.get(response.headers["Location"]).get_json()
    assert stored["event_types"] == ["PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT"]
