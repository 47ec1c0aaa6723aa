"""Hostile and huge input to the API (issue 9): each kind schemathesis found is a 4xx in Harbor's error shape that
writes nothing, on SQLite and on PostgreSQL (where NUL, lone surrogates and out-of-range numbers used to fail in the
database). The bounds are the ones the OpenAPI document states (tests/api/test_openapi_document.py)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import AccessLog, Base, Project
from tests.api.test_list_queries_api import make_jobs
from tests.support import replay

HOOKS = "/api/v2.0/projects/library/webhook"
SECRET = "Bearer h0stile-s3cret"
SIGNING_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
HUGE = ("2147483648", "18446744073709551616", "9" * 40, "9" * 5000)
NOT_ASCII_DIGITS = ("²", "١٢", "１")


def target(**overrides: Any) -> dict[str, Any]:
    return {"type": "http", "address": "https://ci.example.com/hook", "auth_header": SECRET, **overrides}


def policy(**overrides: Any) -> dict[str, Any]:
    return {"name": "ci", "targets": [target()], "event_types": ["PUSH_ARTIFACT"], **overrides}


@pytest.fixture
def hostile_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(notify_token=replay.TOKEN, max_targets=3, max_api_body_bytes=16 * 1024)


@pytest.fixture
def seeded(hostile_app: Flask) -> Iterator[tuple[FlaskClient, dict[str, int]]]:
    """Project ``library`` with policy ``ci`` (auth header, signing secret) and one hook job per status."""
    client = hostile_app.test_client()
    project = client.post("/api/v2.0/projects", json={"project_name": "library"})
    assert project.status_code == 201
    created = client.post(f"{HOOKS}/policies", json=policy(targets=[target(secret=SIGNING_SECRET)]))
    assert created.status_code == 201, created.get_json()
    policy_id = int(created.headers["Location"].rsplit("/", 1)[1])
    ids = {
        "project": int(project.headers["Location"].rsplit("/", 1)[1]),
        "policy": policy_id,
        **make_jobs(hostile_app, policy_id),
    }
    yield client, ids


def snapshot(app: Flask) -> dict[str, list[str]]:
    """Every row of every table: equal before and after means nothing was written."""
    with app.app_context():
        rows = {
            t.name: sorted(repr(tuple(r)) for r in db.session.execute(select(t))) for t in Base.metadata.sorted_tables
        }
        db.session.remove()
    return rows


def refused(response: Any, status: int, *fragments: str) -> str:
    """Assert Harbor's error shape with ``status`` and a message holding every fragment; return the message."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    body = response.get_json()
    assert set(body) == {"errors"} and len(body["errors"]) == 1, body
    (error,) = body["errors"]
    assert set(error) == {"code", "message"} and error["code"], error
    for fragment in fragments:
        assert fragment in error["message"], (fragment, error["message"])
    assert SECRET not in response.get_data(as_text=True)
    return str(error["message"])


def raw(client: FlaskClient, method: str, path: str, body: bytes | str) -> Any:
    return client.open(path, method=method, data=body, content_type="application/json")


# ------------------------------------------------------------------------------------------- integers in paths


def test_integers_past_32_and_64_bits_in_a_path_are_404_and_write_nothing(
    hostile_app: Flask, seeded: tuple[FlaskClient, dict[str, int]]
) -> None:
    client, ids = seeded
    before = snapshot(hostile_app)
    policy_path = f"{HOOKS}/policies/{ids['policy']}"
    for huge in HUGE:
        for method, path in [
            ("GET", f"/api/v2.0/projects/{huge}"),
            ("DELETE", f"/api/v2.0/projects/{huge}"),
            ("GET", f"/api/projects/{huge}/webhook/policies"),
            ("GET", f"{HOOKS}/policies/{huge}"),
            ("DELETE", f"{HOOKS}/policies/{huge}"),
            ("GET", f"{policy_path}/executions/{huge}/tasks"),
            ("GET", f"{policy_path}/executions/{ids['error']}/tasks/{huge}/log"),
            ("POST", f"{HOOKS}/policies/{huge}/recover"),
        ]:
            refused(client.open(path, method=method, json={"since": "2021-01-01T00:00:00Z"}), 404)
    assert snapshot(hostile_app) == before


def test_digits_that_are_not_ascii_name_no_id(hostile_app: Flask, seeded: tuple[FlaskClient, dict[str, int]]) -> None:
    client, ids = seeded
    before = snapshot(hostile_app)
    for digits in NOT_ASCII_DIGITS:
        # werkzeug's int converter took Arabic-Indic digits as a number (١ read as 1); ids are ASCII only now.
        refused(client.get(f"/api/projects/{quote(digits)}/webhook/policies"), 404)
        refused(client.get(f"{HOOKS}/policies/{quote(digits)}"), 404)
        refused(client.delete(f"{HOOKS}/policies/{quote(digits)}"), 404)
        # A project reference that is not an ASCII number is a name, and there is none such.
        refused(client.get(f"/api/v2.0/projects/{quote(digits)}"), 404)
    assert len(client.get(f"/api/projects/{ids['project']}/webhook/policies").get_json()) == 1
    assert snapshot(hostile_app) == before


# ---------------------------------------------------------------------------------- integers in query arguments


@pytest.mark.parametrize("value", [*HUGE, *NOT_ASCII_DIGITS, "1_000", " 1", "1.0", "0x10", "NaN", "-1", "0", ""])
def test_page_page_size_and_policy_id_take_only_ascii_integers_in_range(
    hostile_app: Flask, seeded: tuple[FlaskClient, dict[str, int]], value: str
) -> None:
    client, ids = seeded
    before = snapshot(hostile_app)
    for path, name in [
        ("/api/v2.0/projects", "page"),
        ("/api/v2.0/audit-logs", "page_size"),
        (f"{HOOKS}/policies", "page"),
        (f"{HOOKS}/hook-jobs", "policy_id"),
        (f"{HOOKS}/hook-jobs", "page_size"),
        (f"{HOOKS}/jobs?policy_id={ids['policy']}", "page"),
    ]:
        separator = "&" if "?" in path else "?"
        refused(client.get(f"{path}{separator}{name}={quote(value)}"), 400, name)
    refused(client.get(f"{HOOKS}/jobs?policy_id={quote(value)}"), 400, "policy_id")
    assert snapshot(hostile_app) == before


def test_page_bounds(seeded: tuple[FlaskClient, dict[str, int]]) -> None:
    client, _ = seeded
    for query in ("page=0", "page=2147483648", "page_size=0", "page_size=101"):
        refused(client.get(f"/api/v2.0/projects?{query}"), 400, query.split("=")[0])
    assert client.get("/api/v2.0/projects?page=2147483647&page_size=100").get_json() == []
    assert client.get("/api/v2.0/projects?page=%2B1&page_size=100").status_code == 200


def test_integers_in_q_stay_within_the_columns(seeded: tuple[FlaskClient, dict[str, int]]) -> None:
    client, _ = seeded
    for q in ("project_id=2147483648", "project_id={1 99999999999999999999}", "project_id=[² ~ ¹]", "project_id=١"):
        refused(client.get(f"/api/v2.0/projects?q={quote(q)}"), 400, "q: project_id")


# ------------------------------------------------------------------------------------------------- timestamps

EXTREME_TIMES = (
    "9999-12-31T23:59:59-14:00",  # year 10000 in UTC: beyond datetime
    "9999-12-31T23:59:59.999999-00:01",
    "0001-01-01T00:00:00+14:00",  # year 0 in UTC
    "0001-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
)


@pytest.mark.parametrize("moment", EXTREME_TIMES)
def test_times_beyond_1970_to_9999_utc_are_400_everywhere(
    hostile_app: Flask, seeded: tuple[FlaskClient, dict[str, int]], moment: str
) -> None:
    client, ids = seeded
    before = snapshot(hostile_app)
    refused(client.get(f"{HOOKS}/hook-jobs?since={quote(moment)}"), 400, "since", "1970")
    recover = f"{HOOKS}/policies/{ids['policy']}/recover"
    refused(client.post(recover, json={"since": moment}), 400, "since", "1970")
    refused(client.post(recover, json={"since": "2021-01-01T00:00:00Z", "until": moment}), 400, "until", "1970")
    for path, key in [
        ("/api/v2.0/projects", "creation_time"),
        ("/api/v2.0/audit-logs", "op_time"),
        (f"{HOOKS}/policies", "update_time"),
        (f"{HOOKS}/jobs?policy_id={ids['policy']}&", "creation_time"),
        (f"{HOOKS}/policies/{ids['policy']}/executions", "start_time"),
    ]:
        for q in (f"{key}={moment}", f"{key}=[{moment}~]", f"{key}={{{moment} 2021-01-01}}"):
            separator = "" if path.endswith("&") else "?"
            refused(client.get(f"{path}{separator}q={quote(q)}"), 400, f"q: {key}", "1970")
    assert snapshot(hostile_app) == before


def test_a_time_without_an_offset_is_refused_and_the_edges_are_taken(
    seeded: tuple[FlaskClient, dict[str, int]],
) -> None:
    client, ids = seeded
    refused(client.get(f"{HOOKS}/hook-jobs?since=2021-01-01T00:00:00"), 400, "since")
    for edge in ("1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1970-01-01T14:00:00+14:00"):
        assert client.get(f"{HOOKS}/hook-jobs?since={quote(edge)}").status_code == 200, edge
        assert client.get(f"/api/v2.0/projects?q={quote('creation_time=[' + edge + '~]')}").status_code == 200
    recovered = client.post(f"{HOOKS}/policies/{ids['policy']}/recover", json={"since": "1970-01-01T00:00:00Z"})
    assert recovered.status_code == 202


# ------------------------------------------------------------------------------- NUL, lone surrogates, NaN, depth


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("name", "ci\u0000x"),
        ("description", "a\ud800b"),
        ("creator", "\udfff"),
        ("targets.0.address", "https://x\u0000/"),
    ],
)
def test_nul_and_lone_surrogates_in_a_body_are_400(
    hostile_app: Flask, seeded: tuple[FlaskClient, dict[str, int]], where: str, value: str
) -> None:
    client, ids = seeded
    before = snapshot(hostile_app)
    body = policy(name="other")
    if where.startswith("targets"):
        body["targets"][0]["address"] = value
    else:
        body[where] = value
    text = json.dumps(body)  # \u0000 and \ud800 as JSON escapes, as a client sends them
    refused(raw(client, "POST", f"{HOOKS}/policies", text), 400, f"body.{where}", "NUL")
    refused(raw(client, "PUT", f"{HOOKS}/policies/{ids['policy']}", text), 400, f"body.{where}", "NUL")
    refused(raw(client, "POST", "/api/v2.0/projects", json.dumps({"project_name": value})), 400, "project_name")
    refused(raw(client, "POST", "/api/v2.0/projects", json.dumps({"project_name": "ok", value: 1})), 400, "key")
    assert snapshot(hostile_app) == before


def test_nul_in_a_path_or_query_is_400(hostile_app: Flask, seeded: tuple[FlaskClient, dict[str, int]]) -> None:
    client, _ = seeded
    before = snapshot(hostile_app)
    for path in (
        "/api/v2.0/projects/lib%00rary",
        f"{HOOKS}/policies?q=name%3Dci%00",
        "/api/v2.0/projects?name=%00",
        "/api/v2.0/projects/library/logs?repository=a%00b",
        "/api/v2.0/hook-jobs/%00",
        "/api/v2.0/projects?na%00me=x",
    ):
        refused(client.get(path), 400, "NUL")
    assert client.head("/api/v2.0/projects?project_name=%00").status_code == 400
    # q is unescaped once more (Harbor's UI encodes it twice): %2500 is a NUL only then.
    refused(client.get(f"/api/v2.0/projects?q={quote('name=~%00')}"), 400, "q", "NUL")
    assert snapshot(hostile_app) == before


@pytest.mark.parametrize(
    "body",
    [
        '{"project_name": "nan", "public": NaN}',
        '{"project_name": "inf", "metadata": {"x": Infinity}}',
        '{"project_name": "neg", "extra": -Infinity}',
        '{"project_name": "big", "extra": 1e999}',
        '{"project_name": "huge", "extra": 18446744073709551616}',
        '{"project_name": "digits", "extra": ' + "9" * 5000 + "}",
    ],
)
def test_nan_infinity_and_numbers_out_of_range_are_400(hostile_app: Flask, body: str) -> None:
    client = hostile_app.test_client()
    before = snapshot(hostile_app)
    refused(raw(client, "POST", "/api/v2.0/projects", body), 400, "the request body holds")
    assert snapshot(hostile_app) == before


def test_json_nested_deeper_than_32_levels_is_400_before_parsing(hostile_app: Flask) -> None:
    client = hostile_app.test_client()
    before = snapshot(hostile_app)

    def nested(depth: int) -> str:  # depth counts the body's own object
        return '{"project_name": "deep", "extra": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"

    refused(raw(client, "POST", "/api/v2.0/projects", nested(33)), 400, "nested deeper than 32")
    # Deep enough to exhaust Python's parser (a RecursionError, a 500, before): within the body limit.
    refused(raw(client, "PUT", "/api/v2.0/configurations", "[" * 15000), 400, "nested")
    refused(raw(client, "PUT", "/api/v2.0/configurations", '{"a":' * 2500 + "1" + "}" * 2500), 400, "nested")
    # Brackets inside strings are not nesting.
    assert (
        raw(client, "POST", "/api/v2.0/projects", json.dumps({"project_name": "s", "x": "[" * 100})).status_code == 201
    )
    assert snapshot(hostile_app) != before
    assert raw(client, "POST", "/api/v2.0/projects", nested(32)).status_code == 201


def test_a_body_that_is_not_utf8_json_is_400(hostile_app: Flask) -> None:
    client = hostile_app.test_client()
    refused(raw(client, "POST", "/api/v2.0/projects", b"\xff\xfe{}"), 400, "UTF-8")
    refused(raw(client, "POST", "/api/v2.0/projects", b'{"project_name": "x"'), 400, "not valid JSON")
    assert client.get("/api/v2.0/projects").get_json() == []


# ------------------------------------------------------------------------------------------------- body size


def test_a_body_over_the_api_limit_is_413_and_the_receiver_keeps_its_own_limit(hostile_app: Flask) -> None:
    client = hostile_app.test_client()
    before = snapshot(hostile_app)
    big = json.dumps({"project_name": "big", "metadata": {"x": None}, "pad": "x" * (16 * 1024)})
    refused(raw(client, "POST", "/api/v2.0/projects", big), 413, "16384-byte limit", "DOCKHOOK_MAX_API_BODY_BYTES")
    # Without Content-Length (chunked): cut at the limit all the same.
    chunked = client.post(
        "/api/v2.0/projects",
        input_stream=io.BytesIO(big.encode()),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},  # as gunicorn says of a chunked body
    )
    refused(chunked, 413, "limit")
    assert snapshot(hostile_app) == before
    # The registry's notifications are bounded by DOCKHOOK_MAX_BODY_BYTES (1 MiB here), not by the API's limit.
    delivery = replay.deliveries("push_oci_alpine_3.19")[-1]
    envelope = json.loads(delivery.body)
    envelope["padding"] = "x" * (32 * 1024)
    headers = {**delivery.request_headers(), "Content-Length": None}
    accepted = client.post(delivery.path, data=json.dumps(envelope), headers={k: v for k, v in headers.items() if v})
    assert accepted.status_code == 200, accepted.get_json()


# ---------------------------------------------------------------------------------------------- policy bounds


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"targets": []}, "targets"),
        ({"targets": [target(address=f"https://ci.example.com/{n}") for n in range(4)]}, "targets"),
        ({"event_types": []}, "event_types"),
        ({"event_types": ["PUSH_ARTIFACT"] * 17}, "event_types"),
        ({"event_types": ["P" * 65]}, "event_types.0"),
        ({"name": "n" * 257}, "name"),
        ({"description": "d" * 4097}, "description"),
        ({"targets": [target(address="https://ci.example.com/" + "a" * 2048)]}, "targets.0.address"),
        ({"targets": [target(auth_header="B" * 4097)]}, "targets.0.auth_header"),
        ({"targets": [target(secret="whsec_" + "A" * 123)]}, "targets.0.secret"),
        ({"targets": [target(payload_format="Xml")]}, "targets.0.payload_format"),
    ],
)
def test_policy_bounds_are_400_and_write_nothing(
    hostile_app: Flask, seeded: tuple[FlaskClient, dict[str, int]], change: dict[str, Any], field: str
) -> None:
    client, ids = seeded
    before = snapshot(hostile_app)
    refused(client.post(f"{HOOKS}/policies", json={**policy(name="other"), **change}), 400, field)
    refused(client.put(f"{HOOKS}/policies/{ids['policy']}", json=policy(**change)), 400, field)
    assert snapshot(hostile_app) == before


def test_policy_bounds_are_inclusive(seeded: tuple[FlaskClient, dict[str, int]]) -> None:
    client, _ = seeded
    body = policy(
        name="n" * 256,
        description="d" * 4096,
        targets=[
            target(address=f"https://ci.example.com/{n}", auth_header="B" * (4096 if n == 0 else 9)) for n in range(3)
        ],
        event_types=["PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT", "pushImage"],
    )
    created = client.post(f"{HOOKS}/policies", json=body)
    assert created.status_code == 201, created.get_json()


# ------------------------------------------------------------------------------------------------ project bounds


def test_project_names_follow_harbors_rule(hostile_app: Flask) -> None:
    client = hostile_app.test_client()
    for name, fragment in [
        ("2024", "must not be all digits"),
        ("Caps", "lower-case"),
        ("a..b", "lower-case"),
        ("x" * 256, "project_name"),
        ("", "project_name"),
    ]:
        refused(client.post("/api/v2.0/projects", json={"project_name": name}), 400, "project_name", fragment)
    assert client.get("/api/v2.0/projects").get_json() == []
    for name in ("x" * 255, "v2", "team-a.b_c"):
        assert client.post("/api/v2.0/projects", json={"project_name": name}).status_code == 201, name


def test_project_metadata_is_bounded_and_null_means_not_given(hostile_app: Flask) -> None:
    client = hostile_app.test_client()
    before = snapshot(hostile_app)
    for metadata, fragment in [
        ({f"k{n}": "v" for n in range(33)}, "at most 32 keys"),
        ({"k" * 65: "v"}, "at most 64 characters"),
        ({"auto_scan": "v" * 257}, "metadata.auto_scan"),
        ({"auto_scan": 1}, "metadata.auto_scan"),
        ({"auto_scan": {"nested": "x"}}, "metadata.auto_scan"),
        ({"public": "maybe"}, "metadata.public"),
        ([], "metadata"),
    ]:
        refused(client.post("/api/v2.0/projects", json={"project_name": "meta", "metadata": metadata}), 400, fragment)
    assert snapshot(hostile_app) == before
    # The document allows null values: they mean "not given" (Harbor's clients send them).
    nulls = {"public": None, "auto_scan": None, "severity": None}
    assert client.post("/api/v2.0/projects", json={"project_name": "meta", "metadata": nulls}).status_code == 201
    assert client.get("/api/v2.0/projects/meta").get_json()["metadata"] == {"public": "false"}
    fine = {f"k{n}": "v" * 256 for n in range(31)}
    assert (
        client.put("/api/v2.0/projects/meta", json={"public": True, "metadata": {**fine, "public": None}}).status_code
        == 200
    )
    assert client.get("/api/v2.0/projects/meta").get_json()["metadata"] == {"public": "true"}


def test_text_arguments_are_bounded(seeded: tuple[FlaskClient, dict[str, int]]) -> None:
    client, _ = seeded
    for path, name in [
        ("/api/v2.0/projects?name=", "name"),
        ("/api/v2.0/projects/library/repositories?name=", "name"),
        ("/api/v2.0/projects/library/logs?repository=", "repository"),
        (f"{HOOKS}/hook-jobs?event_type=", "event_type"),
        ("/api/v2.0/projects?q=", "q"),
        ("/api/v2.0/projects?sort=", "sort"),
    ]:
        refused(client.get(path + "x" * 5000), 400, name)
    assert client.head("/api/v2.0/projects?project_name=" + "x" * 256).status_code == 400


def test_an_id_that_is_not_a_uuid_names_no_hook_job(seeded: tuple[FlaskClient, dict[str, int]]) -> None:
    client, _ = seeded
    for uuid in ("x" * 5000, "00000000-0000-0000-0000-00000000000G", "'; DROP TABLE hook_jobs; --"):
        refused(client.get(f"/api/v2.0/hook-jobs/{quote(uuid)}"), 404)
        refused(client.post(f"/api/v2.0/hook-jobs/{quote(uuid)}/stop"), 404)


def test_repeated_status_arguments_are_bounded(seeded: tuple[FlaskClient, dict[str, int]]) -> None:
    client, ids = seeded
    many = "&".join(["status=error"] * 17)
    refused(client.get(f"{HOOKS}/hook-jobs?{many}"), 400, "status")
    refused(client.get(f"{HOOKS}/jobs?policy_id={ids['policy']}&{many}"), 400, "status")
    assert len(client.get(f"{HOOKS}/hook-jobs?" + "&".join(["status=error"] * 16)).get_json()) == 1


def test_an_access_log_row_without_an_event_id_is_answered_as_documented(hostile_app: Flask) -> None:
    client = hostile_app.test_client()
    assert client.post("/api/v2.0/projects", json={"project_name": "library"}).status_code == 201
    with hostile_app.app_context():
        project = db.session.scalars(select(Project).where(Project.name == "library")).one()
        db.session.add(
            AccessLog(
                project_id=project.id,
                repo_name="library/alpine",
                operation="push",
                username="admin",
                op_time=datetime(2021, 1, 1, tzinfo=UTC),
                registry_event_id=None,
            )
        )
        db.session.commit()
    (row,) = client.get("/api/v2.0/projects/library/logs").get_json()
    assert row["registry_event_id"] is None
    documented = client.get("/api/v2.0/openapi.json").get_json()["components"]["schemas"]["AccessLog"]
    assert documented["properties"]["registry_event_id"]["nullable"] is True
