"""Bad notifications get a clear 4xx JSON error and change nothing; a bad event in a good envelope is kept aside
and the envelope acknowledged; a database outage gets a 503."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pytest
from flask import Flask
from werkzeug.test import EnvironBuilder

from tests.integration.test_receiver_hostile import kept_aside
from tests.support import replay
from tests.support.state import Recorded, recorded

PATH = "/service/notifications"
V1 = "application/vnd.docker.distribution.events.v1+json"
AUTH = {"Authorization": f"Bearer {replay.TOKEN}"}
NOTHING = Recorded(events=[], access_logs=[], repositories={}, projects=[])


def manifest_push() -> bytes:
    return replay.deliveries("push_oci_alpine_3.19")[-1].body


def error(response) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    assert response.mimetype == "application/json"
    (only,) = response.get_json()["errors"]
    return only["code"], only["message"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {replay.TOKEN}"},
        {"Authorization": f"Bearer {replay.TOKEN}x"},
        {"Authorization": replay.TOKEN},
    ],
)
def test_missing_or_wrong_token_is_401_and_records_nothing(app: Flask, headers: dict[str, str]) -> None:
    response = app.test_client().post(PATH, data=manifest_push(), headers={"Content-Type": V1, **headers})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    code, message = error(response)
    assert code == "UNAUTHORIZED" and "token" in message
    assert replay.TOKEN not in response.get_data(as_text=True)
    assert recorded(app) == NOTHING


@pytest.mark.parametrize(
    "content_type",
    [V1, "application/vnd.docker.distribution.events.v2+json", "application/json", "application/json; charset=utf-8"],
)
def test_every_registry_content_type_is_accepted(app: Flask, content_type: str) -> None:
    response = app.test_client().post(PATH, data=manifest_push(), headers={"Content-Type": content_type, **AUTH})
    assert response.status_code == 200
    assert response.get_json()["recorded"] == 1


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded", None])
def test_other_content_types_are_415(app: Flask, content_type: str | None) -> None:
    headers = dict(AUTH)
    if content_type:
        headers["Content-Type"] = content_type
    response = app.test_client().post(PATH, data=manifest_push(), headers=headers)
    assert response.status_code == 415
    code, message = error(response)
    assert code == "UNSUPPORTED_MEDIA_TYPE" and V1 in message
    assert recorded(app) == NOTHING


def test_a_body_over_the_limit_is_413(make_app: Callable[..., Flask]) -> None:
    app = make_app(notify_token=replay.TOKEN, max_body_bytes=512)
    body = manifest_push()
    assert len(body) > 512
    response = app.test_client().post(PATH, data=body, headers={"Content-Type": V1, **AUTH})
    assert response.status_code == 413
    code, message = error(response)
    assert code == "PAYLOAD_TOO_LARGE" and "512" in message
    assert recorded(app) == NOTHING


def test_a_chunked_body_over_the_limit_is_413(make_app: Callable[..., Flask]) -> None:
    """No Content-Length (chunked, as gunicorn passes it on): the body is read only up to the limit."""
    app = make_app(notify_token=replay.TOKEN, max_body_bytes=512)
    environ = EnvironBuilder(
        path=PATH, method="POST", input_stream=io.BytesIO(manifest_push()), headers={"Content-Type": V1, **AUTH}
    ).get_environ()
    del environ["CONTENT_LENGTH"]
    environ["wsgi.input_terminated"] = True
    response = app.test_client().open(environ)
    assert response.status_code == 413
    assert recorded(app) == NOTHING


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[]", "JSON object"),
        (b'"events"', "JSON object"),
        (b'{"evnts": []}', 'no "events"'),
        (b'{"events": {}}', "events"),
        (b'{"events": [{"id": "x", "action": "push", "target": {"size": NaN}}]}', "NaN is not a JSON number"),
        (b"[" * 1000 + b"]" * 1000, "nested deeper than 32 levels"),
    ],
)
def test_malformed_envelopes_are_400_and_say_what_is_wrong(app: Flask, body: bytes, fragment: str) -> None:
    response = app.test_client().post(PATH, data=body, headers={"Content-Type": V1, **AUTH})
    assert response.status_code == 400
    code, message = error(response)
    assert code == "BAD_REQUEST" and fragment in message
    assert recorded(app) == NOTHING
    assert kept_aside(app) == []


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (42, "the event is not a JSON object"),
        ({"action": "push", "target": {}}, "id: Missing data for required field."),
        ({"id": "x", "target": {}}, "action: Missing data for required field."),
        ({"id": "x", "action": "push", "timestamp": "yesterday"}, "timestamp: Not a valid datetime."),
        ({"id": "x", "action": "push", "target": {"size": "big"}}, "target.size: Not a valid integer."),
    ],
)
def test_a_malformed_event_is_kept_aside_and_acknowledged(app: Flask, event: object, reason: str) -> None:
    """The envelope is fine, one event is not: the registry gets its 200 (it would retry a 400 forever)."""
    response = app.test_client().post(PATH, data=json.dumps({"events": [event]}), headers={"Content-Type": V1, **AUTH})
    assert response.status_code == 200
    assert response.get_json() == {"received": 1, "recorded": 0, "duplicates": 0, "ignored": 1, "published": []}
    assert recorded(app) == NOTHING
    (aside,) = kept_aside(app)
    assert aside.reason == reason and json.loads(aside.event) == event


def test_one_bad_event_is_kept_aside_and_the_rest_is_recorded(app: Flask) -> None:
    good = json.loads(manifest_push())["events"][0]
    broken = {"id": "broken", "action": "push", "target": {"size": -1.5}}
    envelope = {"events": [good, broken]}
    response = app.test_client().post(PATH, data=json.dumps(envelope), headers={"Content-Type": V1, **AUTH})
    assert response.status_code == 200
    assert (response.get_json()["recorded"], response.get_json()["ignored"]) == (1, 1)
    assert recorded(app).access_logs == [("push", "library/alpine", "3.19", "sha256:6e0801e93391")]
    (aside,) = kept_aside(app)
    assert (aside.registry_event_id, aside.reason) == ("broken", "target.size: Not a valid integer.")


def test_an_empty_envelope_is_acknowledged(app: Flask) -> None:
    response = app.test_client().post(PATH, data=b'{"events": []}', headers={"Content-Type": V1, **AUTH})
    assert response.status_code == 200
    assert response.get_json()["received"] == 0


def test_only_post_is_served(app: Flask) -> None:
    response = app.test_client().get(PATH)
    assert response.status_code == 405


def test_unknown_project_is_kept_aside_when_auto_create_is_off(make_app: Callable[..., Flask]) -> None:
    app = make_app(notify_token=replay.TOKEN, auto_create_projects=False)
    response = app.test_client().post(PATH, data=manifest_push(), headers={"Content-Type": V1, **AUTH})
    assert response.status_code == 200
    assert response.get_json()["ignored"] == 1
    assert recorded(app) == NOTHING
    (aside,) = kept_aside(app)
    assert aside.reason.startswith("project library does not exist")


def test_database_down_is_503_so_the_registry_retries(make_app: Callable[..., Flask]) -> None:
    # Nothing listens on port 1: every connection attempt is refused at once.
    app = make_app(notify_token=replay.TOKEN, database_url="postgresql+psycopg://postgres@127.0.0.1:1/none")
    response = app.test_client().post(PATH, data=manifest_push(), headers={"Content-Type": V1, **AUTH})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    code, message = error(response)
    assert code == "SERVICE_UNAVAILABLE" and "nothing was recorded" in message


def test_dropped_events_need_no_database(make_app: Callable[..., Flask]) -> None:
    """A blob event is acknowledged even during an outage: there is nothing to record."""
    app = make_app(notify_token=replay.TOKEN, database_url="postgresql+psycopg://postgres@127.0.0.1:1/none")
    blob = replay.deliveries("push_oci_alpine_3.19")[0]
    response = app.test_client().post(PATH, data=blob.body, headers=blob.request_headers())
    assert response.status_code == 200
    assert response.get_json()["ignored"] == 1
