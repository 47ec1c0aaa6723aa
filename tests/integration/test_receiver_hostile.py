"""Hostile and huge notifications (DESIGN §10): one poison event never blocks the registry's queue.

Every case starts from an event the real registry sent (tests/fixtures/registry) and alters one field. A
per-event problem is kept aside (rejected_notifications) with its reason and counted as ignored, while the rest
of the envelope is recorded and answered 200; only a body that is not a notification envelope is a 4xx, and it
writes nothing. Each case runs on SQLite and on PostgreSQL, with the same outcome.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select
from sqlalchemy.exc import DataError
from werkzeug.test import TestResponse

from app.extensions import db
from app.models import RejectedNotification
from app.registry.schemas import MAX_DEPTH
from app.services import registry_events
from app.services.rejected import MAX_KEPT_PER_ENVELOPE
from tests.support import replay
from tests.support.state import Recorded, recorded

PATH = "/service/notifications"
OCI = "application/vnd.oci.image.manifest.v1+json"
NOTHING = Recorded(events=[], access_logs=[], repositories={}, projects=[])
ALPINE = "sha256:6e0801e93391"
BUSYBOX = "sha256:ea7e911e261e"
# What the busybox push beside each hostile event records.
BUSYBOX_ONLY = Recorded(
    events=[("PUSH_ARTIFACT", "library/busybox", ("1.36",), BUSYBOX)],
    access_logs=[("push", "library/busybox", "1.36", BUSYBOX)],
    repositories={"library/busybox": (1, 0)},
    projects=["library"],
)


# --- helpers ----------------------------------------------------------------------------------------------


def captured(scenario: str, index: int = -1) -> dict[str, Any]:
    """One event exactly as the registry sent it in ``scenario`` (its ``index``-th delivery)."""
    (event,) = replay.deliveries(scenario)[index].events()
    return event


def alpine_push() -> dict[str, Any]:
    return captured("push_oci_alpine_3.19")


def busybox_push() -> dict[str, Any]:
    return captured("push_v2s2_busybox_1.36")


def altered(event: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``event`` with the field at the dotted ``path`` set to ``value``, or removed for ``DELETE``."""
    result = copy.deepcopy(event)
    *parents, last = path.split(".")
    node = result
    for name in parents:
        node = node.setdefault(name, {})
    if value is DELETE:
        node.pop(last, None)
    else:
        node[last] = value
    return result


DELETE = object()


def body_of(*events: Any, **envelope: Any) -> bytes:
    """An envelope as the registry writes it (Go's json.MarshalIndent, 3 spaces)."""
    return json.dumps({"events": list(events), **envelope}, indent=3).encode()


def post(client: FlaskClient, body: bytes) -> TestResponse:
    headers = replay.deliveries("push_oci_alpine_3.19")[-1].request_headers()
    return client.post(PATH, data=body, headers=headers)


@dataclass(frozen=True)
class Aside:
    registry_event_id: str | None
    registry_request_id: str
    reason: str
    event: str
    event_truncated: bool
    source_address: str


def kept_aside(app: Flask) -> list[Aside]:
    """Every rejected_notifications row, oldest first."""
    with app.app_context():
        rows = [
            Aside(
                r.registry_event_id,
                r.registry_request_id,
                r.reason,
                r.event,
                r.event_truncated,
                r.source_address,
            )
            for r in db.session.scalars(select(RejectedNotification).order_by(RejectedNotification.id))
        ]
        db.session.remove()
    return rows


def error(response: TestResponse) -> tuple[str, str]:
    assert response.mimetype == "application/json"
    (only,) = response.get_json()["errors"]
    return only["code"], only["message"]


def assert_refused_whole(app: Flask, response: TestResponse, fragment: str) -> None:
    """A 400 in Harbor's shape that says what is wrong, and nothing recorded or kept aside."""
    assert response.status_code == 400, response.get_data(as_text=True)
    code, message = error(response)
    assert code == "BAD_REQUEST"
    assert fragment in message, message
    assert recorded(app) == NOTHING
    assert kept_aside(app) == []


# --- per-event problems: kept aside, the rest recorded, 200 -----------------------------------------------

LONG_MEDIA_TYPE = OCI + "; x=" + "p" * 260

PER_EVENT = [
    # Longer than the column the value goes to (PostgreSQL refused these with a 500; SQLite stored them).
    ("target.repository", "library/" + "a" * 505, "target.repository has 513 characters; at most 512"),
    ("target.tag", "t" * 256, "target.tag has 256 characters; at most 255"),
    ("target.digest", "sha256:" + "a" * 249, "target.digest has 256 characters; at most 255"),
    ("target.mediaType", LONG_MEDIA_TYPE, f"target.mediaType has {len(LONG_MEDIA_TYPE)} characters; at most 255"),
    ("actor.name", "u" * 256, "actor.name has 256 characters; at most 255"),
    ("request.useragent", "ua" * 257, "request.useragent has 514 characters; at most 512"),
    ("request.id", "r" * 65, "request.id has 65 characters; at most 64"),
    ("request.host", "h" * 256, "request.host has 256 characters; at most 255"),
    ("id", "e" * 65, "id has 65 characters; at most 64"),
    ("target.size", 2**63, "target.size is over"),
    # NUL, unpaired surrogates and other control characters (PostgreSQL refused NUL with a 500).
    ("target.tag", "3.19\x00", "U+0000"),
    ("target.repository", "library/alp\x00ine", "U+0000"),
    ("actor.name", "bob\x00", "U+0000"),
    ("request.useragent", "skopeo/1.9.3\x00", "U+0000"),
    ("id", "e36d03d9\x00", "U+0000"),
    ("target.tag", "3.19\ud800", "U+D800"),
    ("actor.name", "\udfff", "U+DFFF"),
    ("request.useragent", "skopeo/1.9.3\r\nX-Forged: 1", "U+000D"),
    # Project names Harbor refuses (these created projects before), and names no registry sends.
    ("target.repository", "EVIL<script>alert(1)</script>", "project 'EVIL<script>alert(1)<'"),
    ("target.repository", "a b/app", "project 'a b'"),
    ("target.repository", "../app", "project '..'"),
    ("target.repository", "x' or '1'='1/app", "project \"x' or '1'='1\""),
    ("target.repository", "123/app", "must not be all digits"),
    ("target.repository", "library/Alpine", "is not a repository name"),
    ("target.repository", "<b>", "is not a repository name"),
    ("target.tag", "-rc1", "is not a tag"),
    ("target.digest", "sha256:not hex", "is not a digest"),
    # A wrong type in one field of one event.
    ("target.size", "big", "target.size: Not a valid integer."),
    ("target.size", 1.5, "target.size: Not a valid integer."),
    ("timestamp", "yesterday", "timestamp:"),
    ("timestamp", "0001-01-01T00:00:00+01:00", "timestamp: Not a representable time"),
    ("target", [1], "target:"),
    ("request", "GET", "request:"),
    ("id", 42, "id: Not a valid string."),
    ("actor.name", {"first": "bob"}, "actor.name: Not a valid string."),
    ("id", DELETE, "id: Missing data for required field."),
    ("action", DELETE, "action: Missing data for required field."),
]


@pytest.mark.parametrize(("path", "value", "fragment"), PER_EVENT)
def test_an_event_that_cannot_be_recorded_is_kept_aside_and_the_rest_is_recorded(
    app: Flask, path: str, value: Any, fragment: str
) -> None:
    hostile = altered(alpine_push(), path, value)
    response = post(app.test_client(), body_of(hostile, busybox_push()))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {
        "received": 2,
        "recorded": 1,
        "duplicates": 0,
        "ignored": 1,
        "published": ["PUSH_ARTIFACT"],
    }
    assert recorded(app) == BUSYBOX_ONLY
    (aside,) = kept_aside(app)
    assert fragment in aside.reason, aside.reason
    assert json.loads(aside.event) == hostile and not aside.event_truncated
    assert aside.event.isascii()
    assert aside.source_address == "127.0.0.1"
    usable = isinstance(hostile.get("id"), str) and len(hostile["id"]) <= 64 and "\x00" not in hostile["id"]
    assert aside.registry_event_id == (hostile["id"] if usable else None)
    request_id = hostile["request"]["id"] if isinstance(hostile["request"], dict) else ""
    assert aside.registry_request_id == (request_id if len(request_id) <= 64 else "")


@pytest.mark.parametrize("hostile", [42, "push", None, [], [alpine_push()], True])
def test_an_event_that_is_not_an_object_is_kept_aside(app: Flask, hostile: Any) -> None:
    response = post(app.test_client(), body_of(hostile, busybox_push()))
    assert response.status_code == 200
    assert (response.get_json()["recorded"], response.get_json()["ignored"]) == (1, 1)
    assert recorded(app) == BUSYBOX_ONLY
    (aside,) = kept_aside(app)
    assert aside.reason == "the event is not a JSON object"
    assert json.loads(aside.event) == hostile and aside.registry_event_id is None


def test_utf8_encoded_surrogates_in_a_field_reject_that_event_only(app: Flask) -> None:
    """CESU-style bytes (ED A0 80) decode to an unpaired surrogate, as the JSON decoder reads bytes."""
    body = body_of(altered(alpine_push(), "target.tag", "3.19SURROGATE"), busybox_push())
    body = body.replace(b"SURROGATE", b"\xed\xa0\x80")
    response = post(app.test_client(), body)
    assert response.status_code == 200
    assert response.get_json()["ignored"] == 1
    assert recorded(app) == BUSYBOX_ONLY
    (aside,) = kept_aside(app)
    assert "U+D800" in aside.reason and "\\ud800" in aside.event


def test_values_at_the_column_limits_are_recorded_on_every_backend(app: Flask) -> None:
    event = alpine_push()
    widest = {
        "id": "i" * 64,
        "target.repository": "library/" + "a" * 504,
        "target.tag": "t" * 128,
        "target.digest": "sha256:" + "a" * 248,
        "target.mediaType": OCI + "; x=" + "p" * (255 - len(OCI) - 4),
        "target.size": 2**63 - 1,
        "actor.name": "u" * 255,
        "request.id": "r" * 64,
        "request.useragent": "a" * 512,
        "request.host": "h" * 251 + ":443",
    }
    for path, value in widest.items():
        event = altered(event, path, value)
    event["target"].pop("length")
    response = post(app.test_client(), body_of(event))
    assert response.status_code == 200
    assert response.get_json()["recorded"] == 1
    state = recorded(app)
    assert state.access_logs == [("push", "library/" + "a" * 504, "t" * 128, "sha256:" + "a" * 12)]
    assert kept_aside(app) == []


def test_an_unknown_project_is_kept_aside_when_projects_are_not_created(make_app: Callable[..., Flask]) -> None:
    app = make_app(notify_token=replay.TOKEN, auto_create_projects=False)
    client = app.test_client()
    assert client.post("/api/v2.0/projects", json={"project_name": "library"}).status_code == 201
    stranger = altered(alpine_push(), "target.repository", "team-x/app")
    response = post(client, body_of(stranger, busybox_push()))
    assert response.status_code == 200
    assert (response.get_json()["recorded"], response.get_json()["ignored"]) == (1, 1)
    assert recorded(app) == BUSYBOX_ONLY
    (aside,) = kept_aside(app)
    assert aside.reason.startswith("project team-x does not exist")
    assert "DOCKHOOK_AUTO_CREATE_PROJECTS=false" in aside.reason
    assert aside.registry_event_id == stranger["id"]
    assert json.loads(aside.event) == stranger


def test_resends_of_a_rejected_event_are_kept_once(app: Flask) -> None:
    by_id = altered(alpine_push(), "target.tag", "t" * 300)
    without_id = altered(busybox_push(), "id", DELETE)
    client = app.test_client()
    answers = [post(client, body_of(by_id, without_id, 7)) for _ in range(3)]
    assert [a.status_code for a in answers] == [200] * 3
    assert [a.get_json()["ignored"] for a in answers] == [3] * 3
    aside = kept_aside(app)
    assert [a.registry_event_id for a in aside] == [by_id["id"], None, None]
    assert recorded(app) == NOTHING


def test_an_event_rejected_twice_in_one_envelope_is_kept_once(app: Flask) -> None:
    hostile = altered(alpine_push(), "target.repository", "../app")
    response = post(app.test_client(), body_of(hostile, hostile))
    assert response.status_code == 200 and response.get_json()["ignored"] == 2
    assert len(kept_aside(app)) == 1


def test_simultaneous_resends_of_a_rejected_event_keep_it_once(app: Flask) -> None:
    body = body_of(altered(alpine_push(), "actor.name", "x" * 1000))
    threads = 8
    barrier = threading.Barrier(threads)

    def send(_: int) -> int:
        client = app.test_client()
        barrier.wait()
        return post(client, body).status_code

    with ThreadPoolExecutor(threads) as pool:
        assert list(pool.map(send, range(threads))) == [200] * threads
    assert len(kept_aside(app)) == 1


def test_a_huge_rejected_event_is_kept_cut_to_its_bound(app: Flask) -> None:
    hostile = altered(alpine_push(), "padding", "p" * 100_000)
    hostile["target"]["tag"] = "\x00"
    response = post(app.test_client(), body_of(hostile))
    assert response.status_code == 200
    (aside,) = kept_aside(app)
    assert aside.event_truncated and len(aside.event) == 16 * 1024
    assert aside.event.startswith('{"id":"e36d03d9')


def test_the_database_refusing_a_checked_event_keeps_it_aside_instead_of_failing(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A safety net, should the checks ever miss something the database refuses: the registry still gets its
    200 and the event is kept aside (the receiver's log has the error)."""

    def refuse(*_: Any) -> None:
        raise DataError("INSERT ...", {}, Exception("value too long for type character varying(255)"))

    monkeypatch.setattr(registry_events, "_apply", refuse)
    event = alpine_push()
    response = post(app.test_client(), body_of(event))
    assert response.status_code == 200
    assert response.get_json()["recorded"] == 0 and response.get_json()["ignored"] == 1
    assert recorded(app) == NOTHING
    (aside,) = kept_aside(app)
    assert aside.reason.startswith("the database refused to record it (Exception)")
    assert aside.registry_event_id == event["id"]


def test_dropped_events_are_not_checked_or_kept(app: Flask) -> None:
    """A blob event is dropped before any check: an over-long value in it harms nothing and is not kept."""
    blob = altered(captured("push_oci_alpine_3.19", 0), "target.repository", "EVIL<script>/" + "x" * 600)
    response = post(app.test_client(), body_of(blob))
    assert response.status_code == 200 and response.get_json()["ignored"] == 1
    assert kept_aside(app) == []


# --- bodies that are not a notification envelope: 400, nothing written -------- -------------------------


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for level in range(depth):
        value = [value] if level % 2 else {"n": value}
    return value


def test_nesting_up_to_the_limit_is_accepted(app: Flask) -> None:
    # The envelope, its list and the event are 3 levels: an unknown field gets the rest.
    event = altered(alpine_push(), "extra", nested(MAX_DEPTH - 3))
    response = post(app.test_client(), body_of(event))
    assert response.status_code == 200 and response.get_json()["recorded"] == 1


def test_nesting_past_the_limit_is_400(app: Flask) -> None:
    event = altered(alpine_push(), "extra", nested(MAX_DEPTH - 2))
    response = post(app.test_client(), body_of(event))
    assert_refused_whole(app, response, f"nested deeper than {MAX_DEPTH} levels")


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 1000 + b"]" * 1000,  # 2 KB: a 500 before (RecursionError)
        b'{"events": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        b"[" * 200_000,  # never closed: the decoder would recurse until it failed
        b'{"events": [' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"]}",
    ],
    ids=["array-1000", "in-events-1000", "unclosed-200k", "objects-5000"],
)
def test_deeply_nested_bodies_are_400(app: Flask, body: bytes) -> None:
    response = post(app.test_client(), body)
    assert_refused_whole(app, response, f"nested deeper than {MAX_DEPTH} levels")


def test_brackets_inside_strings_do_not_count_as_nesting(app: Flask) -> None:
    event = altered(alpine_push(), "extra", "[" * 1000 + '\\"{' * 100)
    response = post(app.test_client(), body_of(event))
    assert response.status_code == 200 and response.get_json()["recorded"] == 1


@pytest.mark.parametrize(
    ("literal", "fragment"),
    [
        (b"NaN", "NaN is not a JSON number"),
        (b"Infinity", "Infinity is not a JSON number"),
        (b"-Infinity", "-Infinity is not a JSON number"),
        (b"1e400", "number 1e400 is out of range"),
        (b"-1e999", "is out of range"),
        (b"9" * 5000, "integer string conversion"),
    ],
)
def test_numbers_json_cannot_hold_are_400_wherever_they_are(app: Flask, literal: bytes, fragment: str) -> None:
    """Go's encoder cannot write them, so no registry sends them: the body is not JSON, and is refused whole."""
    for where in ("target.size", "extra.deep"):
        body = body_of(altered(alpine_push(), where, "PLACEHOLDER"), busybox_push())
        response = post(app.test_client(), body.replace(b'"PLACEHOLDER"', literal))
        assert_refused_whole(app, response, fragment)


def test_invalid_utf8_in_a_string_is_400(app: Flask) -> None:
    body = body_of(altered(alpine_push(), "target.tag", "3.19PLACEHOLDER"), busybox_push())
    response = post(app.test_client(), body.replace(b"PLACEHOLDER", b"\xff\xfe"))
    assert_refused_whole(app, response, "not valid JSON")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"events": null}', '"events" must be a list'),
        (b'{"events": "push"}', '"events" must be a list'),
        (b'{"events": {"0": {}}}', '"events" must be a list'),
        (b'{"Events": []}', 'no "events" list'),
        (b"null", "JSON object"),
        (b"[{}]", "JSON object"),
    ],
)
def test_bodies_that_are_not_an_envelope_are_400(app: Flask, body: bytes, fragment: str) -> None:
    assert_refused_whole(app, post(app.test_client(), body), fragment)


# --- huge envelopes: the body limit bounds the events, the rows kept aside are bounded per envelope ----------


def megabyte_of(event: Any) -> list[Any]:
    """As many copies of ``event`` as fit in a body under DOCKHOOK_MAX_BODY_BYTES (1 MiB by default)."""
    size = len(json.dumps(event, separators=(",", ":"))) + 1
    return [event] * ((1024 * 1024 - 20) // size)


def test_a_full_envelope_of_real_events_is_taken(app: Flask) -> None:
    blobs = megabyte_of(captured("push_oci_alpine_3.19", 0))
    body = json.dumps({"events": blobs}, separators=(",", ":")).encode()
    assert len(body) <= 1024 * 1024 and len(blobs) > 1500
    response = post(app.test_client(), body)
    assert response.status_code == 200
    assert response.get_json()["ignored"] == len(blobs)


def test_a_megabyte_of_bad_events_keeps_a_bounded_number_aside(app: Flask) -> None:
    """150,000 distinct bad events in one body: all are counted, the first ones are kept, the rest recorded."""
    garbage = list(range(150_000))
    body = json.dumps({"events": [*garbage, busybox_push()]}, separators=(",", ":")).encode()
    assert len(body) <= 1024 * 1024
    response = post(app.test_client(), body)
    assert response.status_code == 200
    answer = response.get_json()
    assert (answer["received"], answer["recorded"], answer["ignored"]) == (150_001, 1, 150_000)
    assert recorded(app) == BUSYBOX_ONLY
    aside = kept_aside(app)
    assert len(aside) == MAX_KEPT_PER_ENVELOPE
    assert [json.loads(a.event) for a in aside] == garbage[:MAX_KEPT_PER_ENVELOPE]


# --- the table's migration ----------------------------------------------------------------------------------


def test_migration_0007_creates_the_table_and_downgrades_away(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    with app.app_context():
        db.session.close()  # SQLite: no transaction of ours may hold the file while Alembic writes
        downgrade(revision="0006")
        assert "rejected_notifications" not in inspect(db.engine).get_table_names()
        upgrade()
        columns = {c["name"] for c in inspect(db.engine).get_columns("rejected_notifications")}
        assert columns == {c.name for c in RejectedNotification.__table__.columns}
        indexes = {i["name"] for i in inspect(db.engine).get_indexes("rejected_notifications")}
        assert "ix_rejected_notifications_received" in indexes
