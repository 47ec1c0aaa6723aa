"""Artifact handler: PUSH/PULL/DELETE_ARTIFACT events become event rows in the publisher's transaction."""

from __future__ import annotations

from app.broker.events import ArtifactEvent
from app.broker.topics import Topic
from app.extensions import db
from app.models import Event

TOPICS = (Topic.PUSH_ARTIFACT, Topic.PULL_ARTIFACT, Topic.DELETE_ARTIFACT)


def handle_artifact_event(topic: Topic, event: ArtifactEvent) -> None:
    """Record ``event`` as an ``events`` row (flushed, so its id is known to later handlers)."""
    row = Event(
        type=str(topic),
        project_id=event.project_id,
        repository=event.repository,
        operator=event.operator,
        occurred_at=event.occurred_at,
        data=event.data(),
        registry_event_id=event.registry_event_id,
        registry_request_id=event.registry_request_id,
    )
    db.session.add(row)
    db.session.flush()
    event.event_id = row.id
