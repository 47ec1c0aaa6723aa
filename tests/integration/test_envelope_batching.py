"""An envelope of many events is recorded exactly as the same events sent one envelope each, in bounded statements.

The receiver applies an envelope's events in memory and writes them in a few bulk statements
(app.services.registry_records). Order matters inside an envelope: a tag pushed then deleted, a manifest
deleted by digest and then its tags, a pull that learns a tag before a delete. These tests generate
sequences of such events (seeded, so a failure replays), record them one per envelope and all in one
envelope on the same backend, and compare everything recorded.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event as sa_event
from sqlalchemy import select

from app.extensions import db
from app.models import AccessLog, Artifact, Event, HookJob, HookJobStatus, Repository, Tag
from app.services.db import insert_rows
from tests.conftest import empty_tables
from tests.integration.test_delivery import add_policy
from tests.support import replay
from tests.support.clock import FakeClock

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
REPOSITORIES = ("library/alpine", "library/busybox", "team/tools")
TAGS = ("latest", "3.19", "edge")
DIGESTS = tuple(f"sha256:{str(n) * 64}" for n in range(1, 4))
REQUESTS = ("req-a", "req-b", "req-c")
BEGIN = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
EVENT_TYPES = ("PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT")


def registry_event(
    number: int, action: str, repository: str, *, tag: str = "", digest: str = "", request: str = ""
) -> dict[str, Any]:
    """One event as docker/distribution writes it (deletes carry no media type, tag deletes no digest)."""
    target: dict[str, Any] = {"repository": repository, "digest": digest, "tag": tag}
    if action != "delete":
        target.update(mediaType=MANIFEST, size=1024 + number)
    return {
        "id": f"event-{number:04d}",
        "timestamp": (BEGIN + timedelta(seconds=number)).isoformat(),
        "action": action,
        "target": target,
        "request": {
            "id": request or f"req-{number}",
            "host": "registry.test:5000",
            "method": "GET",
            "useragent": "skopeo/1.13",
        },
        "actor": {"name": "ci" if number % 2 else ""},
        "source": {"addr": "registry:5000"},
    }


def sequence(seed: int, length: int) -> list[dict[str, Any]]:
    """A random but replayable run of pushes, pulls and deletes over a few repositories, tags and digests."""
    rng = random.Random(seed)
    events = []
    for number in range(length):
        repository = rng.choice(REPOSITORIES)
        kind = rng.choice(("push", "push", "pull", "delete_digest", "delete_tag"))
        request = rng.choice(REQUESTS)
        if kind == "push":
            events.append(
                registry_event(number, "push", repository, tag=rng.choice((*TAGS, "")), digest=rng.choice(DIGESTS))
            )
        elif kind == "pull":
            events.append(
                registry_event(number, "pull", repository, tag=rng.choice((*TAGS, "")), digest=rng.choice(DIGESTS))
            )
        elif kind == "delete_digest":
            events.append(registry_event(number, "delete", repository, digest=rng.choice(DIGESTS), request=request))
        else:
            events.append(registry_event(number, "delete", repository, tag=rng.choice(TAGS), request=request))
    return events


def post(client: FlaskClient, events: list[dict[str, Any]]) -> dict[str, Any]:
    response = client.post(
        "/service/notifications",
        data=json.dumps({"events": events}),
        headers={
            "Content-Type": "application/vnd.docker.distribution.events.v1+json",
            "Authorization": f"Bearer {replay.TOKEN}",
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    return body


def everything(app: Flask) -> dict[str, list[Any]]:
    """Every recorded row that does not depend on when it was written or on row ids, in write order."""
    with app.app_context():
        artifacts = {a.id: a for a in db.session.scalars(select(Artifact))}
        repositories = {r.id: r.name for r in db.session.scalars(select(Repository))}
        events = {e.id: e.registry_event_id for e in db.session.scalars(select(Event))}
        found = {
            "repositories": [
                (r.name, r.push_count, r.pull_count, r.last_push_time, r.last_pull_time)
                for r in db.session.scalars(select(Repository).order_by(Repository.name))
            ],
            "artifacts": sorted(
                (
                    repositories[a.repository_id],
                    a.digest,
                    a.media_type,
                    a.size,
                    a.push_time,
                    a.pull_time,
                    a.deleted_time,
                )
                for a in artifacts.values()
            ),
            "tags": sorted(
                (repositories[t.repository_id], t.name, artifacts[t.artifact_id].digest, t.push_time)
                for t in db.session.scalars(select(Tag))
            ),
            "access_logs": [
                (a.registry_event_id, a.operation, a.repo_name, a.repo_tag, a.digest, a.username, a.op_time)
                for a in db.session.scalars(select(AccessLog).order_by(AccessLog.id))
            ],
            "events": [
                (e.registry_event_id, e.type, e.repository, e.operator, e.occurred_at, e.data, e.registry_request_id)
                for e in db.session.scalars(select(Event).order_by(Event.id))
            ],
            "hook_jobs": [
                (events[j.event_id], j.policy_name, j.event_type, j.payload, j.status)
                for j in db.session.scalars(select(HookJob).order_by(HookJob.id))
            ],
        }
        db.session.remove()
    return found


def with_policies(make_app: Callable[..., Flask]) -> Flask:
    app = make_app(notify_token=replay.TOKEN)
    for project in ("library", "team"):
        add_policy(
            app,
            [{"address": "https://ci.example.com/in"}],
            name=f"all-{project}",
            project=project,
            event_types=EVENT_TYPES,
        )
    return app


@pytest.mark.parametrize("seed", range(12))
def test_one_envelope_records_what_one_envelope_per_event_records(
    make_app: Callable[..., Flask], database_url: str, fake_clock: FakeClock, seed: int
) -> None:
    # The fake clock holds still: payloads carry the repository's creation time, the same in both runs.
    events = sequence(seed, 24)
    app = with_policies(make_app)
    client = app.test_client()
    for one in events:
        post(client, [one])
    apart = everything(app)
    assert apart["events"], "the sequence published nothing: it tests nothing"

    with app.app_context():
        empty_tables(database_url)
    app = with_policies(make_app)
    answer = post(app.test_client(), events)
    together = everything(app)

    assert answer["recorded"] == len(events)
    assert len(answer["published"]) == len(together["events"])
    for table, rows in apart.items():
        assert together[table] == rows, f"{table} differ for seed {seed}"


def test_an_envelope_repeated_inside_itself_and_resent_records_each_event_once(
    make_app: Callable[..., Flask], fake_clock: FakeClock
) -> None:
    events = sequence(99, 20)
    app = with_policies(make_app)
    client = app.test_client()
    first = post(client, [*events, *events[:5]])
    assert (first["recorded"], first["duplicates"]) == (20, 5)
    before = everything(app)
    again = post(client, events)
    assert (again["recorded"], again["duplicates"], again["published"]) == (0, 20, [])
    assert everything(app) == before


def statements_for(app: Flask, events: list[dict[str, Any]]) -> int:
    """How many statements the database was sent while recording ``events`` in one envelope."""
    sent: list[str] = []
    with app.app_context():
        engine = db.engine

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        answer = post(app.test_client(), events)
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    assert answer["recorded"] == len(events)
    return len(sent)


def test_the_statements_an_envelope_costs_do_not_grow_with_its_events(make_app: Callable[..., Flask]) -> None:
    """Pushes of new tags, pulls and deletes across repositories: 40 events cost what 400 cost."""

    def envelope(first: int, count: int) -> list[dict[str, Any]]:
        events = []
        for number in range(first, first + count):
            repository = REPOSITORIES[number % len(REPOSITORIES)]
            digest = DIGESTS[number % len(DIGESTS)]
            kind = number % 4
            if kind in (0, 1):
                events.append(registry_event(number, "push", repository, tag=f"v{number}", digest=digest))
            elif kind == 2:
                events.append(registry_event(number, "pull", repository, tag=f"v{number - 1}", digest=digest))
            else:
                events.append(
                    registry_event(number, "delete", repository, tag=f"v{number - 3}", request=f"req-{number}")
                )
        return events

    app = with_policies(make_app)
    post(app.test_client(), envelope(0, 30))  # projects, repositories and artifacts exist from here on
    small = statements_for(app, envelope(1000, 40))
    large = statements_for(app, envelope(2000, 400))
    # Events and hook jobs: one INSERT ... RETURNING each for a few rows, an insert and a read-back for many.
    assert small <= large <= small + 2, f"40 events cost {small} statements, 400 cost {large}"
    # Reading what exists, writing each table once, and the commit: a few dozen, not a few per event.
    assert small < 40


def test_rows_written_in_bulk_are_the_rows_the_orm_writes(
    make_app: Callable[..., Flask], fake_clock: FakeClock
) -> None:
    """insert_rows (COPY on PostgreSQL, executemany elsewhere) applies the models' defaults and column types."""
    app = with_policies(make_app)
    post(app.test_client(), [registry_event(1, "push", "library/alpine", tag="latest", digest=DIGESTS[0])])
    with app.app_context():
        event = db.session.scalars(select(Event)).one()
        given = {
            "event_id": event.id,
            "project_id": event.project_id,
            "policy_name": "bulk",
            "target": {"type": "http", "address": "https://ci.example.com/in", "payload_format": "Default"},
            "event_type": "PUSH_ARTIFACT",
            "notify_type": "http",
            "payload": '{"type": "PUSH_ARTIFACT", "text": "ünïcode \\\\ tab\\t"}',
            "status": HookJobStatus.PENDING,
        }
        db.session.add(HookJob(uuid="orm", **given))
        insert_rows(HookJob, [{"uuid": "bulk", **given}])
        db.session.commit()
        orm, bulk = (db.session.scalars(select(HookJob).where(HookJob.uuid == u)).one() for u in ("orm", "bulk"))
        skip = {"id", "uuid"}
        columns = [c.key for c in HookJob.__table__.columns if c.key not in skip]
        assert {c: getattr(bulk, c) for c in columns} == {c: getattr(orm, c) for c in columns}
        assert (bulk.last_error, bulk.attempt_count, bulk.creation_time) == ("", 0, fake_clock.now)
        db.session.remove()
