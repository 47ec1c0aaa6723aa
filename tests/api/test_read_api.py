"""Projects, repositories and the access log over the Harbor-style REST API: shapes, filters, paging, errors."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from tests.integration.test_registry_replay import MAIN
from tests.support import replay
from tests.support.state import send


def replay_main(client: FlaskClient) -> None:
    for scenario in MAIN:
        for delivery in replay.deliveries(scenario):
            assert send(client, delivery)[0] == 200


def errors(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    body = response.get_json()
    assert set(body) == {"errors"}
    return list(body["errors"])


def test_create_project_answers_201_with_location_then_409_on_duplicate(client: FlaskClient) -> None:
    response = client.post("/api/v2.0/projects", json={"project_name": "ci-builds", "public": True})
    assert response.status_code == 201
    location = response.headers["Location"]
    assert re.fullmatch(r"/api/v2\.0/projects/\d+", location)
    project = client.get(location).get_json()
    assert project["name"] == "ci-builds"
    assert project["metadata"] == {"public": "true"}
    assert project["repo_count"] == 0

    again = client.post("/api/v2.0/projects", json={"project_name": "ci-builds", "public": False})
    assert again.status_code == 409
    assert errors(again)[0]["code"] == "CONFLICT"
    assert client.get("/api/v2.0/projects").headers["X-Total-Count"] == "1"


def test_create_project_validates_the_body(client: FlaskClient) -> None:
    for body, fragment in [
        ({}, "project_name"),
        ({"project_name": "Has Caps"}, "project_name: a project name is lower-case letters and digits"),
        ({"project_name": "-leading"}, "project_name: a project name is lower-case letters and digits"),
        ({"project_name": "x" * 256}, "project_name"),
        ({"project_name": "2024"}, "project_name: a project name must not be all digits"),
        ({"project_name": "ok", "public": "sometimes"}, "public"),
    ]:
        response = client.post("/api/v2.0/projects", json=body)
        assert response.status_code == 400, body
        (error,) = errors(response)
        assert error["code"] == "BAD_REQUEST" and fragment in error["message"], (body, error)
    assert client.post("/api/v2.0/projects", data="not json", content_type="application/json").status_code == 400
    assert client.get("/api/v2.0/projects").get_json() == []


def test_project_public_flag_from_harbor_metadata(client: FlaskClient) -> None:
    response = client.post("/api/v2.0/projects", json={"project_name": "meta", "metadata": {"public": "true"}})
    assert response.status_code == 201
    assert client.get("/api/v2.0/projects/meta").get_json()["metadata"] == {"public": "true"}


def test_unknown_project_is_404_in_harbor_error_shape(client: FlaskClient) -> None:
    for path in ("/api/v2.0/projects/nope", "/api/v2.0/projects/nope/repositories", "/api/v2.0/projects/nope/logs"):
        response = client.get(path)
        assert response.status_code == 404, path
        (error,) = errors(response)
        assert error["code"] == "NOT_FOUND" and "nope" in error["message"]


def test_projects_page_with_total_and_link_headers(client: FlaskClient) -> None:
    for i in range(5):
        assert client.post("/api/v2.0/projects", json={"project_name": f"p{i}"}).status_code == 201
    first = client.get("/api/v2.0/projects?page=1&page_size=2")
    assert [p["name"] for p in first.get_json()] == ["p0", "p1"]
    assert first.headers["X-Total-Count"] == "5"
    assert first.headers["Link"] == '</api/v2.0/projects?page=2&page_size=2>; rel="next"'
    middle = client.get("/api/v2.0/projects?page=2&page_size=2")
    assert [p["name"] for p in middle.get_json()] == ["p2", "p3"]
    assert 'rel="prev"' in middle.headers["Link"] and 'rel="next"' in middle.headers["Link"]
    last = client.get("/api/v2.0/projects?page=3&page_size=2")
    assert [p["name"] for p in last.get_json()] == ["p4"]
    assert last.headers["Link"] == '</api/v2.0/projects?page=2&page_size=2>; rel="prev"'
    assert [p["name"] for p in client.get("/api/v2.0/projects?name=p3").get_json()] == ["p3"]


def test_bad_paging_arguments_are_400(client: FlaskClient) -> None:
    for query in ("page=0", "page_size=0", "page_size=101", "page=abc"):
        response = client.get(f"/api/v2.0/projects?{query}")
        assert response.status_code == 400, query
        assert errors(response)[0]["code"] == "BAD_REQUEST"


def test_repositories_show_pull_and_push_counts(client: FlaskClient) -> None:
    replay_main(client)
    response = client.get("/api/v2.0/projects/library/repositories?page_size=100")
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "4"
    repos = {r["name"]: r for r in response.get_json()}
    assert set(repos) == {"library/alpine", "library/busybox", "library/multiarch", "library/multiarch-v2s2"}
    alpine = repos["library/alpine"]
    assert (alpine["push_count"], alpine["pull_count"], alpine["artifact_count"]) == (2, 5, 0)
    assert alpine["last_pull_time"] and alpine["last_push_time"]
    # The index and its two children are three artifacts of one repository.
    assert repos["library/multiarch"]["artifact_count"] == 3
    assert repos["library/multiarch"]["pull_count"] == 1
    nested = client.get("/api/v2.0/projects/team-a/repositories").get_json()
    assert [(r["name"], r["push_count"]) for r in nested] == [("team-a/sub/app", 1)]


def test_access_log_is_newest_first_and_filters_by_operation_and_repository(client: FlaskClient) -> None:
    replay_main(client)
    everything = client.get("/api/v2.0/projects/library/logs?page_size=100")
    rows = everything.get_json()
    assert everything.headers["X-Total-Count"] == str(len(rows)) == "18"  # 9 pushes, 6 pulls, 3 deletes
    assert [r["op_time"] for r in rows] == sorted((r["op_time"] for r in rows), reverse=True)

    pushes = client.get("/api/v2.0/projects/library/logs?operation=push&repository=library/alpine").get_json()
    assert [(r["resource"], r["username"], r["operation"]) for r in pushes] == [
        ("library/alpine:latest", "anonymous", "push"),
        ("library/alpine:3.19", "anonymous", "push"),
    ]
    deletes = client.get("/api/v2.0/projects/library/logs?operation=delete").get_json()
    assert [r["resource"] for r in deletes] == [
        "library/alpine:3.19",
        "library/alpine:latest",
        "library/alpine@sha256:6e0801e933911f55adeb296638b421b3365c8d9b85dff219f74eb2d5d52add99",
    ]
    assert {r["resource_type"] for r in deletes} == {"artifact"}
    paged = client.get("/api/v2.0/projects/library/logs?operation=pull&page=2&page_size=2")
    assert paged.headers["X-Total-Count"] == "6"
    assert len(paged.get_json()) == 2


def test_access_log_rejects_an_unknown_operation(client: FlaskClient) -> None:
    client.post("/api/v2.0/projects", json={"project_name": "library"})
    response = client.get("/api/v2.0/projects/library/logs?operation=teleport")
    assert response.status_code == 400
    assert "operation" in errors(response)[0]["message"]


def test_openapi_document_lists_the_api(app: Flask) -> None:
    document = app.test_client().get("/api/v2.0/openapi.json").get_json()
    assert document["info"]["title"] == "Dockhook"
    paths = set(document["paths"])
    assert {
        "/api/v2.0/projects",
        "/api/v2.0/projects/{project_name_or_id}",
        "/api/v2.0/projects/{project_name}/repositories",
        "/api/v2.0/projects/{project_name}/logs",
    } <= paths


def test_unknown_api_path_is_404_json(client: FlaskClient) -> None:
    response = client.get("/api/v2.0/nothing-here")
    assert response.status_code == 404
    assert errors(response)[0]["code"] == "NOT_FOUND"
