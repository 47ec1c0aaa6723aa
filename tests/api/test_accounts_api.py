"""Accounts, robots and sign-in through the API: credentials shown once and stored hashed, the sign-in rate
limit, who did what (creator, operator, audit trail), and lists narrowed to what the caller may see."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.extensions import db
from app.models import HookJob
from jobs.users_cli import users as users_cli
from tests.support import accounts, databases, replay
from tests.support.clock import FakeClock
from tests.support.state import send

TOKEN = "accounts-api-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
V2 = "/api/v2.0"


@pytest.fixture
def guarded(make_app: Callable[..., Flask]) -> Flask:
    return make_app(notify_token=replay.TOKEN, api_token=TOKEN, signin_max_failures=3, signin_window=60)


def make_user(client: FlaskClient, name: str, password: str = "Secret-pass-1", **extra: Any) -> int:
    answer = client.post(f"{V2}/users", json={"username": name, "password": password, **extra}, headers=ADMIN)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return int(answer.headers["Location"].rsplit("/", 1)[1])


def make_project(client: FlaskClient, name: str, headers: dict[str, str], public: bool = False) -> None:
    answer = client.post(f"{V2}/projects", json={"project_name": name, "public": public}, headers=headers)
    assert answer.status_code == 201, answer.get_data(as_text=True)


NP_ALL = [{"resource": "notification-policy", "action": a} for a in ("create", "read", "update", "delete", "list")]
POLICY = {
    "name": "ci",
    "targets": [{"type": "http", "address": "https://hooks.example.com/in"}],
    "event_types": ["PUSH_ARTIFACT"],
}


def test_a_user_signs_in_with_basic_and_a_wrong_password_is_a_logged_401_without_the_password(
    guarded: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    client = guarded.test_client()
    make_user(client, "alice", "Alice-pass-1")
    me = client.get(f"{V2}/users/current", headers=accounts.basic("alice", "Alice-pass-1"))
    assert me.status_code == 200 and me.get_json()["username"] == "alice"
    assert "password" not in me.get_data(as_text=True) and "Alice-pass-1" not in me.get_data(as_text=True)
    caplog.set_level(logging.WARNING)
    wrong = client.get(f"{V2}/projects", headers=accounts.basic("alice", "Wrong-guess-77"))
    assert wrong.status_code == 401 and "Basic" in wrong.headers["WWW-Authenticate"]
    assert "alice" in caplog.text and "Wrong-guess-77" not in caplog.text
    none = client.get(f"{V2}/projects")
    assert none.status_code == 401 and none.get_json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_failed_sign_ins_are_limited_per_address_and_per_account_until_the_window_ends(
    guarded: Flask, fake_clock: FakeClock
) -> None:
    client = guarded.test_client()
    make_user(client, "bob", "Bob-pass-123")
    good = accounts.basic("bob", "Bob-pass-123")
    for _ in range(3):
        assert client.get(f"{V2}/projects", headers=accounts.basic("bob", "nope")).status_code == 401
    limited = client.get(f"{V2}/projects", headers=good)
    assert limited.status_code == 429, "even the right password waits: nothing is checked until the window ends"
    assert 0 < int(limited.headers["Retry-After"]) <= 61
    # The account is limited from another address too.
    elsewhere = client.get(f"{V2}/projects", headers=good, environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert elsewhere.status_code == 429
    # Another account from the first address is limited by the address.
    make_user(client, "carol", "Carol-pass-1")
    assert client.get(f"{V2}/projects", headers=accounts.basic("carol", "Carol-pass-1")).status_code == 429
    fake_clock.advance(61)
    assert client.get(f"{V2}/projects", headers=good).status_code == 200


def test_a_robot_secret_is_shown_once_stored_hashed_refreshable_and_stops_when_disabled_or_expired(
    guarded: Flask, database_url: str, fake_clock: FakeClock
) -> None:
    client = guarded.test_client()
    make_project(client, "library", ADMIN)
    body = {
        "name": "ci",
        "level": "project",
        "duration": 1,
        "permissions": [{"kind": "project", "namespace": "library", "access": NP_ALL}],
    }
    created = client.post(f"{V2}/robots", json=body, headers=ADMIN)
    assert created.status_code == 201, created.get_data(as_text=True)
    robot = created.get_json()
    secret, robot_id = robot["secret"], robot["id"]
    assert robot["name"] == "robot$library+ci" and robot["expires_at"] > 0
    shown = client.get(f"{V2}/robots/{robot_id}", headers=ADMIN)
    assert secret not in shown.get_data(as_text=True) and "secret" not in shown.get_json()
    listed = client.get(f"{V2}/robots?q=Level=project", headers=ADMIN)
    assert secret not in listed.get_data(as_text=True) and listed.headers["X-Total-Count"] == "1"
    with guarded.app_context():
        db.session.remove()
    assert secret.encode() not in databases.contents(database_url), "only the hash is stored"

    policies = f"{V2}/projects/library/webhook/policies"
    assert client.get(policies, headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    assert client.get(policies, headers=accounts.basic("robot$library+ci", secret)).status_code == 200

    refreshed = client.patch(f"{V2}/robots/{robot_id}", json={}, headers=ADMIN)
    new_secret = refreshed.get_json()["secret"]
    assert new_secret != secret
    assert client.get(policies, headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert client.get(policies, headers={"Authorization": f"Bearer {new_secret}"}).status_code == 200

    chosen = client.patch(f"{V2}/robots/{robot_id}", json={"secret": "Chosen-secret-9"}, headers=ADMIN)
    assert chosen.status_code == 200
    assert client.get(policies, headers=accounts.basic("robot$library+ci", "Chosen-secret-9")).status_code == 200
    weak = client.patch(f"{V2}/robots/{robot_id}", json={"secret": "weak"}, headers=ADMIN)
    assert weak.status_code == 400
    assert client.get(policies, headers=accounts.basic("robot$library+ci", "Chosen-secret-9")).status_code == 200

    disabled = {**body, "disable": True}
    assert client.put(f"{V2}/robots/{robot_id}", json=disabled, headers=ADMIN).status_code == 200
    assert client.get(policies, headers=accounts.basic("robot$library+ci", "Chosen-secret-9")).status_code == 401
    assert client.put(f"{V2}/robots/{robot_id}", json=body, headers=ADMIN).status_code == 200
    assert client.get(policies, headers=accounts.basic("robot$library+ci", "Chosen-secret-9")).status_code == 200
    fake_clock.advance(86400 + 1)
    assert client.get(policies, headers=accounts.basic("robot$library+ci", "Chosen-secret-9")).status_code == 401


def test_a_project_admin_grants_a_robot_no_more_than_they_hold_and_a_robot_makes_no_robots(guarded: Flask) -> None:
    client = guarded.test_client()
    make_user(client, "owner", "Owner-pass-1")
    owner = accounts.basic("owner", "Owner-pass-1")
    make_project(client, "team", owner)
    members = client.get(f"{V2}/projects/team/members", headers=owner).get_json()
    assert [(m["entity_name"], m["role_name"]) for m in members] == [("owner", "projectAdmin")]
    grant = {
        "name": "bot",
        "level": "project",
        "permissions": [{"kind": "project", "namespace": "team", "access": NP_ALL}],
    }
    made = client.post(f"{V2}/robots", json=grant, headers=owner)
    assert made.status_code == 201
    system = {**grant, "level": "system", "name": "everything"}
    assert client.post(f"{V2}/robots", json=system, headers=owner).status_code == 403
    # Harbor's UI lists a project's robots so; the owner sees that project's, the admin every robot.
    team_id = client.get(f"{V2}/projects/team", headers=owner).get_json()["project_id"]
    system_robot = {**grant, "level": "system", "name": "ops"}
    assert client.post(f"{V2}/robots", json=system_robot, headers=ADMIN).status_code == 201
    mine = client.get(f"{V2}/robots?q=Level=project,ProjectID={team_id}", headers=owner)
    assert [r["name"] for r in mine.get_json()] == ["robot$team+bot"] and mine.headers["X-Total-Count"] == "1"
    assert client.get(f"{V2}/robots", headers=owner).headers["X-Total-Count"] == "1"
    assert client.get(f"{V2}/robots", headers=ADMIN).headers["X-Total-Count"] == "2"
    robot = {"Authorization": f"Bearer {made.get_json()['secret']}"}
    assert client.post(f"{V2}/robots", json={**grant, "name": "child"}, headers=robot).status_code == 403
    assert client.post(f"{V2}/projects", json={"project_name": "robotland"}, headers=robot).status_code == 403
    make_user(client, "helper", "Helper-pass-1")
    added = client.post(
        f"{V2}/projects/team/members", json={"role_id": 4, "member_user": {"username": "helper"}}, headers=owner
    )
    assert added.status_code == 201
    helper = accounts.basic("helper", "Helper-pass-1")
    assert client.post(f"{V2}/robots", json={**grant, "name": "mine"}, headers=helper).status_code == 403


def test_lists_show_only_what_the_caller_may_see_with_a_matching_total(guarded: Flask) -> None:
    client = guarded.test_client()
    make_user(client, "dana", "Dana-pass-1")
    dana = accounts.basic("dana", "Dana-pass-1")
    make_project(client, "hidden", ADMIN)
    make_project(client, "shared", ADMIN, public=True)
    make_project(client, "danas", dana)
    listed = client.get(f"{V2}/projects", headers=dana)
    assert sorted(p["name"] for p in listed.get_json()) == ["danas", "shared"]
    assert listed.headers["X-Total-Count"] == "2"
    assert client.get(f"{V2}/projects/hidden", headers=dana).status_code == 403
    assert client.get(f"{V2}/projects/nowhere", headers=dana).status_code == 404
    assert client.get(f"{V2}/projects/shared/webhook/policies", headers=dana).status_code == 403
    assert client.get(f"{V2}/projects", headers=ADMIN).headers["X-Total-Count"] == "3"
    # The access log across projects: only those whose log the caller may list.
    for delivery in replay.deliveries("push_oci_alpine_3.19"):
        assert send(client, delivery)[0] == 200
    everything = client.get(f"{V2}/audit-logs", headers=ADMIN)
    assert int(everything.headers["X-Total-Count"]) > 0
    hidden = client.get(f"{V2}/audit-logs", headers=dana)
    assert hidden.get_json() == [] and hidden.headers["X-Total-Count"] == "0"
    guest = {"role_id": 3, "member_user": {"username": "dana"}}
    assert client.post(f"{V2}/projects/library/members", json=guest, headers=ADMIN).status_code == 201
    shown = client.get(f"{V2}/audit-logs", headers=dana)
    assert shown.headers["X-Total-Count"] == everything.headers["X-Total-Count"]
    found = client.get(f"{V2}/users/search?username=dan", headers=dana).get_json()
    assert [u["username"] for u in found] == ["dana"] and set(found[0]) == {"user_id", "username"}


def test_creator_operator_and_the_audit_trail_name_who_did_it(guarded: Flask) -> None:
    client = guarded.test_client()
    make_project(client, "library", ADMIN)
    user_id = make_user(client, "erin", "Erin-pass-1")
    erin = accounts.basic("erin", "Erin-pass-1")
    added = client.post(
        f"{V2}/projects/library/members", json={"role_id": 1, "member_user": {"user_id": user_id}}, headers=ADMIN
    )
    assert added.status_code == 201
    policies = f"{V2}/projects/library/webhook/policies"
    assert client.post(policies, json={**POLICY, "creator": "someone-else"}, headers=erin).status_code == 201
    assert client.get(policies, headers=erin).get_json()[0]["creator"] == "erin"
    for delivery in replay.deliveries("push_oci_alpine_3.19"):
        assert send(client, delivery)[0] == 200
    with guarded.app_context():
        uuid = db.session.scalars(select(HookJob.uuid)).one()
        db.session.execute(update(HookJob).values(status="error"))
        db.session.commit()
    assert client.post(f"{V2}/hook-jobs/{uuid}/redeliver", headers=erin).status_code == 202
    job = client.get(f"{V2}/hook-jobs/{uuid}", headers=erin).get_json()
    assert job["operator"] == "erin"
    assert client.post(f"{V2}/hook-jobs/{uuid}/stop", headers=ADMIN).status_code == 200
    assert client.get(f"{V2}/hook-jobs/{uuid}", headers=erin).get_json()["operator"] == "api-token"
    trail = client.get(f"{V2}/audit-log-exts", headers=ADMIN)
    entries = [(e["operation"], e["resource_type"], e["resource"], e["username"]) for e in trail.get_json()]
    assert entries == [
        ("create", "project_member", "library/erin", "api-token"),
        ("create", "user", "erin", "api-token"),
    ]
    assert client.get(f"{V2}/audit-log-exts", headers=erin).status_code == 403


def test_an_account_changes_its_own_password_with_the_old_one(guarded: Flask, database_url: str) -> None:
    client = guarded.test_client()
    user_id = make_user(client, "fay", "Fay-pass-111")
    fay = accounts.basic("fay", "Fay-pass-111")
    path = f"{V2}/users/{user_id}/password"
    assert client.put(path, json={"new_password": "Fay-pass-222"}, headers=fay).status_code == 400
    wrong_old = {"old_password": "Nope-pass-1", "new_password": "Fay-pass-222"}
    assert client.put(path, json=wrong_old, headers=fay).status_code == 400
    weak = {"old_password": "Fay-pass-111", "new_password": "short"}
    assert client.put(path, json=weak, headers=fay).status_code == 400
    good = {"old_password": "Fay-pass-111", "new_password": "Fay-pass-222"}
    assert client.put(path, json=good, headers=fay).status_code == 200
    assert client.get(f"{V2}/users/current", headers=fay).status_code == 401
    assert client.get(f"{V2}/users/current", headers=accounts.basic("fay", "Fay-pass-222")).status_code == 200
    with guarded.app_context():
        db.session.remove()
    stored = databases.contents(database_url)
    assert b"Fay-pass-222" not in stored and b"Fay-pass-111" not in stored


def test_the_users_cli_creates_changes_lists_and_deletes_accounts(guarded: Flask) -> None:
    runner = guarded.test_cli_runner()
    made = runner.invoke(users_cli, ["create", "ops", "--admin", "--generate"])
    assert made.exit_code == 0, made.output
    password = made.output.split("password: ", 1)[1].split()[0]
    client = guarded.test_client()
    me = client.get(f"{V2}/users/current", headers=accounts.basic("ops", password))
    assert me.status_code == 200 and me.get_json()["sysadmin_flag"] is True
    again = runner.invoke(users_cli, ["create", "ops", "--if-missing"])
    assert again.exit_code == 0 and "exists" in again.output
    weak = runner.invoke(users_cli, ["passwd", "ops", "--password", "weak"])
    assert weak.exit_code != 0 and "password" in weak.output
    assert runner.invoke(users_cli, ["passwd", "ops", "--password", "Ops-pass-123"]).exit_code == 0
    assert client.get(f"{V2}/users/current", headers=accounts.basic("ops", "Ops-pass-123")).status_code == 200
    assert runner.invoke(users_cli, ["list"]).output == "ops\tadmin\n"
    assert runner.invoke(users_cli, ["delete", "ops"]).exit_code == 0
    assert runner.invoke(users_cli, ["list"]).output == ""


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8", "surrogatepass")).decode()


@pytest.mark.parametrize(
    "header",
    [
        "Basic " + _b64("a\x00b:Secret-pass-1"),
        "Basic " + _b64("alice:pass\x00word"),
        "Basic " + _b64("robot$" + "x" * 600 + ":Secret-pass-1"),
        "Basic " + _b64("alice"),
        "Basic " + _b64(":"),
        "Basic !!!",
        "Basic " + _b64("\ud800:x"),
        "Bearer " + "x" * 5000,
        "Bearer 99999999999." + "a" * 43,
        "Bearer 1." + "a" * 43,
        "Digest username=alice",
    ],
)
def test_hostile_credentials_are_a_401_in_harbors_shape(guarded: Flask, header: str) -> None:
    client = guarded.test_client()
    make_user(client, "alice", "Secret-pass-1")
    answer = client.get(f"{V2}/projects", headers={"Authorization": header})
    assert answer.status_code == 401, answer.get_data(as_text=True)
    assert answer.get_json()["errors"][0]["code"] == "UNAUTHORIZED"
