"""``/api/v2.0/notifications/rejected``: the registry events the receiver kept aside, newest first, paged."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.integration.test_receiver_hostile import alpine_push, altered, body_of, post
from tests.support import replay

LIST = "/api/v2.0/notifications/rejected"
FIELDS = {
    "id",
    "received_at",
    "registry_event_id",
    "registry_request_id",
    "reason",
    "event",
    "event_truncated",
    "source_address",
}


def reject(client: FlaskClient, count: int) -> list[dict[str, Any]]:
    """Send ``count`` envelopes, each with one event whose tag is too long; return the events, oldest first."""
    events = []
    for n in range(count):
        event = altered(alpine_push(), "id", f"rejected-{n}")
        event["target"]["tag"] = "t" * (300 + n)
        assert post(client, body_of(event)).status_code == 200
        events.append(event)
    return events


def errors(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    body = response.get_json()
    assert set(body) == {"errors"}
    return list(body["errors"])


def test_an_empty_list(client: FlaskClient) -> None:
    response = client.get(LIST)
    assert response.status_code == 200
    assert response.get_json() == []
    assert response.headers["X-Total-Count"] == "0"
    assert "Link" not in response.headers


def test_rejected_events_are_listed_newest_first_with_their_reason(client: FlaskClient) -> None:
    sent = reject(client, 3)
    response = client.get(LIST)
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "3"
    rows = response.get_json()
    assert [r["registry_event_id"] for r in rows] == ["rejected-2", "rejected-1", "rejected-0"]
    newest = rows[0]
    assert set(newest) == FIELDS
    assert newest["reason"] == "target.tag has 302 characters; at most 255 are kept"
    assert json.loads(newest["event"]) == sent[2]
    assert newest["event_truncated"] is False
    assert newest["registry_request_id"] == sent[2]["request"]["id"]
    assert newest["source_address"] == "127.0.0.1"
    assert newest["received_at"].endswith("+00:00")


def test_the_list_is_paged_with_total_and_links(client: FlaskClient) -> None:
    reject(client, 3)
    first = client.get(LIST, query_string={"page": 1, "page_size": 2})
    assert [r["registry_event_id"] for r in first.get_json()] == ["rejected-2", "rejected-1"]
    assert first.headers["X-Total-Count"] == "3"
    assert first.headers["Link"] == f'<{LIST}?page=2&page_size=2>; rel="next"'
    second = client.get(LIST, query_string={"page": 2, "page_size": 2})
    assert [r["registry_event_id"] for r in second.get_json()] == ["rejected-0"]
    assert second.headers["Link"] == f'<{LIST}?page=1&page_size=2>; rel="prev"'


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ({"page_size": 101}, "page_size"),
        ({"page": 0}, "page"),
        ({"q": "nope=1"}, "unknown key 'nope'"),
        ({"sort": "event"}, "unknown key 'event'"),
        ({"q": "id=abc"}, "not an integer"),
    ],
)
def test_bad_list_arguments_are_400_in_harbors_shape(client: FlaskClient, args: dict[str, Any], fragment: str) -> None:
    response = client.get(LIST, query_string=args)
    assert response.status_code == 400
    (error,) = errors(response)
    assert error["code"] == "BAD_REQUEST" and fragment in error["message"], error


def test_the_list_takes_q_and_sort(client: FlaskClient) -> None:
    reject(client, 3)
    one = client.get(LIST, query_string={"q": "registry_event_id=rejected-1"})
    assert [r["registry_event_id"] for r in one.get_json()] == ["rejected-1"]
    assert one.headers["X-Total-Count"] == "1"
    fuzzy = client.get(LIST, query_string={"q": "reason=~301 CHARACTERS"})
    assert [r["registry_event_id"] for r in fuzzy.get_json()] == ["rejected-1"]
    oldest_first = client.get(LIST, query_string={"sort": "id"})
    assert [r["registry_event_id"] for r in oldest_first.get_json()] == ["rejected-0", "rejected-1", "rejected-2"]


def test_one_rejected_event_by_id(client: FlaskClient) -> None:
    reject(client, 2)
    listed = client.get(LIST).get_json()
    response = client.get(f"{LIST}/{listed[1]['id']}")
    assert response.status_code == 200
    assert response.get_json() == listed[1]


@pytest.mark.parametrize("rejected_id", ["999", "2147483648", "abc", "-1"])
def test_an_unknown_rejected_event_is_404(client: FlaskClient, rejected_id: str) -> None:
    response = client.get(f"{LIST}/{rejected_id}")
    assert response.status_code == 404
    assert errors(response)[0]["code"] == "NOT_FOUND"


def test_the_list_needs_the_api_token_when_one_is_set(make_app: Callable[..., Flask]) -> None:
    token = "api-t0ken-9c1e-rejected"
    app = make_app(notify_token=replay.TOKEN, api_token=token)
    client = app.test_client()
    assert client.get(LIST).status_code == 401
    assert client.get(f"{LIST}/1").status_code == 401
    assert client.get(LIST, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_the_list_is_in_the_openapi_document(client: FlaskClient) -> None:
    paths = client.get("/api/v2.0/openapi.json").get_json()["paths"]
    operation = paths[LIST]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"page", "page_size", "q", "sort"}
    assert "404" in paths[LIST + "/{rejected_id}"]["get"]["responses"]
