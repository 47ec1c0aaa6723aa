"""Every API route × every kind of caller (tests/api/permission_table.py): the answer is the one the table
gives, and a refused request changes nothing in the database. docs/security.md shows the same table."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text

from app.extensions import db
from app.models import Base, HookJob, Project
from app.services import policies, projects, roles
from app.services.policies import PolicyInput, TargetInput
from tests.api import permission_table as table
from tests.support import accounts, replay
from tests.support.state import send

API_TOKEN = "permission-table-api-token"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "security.md"
ROLE_OF = {
    table.PROJECT_ADMIN: roles.PROJECT_ADMIN,
    table.MAINTAINER: roles.MAINTAINER,
    table.DEVELOPER: roles.DEVELOPER,
    table.GUEST: roles.GUEST,
    table.LIMITED_GUEST: roles.LIMITED_GUEST,
}
# Rows a test writes only to count failed sign-ins; not what a refused request may change.
NOT_COMPARED = {"signin_failures"}


def build_world(app: Flask) -> dict[str, Any]:
    """Project ``library`` (private) with policy ``ci``, the hook jobs of a replayed push, one account per role,
    a system admin, and the robots of the table. Returns the names the rows' paths use, and the credentials."""
    client = app.test_client()
    world: dict[str, Any] = {"headers": {table.ANONYMOUS: {}}}
    with app.app_context():
        library = projects.create("library", public=False)
        target = TargetInput(type="http", address="https://hooks.example.com/in")
        policy = policies.create(library, PolicyInput(name="ci", targets=[target], event_types=["PUSH_ARTIFACT"]))
        everywhere = policies.create(None, PolicyInput(name="all", targets=[target], event_types=["PUSH_ARTIFACT"]))
        world.update(project_id=library.id, policy=policy.id, system_policy=everywhere.id)
    for delivery in replay.deliveries("push_oci_alpine_3.19"):
        assert send(client, delivery)[0] == 200
    with app.app_context():
        library = db.session.scalars(select(Project).where(Project.name == "library")).one()
        job = db.session.scalars(select(HookJob).where(HookJob.policy_id == world["policy"])).first()
        assert job is not None, "the replayed push made a hook job for policy ci"
        system_job = db.session.scalars(select(HookJob).where(HookJob.project_id.is_(None))).first()
        assert system_job is not None, "and one for the system-wide policy"
        world.update(job=job.id, job_uuid=job.uuid, system_job_uuid=system_job.uuid)
        admin = accounts.user("root", sysadmin=True)
        world["user"] = admin.id
        world["headers"][table.ADMIN] = accounts.basic("root", accounts.PASSWORD)
        for principal, role in ROLE_OF.items():
            account = accounts.user(principal.lower())
            accounts.member(library, account, role)
            world["headers"][principal] = accounts.basic(account.username, accounts.PASSWORD)
        world["member"] = db.session.scalar(text("SELECT min(id) FROM project_members"))
        robots = {
            table.ROBOT_NP: accounts.robot("np", accounts.grant("library", *table.GRANTED), project=library),
            table.ROBOT_NONE: accounts.robot("none", accounts.grant("library", *table.NOT_GRANTED), project=library),
            table.ROBOT_SYSTEM: accounts.robot("sys", accounts.grant("*", *table.GRANTED)),
            table.ROBOT_EXPIRED: accounts.robot(
                "old", accounts.grant("library", *table.GRANTED), project=library, expires_at=0
            ),
            table.ROBOT_DISABLED: accounts.robot(
                "off", accounts.grant("library", *table.GRANTED), project=library, disabled=True
            ),
        }
        for principal, robot in robots.items():
            world["headers"][principal] = accounts.basic(robot.full_name, accounts.ROBOT_SECRET)
        world["robot"] = robots[table.ROBOT_NP].id
        db.session.commit()
    return world


def fresh(app: Flask, kind: str, n: int) -> dict[str, Any]:
    """The ``fresh_*`` names of ``kind``: made anew, so a call that deletes or changes it leaves the world."""
    with app.app_context():
        library = db.session.scalars(select(Project).where(Project.name == "library")).one()
        if kind in ("user", "member"):
            account = accounts.user(f"fresh{n}")
            values: dict[str, Any] = {"fresh_user": account.id, "fresh_user_name": account.username}
            if kind == "member":
                accounts.member(library, account, roles.GUEST)
                values["fresh_member"] = db.session.scalar(text("SELECT max(id) FROM project_members"))
        elif kind == "robot":
            robot = accounts.robot(
                f"fresh{n}", accounts.grant("library", ("notification-policy", "read")), project=library
            )
            values = {"fresh_robot": robot.id, "fresh_robot_name": robot.name}
        elif kind == "policy":
            target = TargetInput(type="http", address="https://hooks.example.com/in")
            doomed = policies.create(
                library, PolicyInput(name=f"doomed{n}", targets=[target], event_types=["PUSH_ARTIFACT"])
            )
            values = {"fresh_policy": doomed.id}
        elif kind == "syspolicy":
            target = TargetInput(type="http", address="https://hooks.example.com/in")
            doomed = policies.create(
                None, PolicyInput(name=f"doomed{n}", targets=[target], event_types=["PUSH_ARTIFACT"])
            )
            values = {"fresh_syspolicy": doomed.id}
        else:
            status = "error" if kind == "error_job" else "pending"
            model = db.session.scalars(select(HookJob).where(HookJob.project_id.is_not(None))).first()
            assert model is not None
            columns = {c.key: getattr(model, c.key) for c in HookJob.__table__.columns if c.key not in ("id", "uuid")}
            job = HookJob(**{**columns, "status": status, "finished_at": None})
            db.session.add(job)
            db.session.flush()
            values = {"fresh_pending_job": job.id, "fresh_pending_uuid": job.uuid, "fresh_error_uuid": job.uuid}
        db.session.commit()
    return values


def snapshot(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    with app.app_context():
        return {
            t.name: sorted(tuple(map(repr, row)) for row in db.session.execute(select(t)))
            for t in Base.metadata.sorted_tables
            if t.name not in NOT_COMPARED
        }


@pytest.mark.parametrize("principal", table.PRINCIPALS)
def test_every_route_answers_each_caller_as_the_table_says(make_app: Callable[..., Flask], principal: str) -> None:
    # The expired and disabled robots fail every call: no rate limit within this table (tested on its own).
    app = make_app(notify_token=replay.TOKEN, api_token=API_TOKEN, signin_max_failures=10_000)
    world = build_world(app)
    client = app.test_client()
    counter = itertools.count()
    wrong = []
    for row in table.ROWS:
        n = next(counter)
        names = dict(world, unique=f"made{n}", **(fresh(app, row.fresh, n) if row.fresh else {}))
        path = row.path.format(**names)
        body = row.body(names) if row.body is not None else None
        before = snapshot(app)
        response = client.open(path, method=row.method, json=body, headers=world["headers"][principal])
        want = table.expected(row, principal)
        if response.status_code != want:
            wrong.append(
                f"{row.method} {path}: {response.status_code} (table: {want}) {response.get_data(as_text=True)[:200]}"
            )
            continue
        if want >= 400:
            assert snapshot(app) == before, f"{row.method} {path} was refused ({want}) but changed the database"
            if row.method != "HEAD":
                assert response.get_json()["errors"][0]["code"], f"{row.method} {path}: Harbor's error shape"
        if want == 401:
            assert "Basic" in response.headers.get("WWW-Authenticate", ""), f"{row.method} {path}: WWW-Authenticate"
    assert not wrong, "\n".join(wrong)


def test_every_api_route_is_in_the_table_and_has_an_access_rule(make_app: Callable[..., Flask]) -> None:
    from app.api.access import rule_for
    from app.api.auth import is_public

    app = make_app()
    covered = {(r.method, re.sub(r"\?.*", "", r.path)) for r in table.ROWS}
    missing_rule, missing_row = [], []
    for rule in app.url_map.iter_rules():
        # Public routes (the OpenAPI document, the docs page, Harbor's ping and health) are answered before
        # anyone signs in; app.api.auth.PUBLIC_PATHS lists them.
        if not rule.rule.startswith("/api/") or is_public(rule.rule):
            continue
        shape = re.sub(r"<[^>]*>", "{}", rule.rule)
        for method in sorted((rule.methods or set()) - {"OPTIONS", "HEAD"}):
            if rule_for(rule.endpoint, method) is None:
                missing_rule.append(f"{method} {rule.rule}")
            if not any(
                m == method
                and re.sub(r"{[^}]*}|library|alpine|current|(?<=/)[0-9]+\b", "{}", p)
                == re.sub(r"{}|current", "{}", shape)
                for m, p in covered
            ):
                missing_row.append(f"{method} {rule.rule}")
    assert not missing_rule, f"routes without a rule in app/api/access.py: {missing_rule}"
    assert not missing_row, f"routes missing from tests/api/permission_table.py: {missing_row}"


def _shape(path: str) -> str:
    """A row's path with every name it fills in (and the literal ids, library, alpine, current) as ``{}``."""
    return re.sub(r"{[^}]*}|library|alpine|current|(?<=/)[0-9]+\b", "{}", path)


def test_docs_security_md_shows_the_table() -> None:
    assert table.render() in DOCS.read_text(), "docs/security.md: paste tests/api/permission_table.render()"
