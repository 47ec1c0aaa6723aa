"""Events producers publish through the API (scan, quota, replication, retention): checked against the project,
deduplicated by an idempotency key, published on the broker in one transaction, then their hook jobs enqueued.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app import clock
from app.broker import Broker, Topic
from app.broker.events import PublishedEvent
from app.extensions import current_settings, db
from app.models import Event, HookJob, Project
from app.services import event_rows, hook_jobs
from app.services.db import commit
from app.services.errors import Invalid, Unprocessable

# Event rows keep the dedupe key in ``registry_event_id`` (unique); this prefix keeps published keys apart from
# the registry's event ids (UUIDs), and the hash bounds any key the producer chose to the column's 64 characters.
KEY_PREFIX = "api:"


@dataclass(frozen=True)
class Published:
    """What a publish did: the event's id, how many hook jobs it made, and whether it was a re-send."""

    event_id: int
    hook_jobs: int
    duplicate: bool


def dedupe_key(project_id: int, idempotency_key: str) -> str:
    """The stored key of ``idempotency_key`` in ``project_id`` (keys are scoped per project)."""
    digest = hashlib.sha256(f"{project_id}\n{idempotency_key}".encode()).hexdigest()
    return KEY_PREFIX + digest[: 64 - len(KEY_PREFIX)]


def publish(
    broker: Broker,
    *,
    project: Project,
    topic: Topic,
    operator: str,
    occurred_at: datetime | None,
    event_data: dict[str, Any],
    idempotency_key: str | None = None,
    request_id: str = "",
) -> Published:
    """Record the event, make the hook jobs of every policy that takes it, commit, then enqueue them.

    ``event_data`` must already be valid for ``topic``; what names a repository or a project must name
    ``project`` (Invalid otherwise). ``occurred_at`` None: now. With an ``idempotency_key`` already used in this
    project, nothing is written and the first event is answered (``duplicate``), also when two publishes race;
    should the first event differ from this one (type, operator, ``event_data``, or an ``occurred_at`` given),
    the key was reused for another event: Unprocessable, and nothing is written either. Raises
    DatabaseUnavailable when the database cannot be reached.
    """
    _check_project(project, topic, event_data)
    key = dedupe_key(project.id, idempotency_key) if idempotency_key else None
    asked = _Asked(topic, operator, occurred_at, event_data)
    if key is not None:
        seen = _existing(key, asked)
        if seen is not None:
            return seen
    event = PublishedEvent(
        type=topic,
        project_id=project.id,
        project_name=project.name,
        operator=operator,
        occurred_at=occurred_at or clock.now(),
        event_data=event_data,
        dedupe_key=key,
        request_id=request_id,
    )
    try:
        broker.publish(topic, event)
        event_rows.write()  # also when no policy took it: the event is recorded either way
        hook_jobs.seal_new()
        commit()
    except IntegrityError:
        # Another publish with the same key committed between our read and our write.
        hook_jobs.forget_new()
        db.session.rollback()
        seen = _existing(key, asked) if key is not None else None
        if seen is None:
            raise
        return seen
    except Exception:
        hook_jobs.forget_new()
        db.session.rollback()
        raise
    made = hook_jobs.take_new()
    settings = current_settings()
    hook_jobs.enqueue(made, settings.redis_url, settings.job_timeout)
    record = event.record
    event_id = getattr(record, "id", None)
    if event_id is None:
        raise RuntimeError("a published event's row was never written")
    return Published(event_id=int(event_id), hook_jobs=len(made), duplicate=False)


@dataclass(frozen=True)
class _Asked:
    """What a publish asks for, as a re-send under the same Idempotency-Key must ask for it again."""

    topic: Topic
    operator: str
    occurred_at: datetime | None  # None: not given (a re-send's own "now" differs, and that is no difference)
    event_data: dict[str, Any]

    def differences(self, first: Event) -> list[str]:
        """What ``first`` (the key's event) has that this request does not ask for; names only, no values."""
        differ = []
        if first.type != str(self.topic):
            differ.append("type")
        if first.operator != self.operator:
            differ.append("operator")
        if self.occurred_at is not None and _seconds(first.occurred_at) != _seconds(self.occurred_at):
            differ.append("occur_at")
        # The stored data went through JSON: compare the request's the same way (tuples, key order, ...).
        if first.data != json.loads(json.dumps(self.event_data)):
            differ.append("event_data")
        return differ


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def _existing(key: str, asked: _Asked) -> Published | None:
    """The key's first event (a duplicate), None if the key is new; Unprocessable if it was another event."""
    first = db.session.scalar(select(Event).where(Event.registry_event_id == key))
    if first is None:
        return None
    differ = asked.differences(first)
    if differ:
        raise Unprocessable(
            f"Idempotency-Key already used in this project for another event ({', '.join(differ)} differ): "
            "a re-send must repeat the first request; a new event needs a new key"
        )
    count = db.session.scalar(select(func.count()).select_from(HookJob).where(HookJob.event_id == first.id))
    return Published(event_id=first.id, hook_jobs=int(count or 0), duplicate=True)


def _check_project(project: Project, topic: Topic, event_data: dict[str, Any]) -> None:
    """What the event data says about its project must be ``project``: a publisher of one project cannot
    describe another's repositories (the permission is checked on ``project``)."""
    repository = event_data.get("repository")
    if repository:
        namespace = repository.get("namespace")
        if namespace is not None and namespace != project.name:
            raise Invalid(f"event_data.repository.namespace: must be the event's project {project.name}")
        full_name = repository.get("repo_full_name")
        if full_name is not None and not str(full_name).startswith(f"{project.name}/"):
            raise Invalid(f"event_data.repository.repo_full_name: must be in the event's project ({project.name}/...)")
    retention = event_data.get("retention")
    if topic == Topic.TAG_RETENTION and retention and retention.get("project_name") not in (None, project.name):
        raise Invalid(f"event_data.retention.project_name: must be the event's project {project.name}")
