"""Harbor's ``q`` and ``sort`` on every list that has them: filters, orders, totals, and a 400 naming the key for
anything the list does not know."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.extensions import db
from app.models import Event, HookJob, Project, WebhookPolicy
from tests.api.test_read_api import replay_main

T0 = datetime(2021, 3, 1, 12, 0, tzinfo=UTC)
HOOKS = "/api/v2.0/projects/library/webhook"


def errors(response: Any) -> list[dict[str, str]]:
    body = response.get_json()
    assert set(body) == {"errors"}
    return list(body["errors"])


def names(response: Any, key: str = "name") -> list[Any]:
    assert response.status_code == 200, response.get_json()
    return [row[key] for row in response.get_json()]


def get(client: FlaskClient, path: str, **args: str) -> Any:
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in args.items())
    return client.get(f"{path}?{query}" if query else path)


def make_projects(app: Flask, client: FlaskClient) -> dict[str, int]:
    """alpha (public), beta, gamma (public), web-1: created a day apart from T0, ids in that order."""
    ids = {}
    for day, (name, public) in enumerate([("alpha", True), ("beta", False), ("gamma", True), ("web-1", False)]):
        assert client.post("/api/v2.0/projects", json={"project_name": name, "public": public}).status_code == 201
        with app.app_context():
            db.session.execute(
                update(Project).where(Project.name == name).values(creation_time=T0 + timedelta(days=day))
            )
            db.session.commit()
            ids[name] = db.session.scalar(select(Project.id).where(Project.name == name))
    return ids


def make_policies(app: Flask, client: FlaskClient) -> dict[str, int]:
    """Policies p0 (enabled), p1 (disabled), p2 (enabled, by ci-bot) in library, an hour apart from T0."""
    client.post("/api/v2.0/projects", json={"project_name": "library"})
    ids = {}
    for hour, (name, enabled, creator) in enumerate(
        [("p0", True, "admin"), ("p1", False, "admin"), ("p2", True, "ci-bot")]
    ):
        body = {
            "name": name,
            "enabled": enabled,
            "creator": creator,
            "event_types": ["PUSH_ARTIFACT"],
            "targets": [{"type": "http", "address": "https://ci.example.com/hook"}],
        }
        response = client.post(f"{HOOKS}/policies", json=body)
        assert response.status_code == 201, response.get_json()
        ids[name] = int(response.headers["Location"].rsplit("/", 1)[1])
        with app.app_context():
            db.session.execute(
                update(WebhookPolicy)
                .where(WebhookPolicy.id == ids[name])
                .values(creation_time=T0 + timedelta(hours=hour), update_time=T0 + timedelta(hours=hour))
            )
            db.session.commit()
    return ids


def make_jobs(app: Flask, policy_id: int) -> dict[str, int]:
    """One hook job per status, a minute apart from T0 (success first); the ended ones have a finish time."""
    statuses = [("success", 1, "http"), ("error", 3, "http"), ("pending", 0, "slack"), ("running", 1, "http")]
    ids = {}
    with app.app_context():
        policy = db.session.get(WebhookPolicy, policy_id)
        assert policy is not None
        event = Event(type="PUSH_ARTIFACT", project_id=policy.project_id, occurred_at=T0, data={})
        db.session.add(event)
        db.session.flush()
        for minute, (status, attempts, notify_type) in enumerate(statuses):
            created = T0 + timedelta(minutes=minute)
            job = HookJob(
                event_id=event.id,
                policy_id=policy.id,
                policy_name=policy.name,
                project_id=policy.project_id,
                event_type="PUSH_ARTIFACT",
                notify_type=notify_type,
                target={"type": notify_type, "address": "https://ci.example.com/hook"},
                payload="{}",
                status=status,
                attempt_count=attempts,
                creation_time=created,
                update_time=created,
                finished_at=created + timedelta(seconds=30) if status in ("success", "error") else None,
            )
            db.session.add(job)
            db.session.flush()
            ids[status] = job.id
        db.session.commit()
    return ids


def test_projects_filter_by_q_and_order_by_sort(app: Flask, client: FlaskClient) -> None:
    ids = make_projects(app, client)
    base = "/api/v2.0/projects"
    assert names(get(client, base, q="name=~PH")) == ["alpha"]  # fuzzy is a case-insensitive substring
    assert names(get(client, base, q="name=beta")) == ["beta"]
    assert names(get(client, base, q="name=bet")) == []  # exact is exact
    assert names(get(client, base, q="public=true")) == ["alpha", "gamma"]
    assert names(get(client, base, q="name={gamma beta nope}")) == ["beta", "gamma"]
    assert names(get(client, base, q=f"project_id=[{ids['beta']}~{ids['gamma']}]")) == ["beta", "gamma"]
    assert names(get(client, base, q=f"project_id=[{ids['gamma']}~]")) == ["gamma", "web-1"]
    assert names(get(client, base, q="creation_time=[2021-03-02 00:00:00~2021-03-03T23:00:00Z]")) == ["beta", "gamma"]
    assert names(get(client, base, q="creation_time=2021-03-01T13:00:00+01:00")) == ["alpha"]
    # Conditions all hold; the total counts what q selects, and paging pages it.
    both = get(client, base, q="public=false,name=~e", page_size="1")
    assert names(both) == ["beta"] and both.headers["X-Total-Count"] == "2"
    assert names(get(client, base, sort="-name")) == ["web-1", "gamma", "beta", "alpha"]
    assert names(get(client, base, sort="-public,-creation_time")) == ["gamma", "alpha", "web-1", "beta"]
    assert names(get(client, base)) == ["alpha", "beta", "gamma", "web-1"]  # the default order is unchanged
    # The existing filters still work, alone and with q.
    assert names(get(client, base, name="a")) == ["alpha", "beta", "gamma"]
    assert names(get(client, base, name="a", q="public=true", sort="-name")) == ["gamma", "alpha"]
    assert names(get(client, base, public="false")) == ["beta", "web-1"]


@pytest.mark.parametrize(
    ("q", "fragment"),
    [
        ("nope=1", "unknown key 'nope'"),
        ("owner_id=1", "unknown key 'owner_id'"),
        ("project_id=abc", "project_id: 'abc' is not an integer"),
        ("project_id={1 2147483648}", "project_id: '2147483648' is not an integer"),
        ("creation_time=yesterday", "creation_time: 'yesterday' is not a time"),
        ("public=maybe", "public: 'maybe' is not true or false"),
        ("project_id=~3", "project_id: fuzzy match (k=~v) does not apply to a integer key"),
        ("name=[a~b]", "name: a range does not apply to a text key"),
        ("public={true false}", "public: an any-of list does not apply to a boolean key"),
        ("name", "'name' is not a condition"),
        ("name=[a", "name: a range is written"),
    ],
)
def test_a_bad_project_query_is_400_naming_the_key(client: FlaskClient, q: str, fragment: str) -> None:
    response = get(client, "/api/v2.0/projects", q=q)
    assert response.status_code == 400
    (error,) = errors(response)
    assert error["code"] == "BAD_REQUEST" and fragment in error["message"], error


def test_an_unknown_sort_key_is_400_naming_it(client: FlaskClient) -> None:
    for sort in ("nope", "-nope", "name,nope"):
        response = get(client, "/api/v2.0/projects", sort=sort)
        assert response.status_code == 400
        (error,) = errors(response)
        assert error["code"] == "BAD_REQUEST" and "sort: unknown key 'nope'" in error["message"], error


def test_every_list_refuses_a_key_it_does_not_know(app: Flask, client: FlaskClient) -> None:
    policy = make_policies(app, client)["p0"]
    job = make_jobs(app, policy)["success"]
    lists = [
        "/api/v2.0/projects",
        "/api/v2.0/projects/library/repositories",
        "/api/v2.0/projects/library/logs",
        "/api/v2.0/audit-logs",
        f"{HOOKS}/policies",
        f"{HOOKS}/policies/{policy}/executions",
        f"{HOOKS}/policies/{policy}/executions/{job}/tasks",
        f"{HOOKS}/jobs?policy_id={policy}&x=1",
    ]
    for path in lists:
        assert client.get(path).status_code == 200, path
        joiner = "&" if "?" in path else "?"
        for argument in ("q=bogus=1", "sort=bogus"):
            response = client.get(f"{path}{joiner}{argument}")
            assert response.status_code == 400, (path, argument)
            assert "'bogus'" in errors(response)[0]["message"], (path, argument)


def test_repositories_filter_by_q_and_order_by_sort(client: FlaskClient) -> None:
    replay_main(client)
    base = "/api/v2.0/projects/library/repositories"
    assert names(get(client, base, q="name=~BUSY")) == ["library/busybox"]
    assert names(get(client, base, q="pull_count=[2~]")) == ["library/alpine"]
    assert names(get(client, base, q="push_count=1,name=~multi", sort="name")) == [
        "library/multiarch",
        "library/multiarch-v2s2",
    ]
    assert names(get(client, base, sort="name")) == sorted(names(get(client, base)))
    assert names(get(client, base, sort="-pull_count,name")) == [
        "library/alpine",
        "library/multiarch",
        "library/busybox",
        "library/multiarch-v2s2",
    ]
    assert names(get(client, base, q="last_pull_time=[2000-01-01 00:00:00~]", sort="name")) == [
        "library/alpine",
        "library/multiarch",
    ]
    assert names(get(client, base, name="alp", q="push_count=2")) == ["library/alpine"]
    assert get(client, base, q="pull_count=many").status_code == 400


def test_project_access_log_filters_by_q_and_orders_by_sort(client: FlaskClient) -> None:
    replay_main(client)
    base = "/api/v2.0/projects/library/logs"
    everything = get(client, base, page_size="100").get_json()
    newest_first = [row["id"] for row in everything]
    assert names(get(client, base, sort="op_time,id", page_size="100"), "id") == list(reversed(newest_first))
    alpine = get(client, base, q="operation={push delete},repo_name=library/alpine", page_size="100")
    assert sorted(names(alpine, "operation")) == ["delete"] * 3 + ["push"] * 2
    assert alpine.headers["X-Total-Count"] == "5"
    # ``resource`` reads what the API shows: repo:tag, else repo@digest.
    assert set(names(get(client, base, q="resource=~:latest", page_size="100"), "resource")) == {
        "library/alpine:latest"
    }
    digest = next(row["resource"] for row in everything if "@" in row["resource"])
    assert names(get(client, base, q=f'resource="{digest}"'), "resource") == [digest]
    assert get(client, base, q="resource_type=artifact").headers["X-Total-Count"] == str(len(everything))
    assert get(client, base, q="resource_type=repository").get_json() == []
    assert get(client, base, q="op_time=[~2000-01-01 00:00:00]").get_json() == []
    assert get(client, base, q="username=anonymous").headers["X-Total-Count"] == str(len(everything))
    # The existing filters still work beside q.
    pulls = get(client, base, operation="pull", q="repo_tag=3.19", page_size="100")
    assert set(names(pulls, "operation")) == {"pull"} and set(names(pulls, "repo_tag")) == {"3.19"}
    assert get(client, base, sort="resource_type").status_code == 400


def test_policies_filter_by_q_and_order_by_sort(app: Flask, client: FlaskClient) -> None:
    make_policies(app, client)
    base = f"{HOOKS}/policies"
    assert names(get(client, base)) == ["p2", "p1", "p0"]  # newest first, as before
    assert names(get(client, base, q="enabled=false")) == ["p1"]
    assert names(get(client, base, q="enabled=true", sort="name")) == ["p0", "p2"]
    assert names(get(client, base, q="creator=~BOT")) == ["p2"]
    assert names(get(client, base, q="creation_time=[2021-03-01 12:30:00~]", sort="creation_time")) == ["p1", "p2"]
    assert names(get(client, base, sort="-enabled,name")) == ["p0", "p2", "p1"]
    response = get(client, base, q="enabled=1")
    assert response.status_code == 400 and "enabled: '1' is not true or false" in errors(response)[0]["message"]


def test_executions_filter_by_harbor_status_words_and_order_by_sort(app: Flask, client: FlaskClient) -> None:
    policy = make_policies(app, client)["p0"]
    jobs = make_jobs(app, policy)
    base = f"{HOOKS}/policies/{policy}/executions"
    order = [jobs[s] for s in ("running", "pending", "error", "success")]
    assert names(get(client, base), "id") == order
    # Running is Harbor's word for every job that has not ended.
    assert names(get(client, base, q="status=Running"), "id") == [jobs["running"], jobs["pending"]]
    assert names(get(client, base, q="status={success error}"), "id") == [jobs["error"], jobs["success"]]
    assert names(get(client, base, q="vendor_type=SLACK"), "id") == [jobs["pending"]]
    assert names(get(client, base, q="start_time=[2021-03-01 12:01:00~2021-03-01 12:02:00]"), "id") == [
        jobs["pending"],
        jobs["error"],
    ]
    assert names(get(client, base, q="end_time=[2021-03-01 12:00:00~]", sort="end_time"), "id") == [
        jobs["success"],
        jobs["error"],
    ]
    assert names(get(client, base, sort="start_time"), "id") == list(reversed(order))
    # Jobs without an end sort after those with one, on every backend.
    assert names(get(client, base, sort="end_time,id"), "id") == [
        jobs["success"],
        jobs["error"],
        jobs["pending"],
        jobs["running"],
    ]
    assert names(get(client, base, sort="-end_time,id"), "id")[:2] == [jobs["pending"], jobs["running"]]
    response = get(client, base, q="status=Finished")
    assert response.status_code == 400
    assert "status: 'Finished' is not one of Running, Success, Error, Stopped" in errors(response)[0]["message"]


def test_tasks_and_legacy_jobs_take_q_and_sort(app: Flask, client: FlaskClient) -> None:
    policy = make_policies(app, client)["p0"]
    jobs = make_jobs(app, policy)
    executions = f"{HOOKS}/policies/{policy}/executions"
    tasks = f"{executions}/{jobs['error']}/tasks"
    assert names(get(client, tasks, q="status=Error"), "id") == [jobs["error"]]
    assert get(client, tasks, q="status=Success").get_json() == []
    assert get(client, tasks, q="status=Success").headers["X-Total-Count"] == "0"
    assert names(get(client, tasks, q="run_count=[3~]", sort="-start_time"), "id") == [jobs["error"]]
    assert get(client, tasks, q="status=Finished").status_code == 400

    legacy = f"{HOOKS}/jobs?policy_id={policy}"
    assert names(client.get(f"{legacy}&q=status%3Dfinished"), "id") == [jobs["success"]]
    assert names(client.get(f"{legacy}&q=status%3D%7Bsuccess%20error%7D&sort=id"), "id") == [
        jobs["success"],
        jobs["error"],
    ]
    assert names(client.get(f"{legacy}&q=notify_type%3Dslack"), "id") == [jobs["pending"]]
    # The status argument and q narrow together.
    assert names(client.get(f"{legacy}&status=finished&status=error&q=id%3D{jobs['error']}"), "id") == [jobs["error"]]


def test_the_openapi_document_lists_each_lists_query_keys(client: FlaskClient) -> None:
    paths = client.get("/api/v2.0/openapi.json").get_json()["paths"]
    expected = {
        "/api/v2.0/projects": ("name (text)", "public (boolean)", "project_id (integer)", "creation_time (time)"),
        "/api/v2.0/projects/{project_name}/repositories": ("name (text)", "pull_count (integer)"),
        "/api/v2.0/projects/{project_name}/logs": ("operation (text)", "op_time (time)", "resource (text)"),
        "/api/v2.0/audit-logs": ("username (text)", "resource_type (text)", "op_time (time)"),
        "/api/v2.0/projects/{project_name_or_id}/webhook/policies": ("enabled (boolean)", "creator (text)"),
        "/api/v2.0/projects/{project_name_or_id}/webhook/policies/{policy_id}/executions": (
            "status (one of Running|Success|Error|Stopped)",
            "vendor_type (one of WEBHOOK|SLACK)",
            "start_time (time)",
        ),
        "/api/v2.0/projects/{project_name_or_id}/webhook/policies/{policy_id}/executions/{execution_id}/tasks": (
            "status (one of Pending|Scheduled|Running|Success|Error|Stopped)",
            "run_count (integer)",
        ),
        "/api/v2.0/projects/{project_name_or_id}/webhook/jobs": ("status (one of", "notify_type (text)"),
    }
    for path, keys in expected.items():
        parameters = {p["name"]: p for p in paths[path]["get"]["parameters"]}
        assert {"q", "sort", "page", "page_size"} <= set(parameters), path
        assert "fuzzy" in parameters["q"]["description"], path
        for key in keys:
            assert key in parameters["q"]["description"], (path, key)
        assert "Keys: " in parameters["sort"]["description"], path
