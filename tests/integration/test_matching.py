"""Policies are matched in SQL by project, enabled and event type: exactly the subscribed policies fire."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import PolicyEventType
from app.services import configurations, policies, projects
from tests.integration.test_delivery import add_policy, jobs, push
from tests.support import replay

POLICIES = "/api/v2.0/projects/library/webhook/policies"


def test_only_enabled_policies_of_the_project_subscribed_to_the_type_match(make_app: Callable[..., Flask]) -> None:
    app = make_app(notify_token=replay.TOKEN)
    address = [{"address": "https://ci.example.com/in"}]
    pushes = add_policy(app, address, name="pushes")
    add_policy(app, address, name="pulls", event_types=("PULL_ARTIFACT",))
    add_policy(app, address, name="off", enabled=False)
    add_policy(app, address, name="elsewhere", project="other")
    with app.app_context():
        library = projects.get("library")
        assert [p.name for p in policies.matching(library.id, "PUSH_ARTIFACT")] == ["pushes"]
        assert [p.name for p in policies.matching(library.id, "DELETE_ARTIFACT")] == []
    push(app)
    assert [job.policy_id for job in jobs(app)] == [pushes]


def test_the_global_switch_is_read_with_the_policies(make_app: Callable[..., Flask]) -> None:
    """The receiver asks for the policies and the switch in one statement: none match while it is off, whether it
    was never set (on), set off, or set on again."""
    app = make_app(notify_token=replay.TOKEN)
    add_policy(app, [{"address": "https://ci.example.com/in"}], name="pushes")
    with app.app_context():
        library = projects.get("library")
        names = []
        for value in (None, False, True, False):
            if value is not None:
                configurations.set(configurations.NOTIFICATION_ENABLE, value)
            names.append([p.name for p in policies.matching(library.id, "PUSH_ARTIFACT")])
        assert names == [["pushes"], [], ["pushes"], []]


def test_a_put_moves_the_subscriptions_with_the_event_types(make_app: Callable[..., Flask]) -> None:
    app = make_app(notify_token=replay.TOKEN)
    client = app.test_client()
    assert client.post("/api/v2.0/projects", json={"project_name": "library"}).status_code == 201
    body = {"name": "p", "targets": [{"type": "http", "address": "https://ci.example.com/in"}]}
    location = client.post(POLICIES, json={**body, "event_types": ["PULL_ARTIFACT"]}).headers["Location"]
    push(app)
    assert jobs(app) == []
    assert client.put(location, json={**body, "event_types": ["pushImage", "DELETE_ARTIFACT"]}).status_code == 200
    with app.app_context():
        rows = db.session.scalars(select(PolicyEventType.event_type).order_by(PolicyEventType.event_type)).all()
        assert rows == ["DELETE_ARTIFACT", "PUSH_ARTIFACT"]
    replay_again = replay.deliveries("push_oci_alpine_latest_second_tag")
    client.post(replay_again[-1].path, data=replay_again[-1].body, headers=replay_again[-1].request_headers())
    assert [job.event_type for job in jobs(app)] == ["PUSH_ARTIFACT"]
    assert client.delete(location).status_code == 200
    with app.app_context():
        assert db.session.scalars(select(PolicyEventType)).all() == [], "deleting a policy drops its subscriptions"
