"""Harbor's project API beyond list and create: X-Is-Resource-Name, HEAD, PUT, DELETE, one repository, the
audit log of every project, and one shape for every 201."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.models import AccessLog, Event, HookJob, Project, Repository
from tests.api.test_list_queries_api import make_jobs
from tests.api.test_read_api import replay_main

NAME = {"X-Is-Resource-Name": "true"}
POLICY = {
    "name": "ci",
    "event_types": ["PUSH_ARTIFACT"],
    "targets": [{"type": "http", "address": "https://ci.example.com/hook"}],
}


def errors(response: Any) -> list[dict[str, str]]:
    body = response.get_json()
    assert set(body) == {"errors"}
    return list(body["errors"])


def create_project(client: FlaskClient, name: str, **body: Any) -> int:
    response = client.post("/api/v2.0/projects", json={"project_name": name, **body})
    assert response.status_code == 201, response.get_json()
    return int(response.headers["Location"].rsplit("/", 1)[1])


def create_policy(client: FlaskClient, project: str) -> str:
    response = client.post(f"/api/v2.0/projects/{project}/webhook/policies", json=POLICY)
    assert response.status_code == 201, response.get_json()
    return str(response.headers["Location"])


def legacy_project(app: Flask, name: str) -> None:
    """A project stored before names had to have a letter (the API and the receiver refuse all-digit names now)."""
    with app.app_context():
        db.session.add(Project(name=name, public=False))
        db.session.commit()


def test_resource_name_header_reads_an_all_digit_reference_as_a_name(app: Flask, client: FlaskClient) -> None:
    alpha = create_project(client, "alpha")
    digits = str(alpha)
    legacy_project(app, digits)  # a project whose name is alpha's id
    create_policy(client, "alpha")
    # Without the header a number is an id first (as today) ...
    assert client.get(f"/api/v2.0/projects/{digits}").get_json()["name"] == "alpha"
    assert len(client.get(f"/api/v2.0/projects/{digits}/webhook/policies").get_json()) == 1
    # ... with it, the number is the name, on every path that names a project.
    assert client.get(f"/api/v2.0/projects/{digits}", headers=NAME).get_json()["name"] == digits
    assert client.get(f"/api/v2.0/projects/{digits}/webhook/policies", headers=NAME).get_json() == []
    assert client.get(f"/api/v2.0/projects/{digits}/repositories", headers=NAME).status_code == 200
    assert client.get(f"/api/v2.0/projects/{digits}/logs", headers=NAME).status_code == 200
    assert client.get("/api/v2.0/projects/alpha", headers=NAME).get_json()["name"] == "alpha"
    missing = client.get(f"/api/v2.0/projects/{alpha + 1000}", headers=NAME)
    assert missing.status_code == 404 and errors(missing)[0]["code"] == "NOT_FOUND"
    assert client.get(f"/api/v2.0/projects/{alpha + 1000}").status_code == 404
    for huge in ("2147483648", "9" * 18, "9" * 5000):  # past any id column: not found, never a 500
        assert client.get(f"/api/v2.0/projects/{huge}").status_code == 404, huge
    # "false" and no header behave alike; Harbor 1.x paths take an id whatever the header says.
    assert client.get(f"/api/v2.0/projects/{digits}", headers={"X-Is-Resource-Name": "false"}).get_json()["name"] == (
        "alpha"
    )
    assert len(client.get(f"/api/projects/{alpha}/webhook/policies", headers=NAME).get_json()) == 1


def test_head_project_answers_200_if_the_name_exists_and_404_if_not(client: FlaskClient) -> None:
    create_project(client, "alpha")
    assert client.head("/api/v2.0/projects?project_name=alpha").status_code == 200
    missing = client.head("/api/v2.0/projects?project_name=nope")
    assert missing.status_code == 404 and missing.data == b""
    assert client.head("/api/v2.0/projects").status_code == 400
    assert client.get("/api/v2.0/projects?project_name=nope").status_code == 200  # GET still lists


def test_put_project_updates_public_from_metadata_or_the_flag(client: FlaskClient) -> None:
    create_project(client, "alpha")
    path = "/api/v2.0/projects/alpha"
    before = client.get(path).get_json()

    def public() -> str:
        return str(client.get(path).get_json()["metadata"]["public"])

    response = client.put(path, json={"metadata": {"public": "true"}})
    assert (response.status_code, response.data) == (200, b"")
    assert public() == "true"
    assert client.get(path).get_json()["update_time"] > before["update_time"]
    assert client.put(path, json={"public": False}).status_code == 200
    assert public() == "false"
    # metadata.public wins over the deprecated flag; what is absent is kept.
    assert client.put(path, json={"public": False, "metadata": {"public": True}}).status_code == 200
    assert public() == "true"
    assert client.put(path, json={"project_name": "renamed", "metadata": {}}).status_code == 200
    assert public() == "true" and client.get(path).get_json()["name"] == "alpha"
    bad = client.put(path, json={"metadata": {"public": "maybe"}})
    assert bad.status_code == 400 and "metadata.public" in errors(bad)[0]["message"]
    assert public() == "true"
    assert client.put("/api/v2.0/projects/nope", json={"public": True}).status_code == 404


def test_delete_project_is_412_while_it_has_policies_then_200(app: Flask, client: FlaskClient) -> None:
    create_project(client, "alpha")
    location = create_policy(client, "alpha")
    make_jobs(app, int(location.rsplit("/", 1)[1]))
    refused = client.delete("/api/v2.0/projects/alpha")
    assert refused.status_code == 412
    (error,) = errors(refused)
    assert error["code"] == "PRECONDITION" and "1 webhook policies" in error["message"]
    assert client.get("/api/v2.0/projects/alpha").status_code == 200

    assert client.delete(location).status_code == 200
    deleted = client.delete("/api/v2.0/projects/alpha")
    assert (deleted.status_code, deleted.data) == (200, b"")
    assert client.get("/api/v2.0/projects/alpha").status_code == 404
    assert client.delete("/api/v2.0/projects/alpha").status_code == 404
    # The history kept under it went with it.
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(HookJob)) == 0
        assert db.session.scalar(select(func.count()).select_from(Event)) == 0


def test_delete_project_is_412_while_it_has_repositories(app: Flask, client: FlaskClient) -> None:
    replay_main(client)
    refused = client.delete("/api/v2.0/projects/library")
    assert refused.status_code == 412
    assert "4 repositories" in errors(refused)[0]["message"]
    create_policy(client, "library")
    both = errors(client.delete("/api/v2.0/projects/library"))[0]["message"]
    assert "4 repositories and 1 webhook policies" in both
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Repository)) == 5
        assert db.session.scalar(select(func.count()).select_from(AccessLog)) > 0


def test_one_repository_by_its_name_with_slashes_encoded_once_or_twice(app: Flask, client: FlaskClient) -> None:
    replay_main(client)
    alpine = client.get("/api/v2.0/projects/library/repositories/alpine")
    assert alpine.status_code == 200
    body = alpine.get_json()
    assert (body["name"], body["push_count"], body["pull_count"], body["artifact_count"]) == ("library/alpine", 2, 5, 0)
    listed = {r["name"]: r for r in client.get("/api/v2.0/projects/library/repositories").get_json()}
    assert body == listed["library/alpine"]
    for encoded in ("sub%2Fapp", "sub%252Fapp", "sub%252fapp", "sub/app"):
        response = client.get(f"/api/v2.0/projects/team-a/repositories/{encoded}")
        assert response.status_code == 200, encoded
        assert response.get_json()["name"] == "team-a/sub/app"
    for path in (
        "/api/v2.0/projects/library/repositories/nope",
        "/api/v2.0/projects/team-a/repositories/alpine",
        "/api/v2.0/projects/library/repositories/sub%2Fapp",
        "/api/v2.0/projects/nope/repositories/alpine",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert errors(response)[0]["code"] == "NOT_FOUND"
    # A single-segment repository of the default project keeps its own name.
    with app.app_context():
        library = db.session.scalar(select(Project).where(Project.name == "library"))
        assert library is not None
        db.session.add(Repository(project_id=library.id, name="solo", pull_count=0, push_count=1))
        db.session.commit()
    assert client.get("/api/v2.0/projects/library/repositories/solo").get_json()["name"] == "solo"


def test_audit_logs_list_every_project_newest_first_in_harbors_shape(app: Flask, client: FlaskClient) -> None:
    replay_main(client)
    response = client.get("/api/v2.0/audit-logs?page_size=100")
    assert response.status_code == 200
    rows = response.get_json()
    with app.app_context():
        total = db.session.scalar(select(func.count()).select_from(AccessLog))
        team_a = db.session.scalar(select(Project.id).where(Project.name == "team-a"))
    assert response.headers["X-Total-Count"] == str(len(rows)) == str(total)
    assert {tuple(row) for row in rows} == {("id", "username", "resource", "resource_type", "operation", "op_time")}
    assert [(r["op_time"], r["id"]) for r in rows] == sorted(((r["op_time"], r["id"]) for r in rows), reverse=True)
    assert {r["resource"].split("/")[0] for r in rows} == {"library", "team-a"}
    nested = client.get(f"/api/v2.0/audit-logs?q=project_id%3D{team_a}").get_json()
    assert ("team-a/sub/app:1.0", "push") in [(r["resource"], r["operation"]) for r in nested]
    assert all(r["resource"].startswith("team-a/sub/app") for r in nested)
    paged = client.get("/api/v2.0/audit-logs?q=operation%3Dpull&sort=op_time&page=2&page_size=2")
    assert paged.headers["X-Total-Count"] == "6" and len(paged.get_json()) == 2
    assert 'rel="prev"' in paged.headers["Link"] and 'rel="next"' in paged.headers["Link"]
    assert client.get("/api/v2.0/audit-logs?q=nope%3D1").status_code == 400


def test_every_201_has_a_location_and_an_empty_json_body(client: FlaskClient) -> None:
    answers = [client.post("/api/v2.0/projects", json={"project_name": "alpha"})]
    answers.append(client.post("/api/v2.0/projects/alpha/webhook/policies", json=POLICY))
    project_id = answers[0].headers["Location"].rsplit("/", 1)[1]
    answers.append(client.post(f"/api/projects/{project_id}/webhook/policies", json={**POLICY, "name": "v1"}))
    for response in answers:
        assert response.status_code == 201
        assert response.data == b""
        assert response.headers["Content-Type"] == "application/json"
        assert client.get(response.headers["Location"]).status_code == 200


def test_numbers_past_32_bits_are_refused_before_the_database(client: FlaskClient) -> None:
    create_project(client, "library")
    huge = "99999999999"
    for path, status in [
        (f"/api/v2.0/projects/library/webhook/policies/{huge}", 404),
        (f"/api/projects/{huge}/webhook/policies", 404),
        (f"/api/v2.0/projects/library/webhook/policies/{huge}/executions", 404),
        (f"/api/v2.0/projects/library/webhook/policies/1/executions/{huge}/tasks", 404),
        (f"/api/v2.0/projects/library/webhook/jobs?policy_id={huge}", 400),
        (f"/api/v2.0/projects/library/webhook/hook-jobs?policy_id={huge}", 400),
        (f"/api/v2.0/projects?page={huge}", 400),
        (f"/api/v2.0/projects?q=project_id%3D{huge}", 400),
    ]:
        response = client.get(path)
        assert response.status_code == status, path
        assert set(response.get_json()) == {"errors"}, path
    last = client.get("/api/v2.0/projects?page=2147483647&page_size=100")
    assert (last.status_code, last.get_json()) == (200, [])
