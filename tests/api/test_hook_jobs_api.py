"""The job-status API answers "did my webhook fire?": our hook-job views and Harbor's jobs/executions/tasks/log."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.integration.test_delivery import SECRET, add_policy, jobs, push, work
from tests.support import replay
from tests.support.sinks import Reply, Sink


@pytest.fixture
def delivered(make_app: Callable[..., Flask], redis_db: str, sink: Sink) -> tuple[Flask, int, Sink]:
    """A push delivered to a policy with two targets: one answers 200, the other 503."""
    app = make_app(notify_token=replay.TOKEN, redis_url=redis_db, retry_schedule=())
    sink.respond = lambda r: Reply(status=503, body=b"busy") if r.path == "/down" else Reply()
    token_url = sink.url + "?token=pa55word"
    policy_id = add_policy(app, [{"address": token_url, "auth_header": SECRET}, {"address": sink.url[:-5] + "/down"}])
    push(app)
    work(app, redis_db)
    assert len(sink.wait_for(2)) == 2
    return app, policy_id, sink


def no_secrets(client: FlaskClient, path: str) -> str:
    text = client.get(path).get_data(as_text=True)
    assert SECRET not in text and "pa55word" not in text, path
    return text


def test_hook_job_by_uuid_shows_status_attempts_and_no_secret(delivered: tuple[Flask, int, Sink]) -> None:
    app, policy_id, sink = delivered
    ok, failed = jobs(app)
    client = app.test_client()
    body = json.loads(no_secrets(client, f"/api/v2.0/hook-jobs/{ok.uuid}"))
    assert (body["uuid"], body["status"], body["attempt_count"], body["policy_id"]) == (
        ok.uuid,
        "success",
        1,
        policy_id,
    )
    # A job keeps no credential of its target, and shows its address with the query token masked.
    assert "auth_header" not in body["target"] and "secret" not in body["target"]
    assert body["target"]["address"] == sink.url + "?token=******"
    assert body["payload"]["type"] == "PUSH_ARTIFACT"
    (attempt,) = body["attempts"]
    assert (attempt["number"], attempt["status_code"], attempt["outcome"]) == (1, 200, "success")

    body = client.get(f"/api/v2.0/hook-jobs/{failed.uuid}").get_json()
    assert (body["status"], body["last_status_code"], body["last_error"]) == ("error", 503, "HTTP 503 (http_status)")
    assert body["attempts"][0]["response_body"] == "busy"
    assert client.get("/api/v2.0/hook-jobs/no-such-uuid").status_code == 404


def test_project_hook_jobs_filter_and_page(delivered: tuple[Flask, int, Sink]) -> None:
    app, policy_id, _ = delivered
    client = app.test_client()
    base = "/api/v2.0/projects/library/webhook/hook-jobs"
    everything = client.get(base)
    assert everything.headers["X-Total-Count"] == "2"
    assert [j["status"] for j in client.get(f"{base}?status=success").get_json()] == ["success"]
    assert len(client.get(f"{base}?status=success&status=error").get_json()) == 2
    assert client.get(f"{base}?status=pending").get_json() == []
    assert len(client.get(f"{base}?event_type=PUSH_ARTIFACT&policy_id={policy_id}").get_json()) == 2
    assert client.get(f"{base}?event_type=PULL_ARTIFACT").get_json() == []
    assert client.get(f"{base}?since=2999-01-01T00:00:00Z").get_json() == []
    first = client.get(f"{base}?page_size=1")
    assert len(first.get_json()) == 1 and 'rel="next"' in first.headers["Link"]
    assert client.get(f"{base}?status=finished").status_code == 400
    no_secrets(client, base)


def test_harbor_legacy_jobs_list_says_finished_on_both_route_families(delivered: tuple[Flask, int, Sink]) -> None:
    app, policy_id, _ = delivered
    client = app.test_client()
    rows = client.get(f"/api/v2.0/projects/library/webhook/jobs?policy_id={policy_id}").get_json()
    assert sorted(r["status"] for r in rows) == ["error", "finished"]
    assert {r["notify_type"] for r in rows} == {"http"}
    assert json.loads(rows[0]["job_detail"])["type"] == "PUSH_ARTIFACT"
    finished = client.get(f"/api/v2.0/projects/library/webhook/jobs?policy_id={policy_id}&status=finished")
    assert [r["status"] for r in finished.get_json()] == ["finished"]
    project_id = rows[0]["id"] and jobs(app)[0].project_id
    v1 = client.get(f"/api/projects/{project_id}/webhook/jobs?policy_id={policy_id}").get_json()
    assert v1 == rows
    assert client.get("/api/v2.0/projects/library/webhook/jobs").status_code == 400
    assert client.get(f"/api/v2.0/projects/library/webhook/jobs?policy_id={policy_id + 99}").status_code == 404


def test_executions_tasks_and_task_log(delivered: tuple[Flask, int, Sink]) -> None:
    app, policy_id, _ = delivered
    ok, failed = jobs(app)
    client = app.test_client()
    base = f"/api/v2.0/projects/library/webhook/policies/{policy_id}/executions"
    executions = client.get(base).get_json()
    assert {(e["id"], e["status"], e["vendor_type"], e["vendor_id"]) for e in executions} == {
        (ok.id, "Success", "WEBHOOK", policy_id),
        (failed.id, "Error", "WEBHOOK", policy_id),
    }
    assert all(e["metrics"]["task_count"] == 1 and e["trigger"] == "EVENT" for e in executions)
    (task,) = client.get(f"{base}/{failed.id}/tasks").get_json()
    assert (task["id"], task["status"], task["run_count"]) == (failed.id, "Error", 1)

    log = client.get(f"{base}/{failed.id}/tasks/{failed.id}/log")
    assert log.mimetype == "text/plain"
    text = log.get_data(as_text=True)
    assert "attempt 1: POST" in text and "HTTP 503" in text and "http_status" in text and "busy" in text
    ok_log = no_secrets(client, f"{base}/{ok.id}/tasks/{ok.id}/log")
    assert "HTTP 200" in ok_log and "success" in ok_log
    assert client.get(f"{base}/{ok.id}/tasks/{failed.id}/log").status_code == 404
    assert client.get(f"/api/v2.0/projects/library/webhook/policies/{policy_id + 99}/executions").status_code == 404
    assert client.get(f"{base}/{ok.id + 99}/tasks").status_code == 404
