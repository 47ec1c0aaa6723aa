"""Read back what the receiver recorded, in a shape tests can compare exactly."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import AccessLog, Event, Project, Repository
from tests.support.replay import Delivery


@dataclass(frozen=True)
class Recorded:
    """Events as (type, repository, tags, digest[:19]); access logs as (operation, repository, tag, digest[:19])."""

    events: list[tuple[str, str, tuple[str, ...], str]]
    access_logs: list[tuple[str, str, str, str]]
    repositories: dict[str, tuple[int, int]]
    projects: list[str]


def short(digest: str) -> str:
    """``sha256:`` plus the first 12 hex digits, as the fixture README writes digests."""
    return digest[:19]


def recorded(app: Flask) -> Recorded:
    with app.app_context():
        events = [
            (e.type, e.repository, tuple(e.data.get("tags", [])), short(e.data.get("digest", "")))
            for e in db.session.scalars(select(Event).order_by(Event.id))
        ]
        logs = [
            (a.operation, a.repo_name, a.repo_tag, short(a.digest))
            for a in db.session.scalars(select(AccessLog).order_by(AccessLog.id))
        ]
        repos = {r.name: (r.push_count, r.pull_count) for r in db.session.scalars(select(Repository))}
        projects = sorted(db.session.scalars(select(Project.name)))
        db.session.remove()
    return Recorded(events, logs, repos, projects)


def send(client: FlaskClient, delivery: Delivery) -> tuple[int, dict[str, object]]:
    """POST one captured delivery exactly as the registry sent it; return status and JSON body."""
    response = client.post(delivery.path, data=delivery.body, headers=delivery.request_headers())
    return response.status_code, response.get_json()
