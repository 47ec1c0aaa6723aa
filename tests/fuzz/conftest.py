"""A real app holding real data for the fuzzers: project ``library``, policies whose targets carry an auth header
and a ``whsec_`` signing secret, and the hook jobs of a replayed push, delivered (one target answered) and failed
(the other refused the connection). Every answer and log line is checked for those credentials."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import HookJob, Project, ProjectMember, Robot, User, WebhookPolicy
from tests.support import replay
from tests.support.connects import Watch
from tests.support.sinks import Sink, closed_port_url
from tests.support.state import send
from worker import run_worker

AUTH_TOKEN = "fuzz-auth-token-5b9e1c"
SIGNING_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
# An account's password and a robot's secret: never shown again, never logged.
USER_PASSWORD = "Fuzz-user-pass-3c7d"
ROBOT_SECRET = "Fuzz-robot-secret-8e1f"
SEEDED_SECRETS = (
    AUTH_TOKEN,
    SIGNING_SECRET,
    SIGNING_SECRET.removeprefix("whsec_"),
    USER_PASSWORD,
    ROBOT_SECRET,
)
RECEIVER = "/service/notifications"
# Small, so that the hostile 70 000-character values are over it.
BODY_LIMIT = 64 * 1024

# No 5xx, and every answer as the document describes it (status, content type, headers, body).
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
]


@pytest.fixture
def seeded(make_app: Callable[..., Flask], redis_db: str, sink: Sink, watch: Watch) -> Flask:
    """The app, with policy ``ci`` (two targets, so its jobs end in success and in error), ``spare`` (for PUTs)
    and ``doomed`` (for DELETEs). The API token is unset; the receiver's is the harness token."""
    app = make_app(
        notify_token=replay.TOKEN,
        redis_url=redis_db,
        retry_schedule=(),
        http_connect_timeout=1.0,
        http_read_timeout=1.0,
        max_api_body_bytes=BODY_LIMIT,
    )
    client = app.test_client()
    assert client.post("/api/v2.0/projects", json={"project_name": "library"}).status_code == 201
    credentials = {"auth_header": f"Bearer {AUTH_TOKEN}", "secret": SIGNING_SECRET}
    for name, targets in (
        ("ci", [{"address": sink.url, **credentials}, {"address": closed_port_url(), **credentials}]),
        ("spare", [{"address": "https://hooks.example.com/in?token=t0k", **credentials}]),
        ("doomed", [{"address": "https://hooks.example.com/gone", **credentials}]),
    ):
        policy = {"name": name, "targets": [{"type": "http", **t} for t in targets], "event_types": ["PUSH_ARTIFACT"]}
        answer = client.post("/api/v2.0/projects/library/webhook/policies", json=policy)
        assert answer.status_code == 201, answer.get_data(as_text=True)
    for delivery in replay.deliveries("push_oci_alpine_3.19"):
        assert send(client, delivery)[0] == 200
    run_worker(app, redis_db, burst=True)
    # An account, its membership and a robot, for the routes that name them.
    made = client.post("/api/v2.0/users", json={"username": "fuzzer", "password": USER_PASSWORD})
    assert made.status_code == 201, made.get_data(as_text=True)
    member = {"role_id": 2, "member_user": {"username": "fuzzer"}}
    assert client.post("/api/v2.0/projects/library/members", json=member).status_code == 201
    access = [{"resource": "notification-policy", "action": "read"}]
    robot = {
        "name": "fuzzbot",
        "level": "project",
        "secret": ROBOT_SECRET,
        "permissions": [{"kind": "project", "namespace": "library", "access": access}],
    }
    assert client.post("/api/v2.0/robots", json=robot).status_code == 201
    return app


def seeded_names(app: Flask) -> dict[str, list[Any]]:
    """What the seeded resources are called, for each path parameter that names one (the first is the one the
    hostile sweep uses). ``doomed_policy_id`` stands for ``webhook_policy_id`` in a DELETE."""
    with app.app_context():
        project = db.session.scalars(select(Project).where(Project.name == "library")).one()
        policies = {p.name: p.id for p in db.session.scalars(select(WebhookPolicy))}
        jobs = list(db.session.scalars(select(HookJob).where(HookJob.policy_id == policies["ci"])))
        user_id = db.session.scalars(select(User.id).where(User.username == "fuzzer")).one()
        member_id = db.session.scalars(select(ProjectMember.id)).one()
        robot_id = db.session.scalars(select(Robot.id)).one()
        db.session.remove()
    assert sorted(job.status for job in jobs) == ["error", "success"]
    return {
        "project_name_or_id": ["library", str(project.id)],
        "project_name": ["library"],
        "project_id": [project.id],
        "repository_name": ["alpine", "library%2Falpine"],
        "policy_id": [policies["ci"]],
        # The CRUD routes name it so: they change the spare policies, never the one holding the jobs.
        "webhook_policy_id": [policies["spare"]],
        "doomed_policy_id": [policies["doomed"]],
        "execution_id": [job.id for job in jobs],
        "task_id": [job.id for job in jobs],
        "uuid": [job.uuid for job in jobs],
        "rejected_id": [1],
        "user_id": [user_id],
        "mid": [member_id],
        "robot_id": [robot_id],
        "target_index": [0],
    }


def call_and_check(case: Any) -> Any:
    """Send ``case`` (the receiver with its token), run CHECKS, and look for the seeded credentials."""
    headers = {"Authorization": f"Bearer {replay.TOKEN}"} if case.path == RECEIVER else None
    response = case.call(headers=headers)
    case.validate_response(response, checks=CHECKS)
    shown = response.text + "".join(f"{name}: {value}\n" for name, value in response.headers.items())
    for secret in SEEDED_SECRETS:
        assert secret not in shown, f"{case.method} {case.formatted_path} showed a seeded credential"
    return response


def pytest_report_header() -> str:
    from tests.fuzz.test_api_fuzz import EXAMPLES, RANDOM, SEED

    return f"fuzz: seed {SEED} ({'random' if RANDOM else 'fixed'}), {EXAMPLES} examples per operation"


@pytest.fixture(autouse=True)
def _no_secret_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    for secret in SEEDED_SECRETS:
        assert secret not in caplog.text


@pytest.fixture(autouse=True)
def _node_id(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32's lazy loader reads ``request.node._nodeid``, which pytest 9.2's nodes no longer have.
    request.node._nodeid = request.node.nodeid
