"""Harbor's own Python client (``harborapi``) against Dockhook on a real HTTP server on loopback: a system admin
creates a project robot with notification-policy permissions; the robot manages its project's webhook policies
and is refused on another project."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from harborapi import HarborAsyncClient
from harborapi.exceptions import Forbidden, Unauthorized
from harborapi.models import Access, ProjectReq, RobotCreate, RobotPermission, WebhookPolicy, WebhookTargetObject
from werkzeug.serving import make_server

from app.extensions import db
from tests.support import accounts

ACTIONS = ("create", "read", "update", "delete", "list")


@pytest.fixture
def served(make_app: Callable[..., Flask]) -> Iterator[str]:
    """Dockhook (API token set, so nothing is open) served by werkzeug on 127.0.0.1; yields the API's base URL."""
    app = make_app(api_token="harborapi-test-token")
    with app.app_context():
        accounts.user("admin", sysadmin=True)
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api/v2.0"
    server.shutdown()
    thread.join(timeout=10)


def policy(name: str) -> WebhookPolicy:
    target = WebhookTargetObject(type="http", address="https://hooks.example.com/in", skip_cert_verify=False)
    return WebhookPolicy(name=name, targets=[target], event_types=["PUSH_ARTIFACT"], enabled=True)


async def scenario(url: str) -> None:
    admin = HarborAsyncClient(url=url, username="admin", secret=accounts.PASSWORD)
    await admin.create_project(ProjectReq(project_name="team"))
    await admin.create_project(ProjectReq(project_name="other"))
    access = [Access(resource="notification-policy", action=action) for action in ACTIONS]
    created = await admin.create_robot(
        RobotCreate(
            name="ci",
            level="project",
            duration=-1,
            permissions=[RobotPermission(kind="project", namespace="team", access=access)],
        )
    )
    assert created.name == "robot$team+ci" and created.secret

    robot = HarborAsyncClient(url=url, username=created.name, secret=created.secret)
    location = await robot.create_webhook_policy("team", policy("on-push"))
    policy_id = int(location.rstrip("/").rsplit("/", 1)[1])
    (listed,) = await robot.get_webhook_policies("team")
    assert (listed.name, listed.creator) == ("on-push", "robot$team+ci")
    changed = policy("on-push")
    changed.description = "changed by the robot"
    await robot.update_webhook_policy("team", policy_id, changed)
    assert (await robot.get_webhook_policy("team", policy_id)).description == "changed by the robot"
    await robot.delete_webhook_policy("team", policy_id)
    assert await robot.get_webhook_policies("team") == []

    with pytest.raises(Forbidden):
        await robot.create_webhook_policy("other", policy("sneaky"))
    with pytest.raises(Forbidden):
        await robot.get_webhook_policies("other")
    assert await admin.get_webhook_policies("other") == [], "the refused create wrote nothing"
    stranger = HarborAsyncClient(url=url, username=created.name, secret="Not-the-secret-1")
    with pytest.raises(Unauthorized):
        await stranger.get_webhook_policies("team")


def test_harborapi_makes_a_project_robot_that_manages_only_its_projects_policies(served: str) -> None:
    asyncio.run(scenario(served))
