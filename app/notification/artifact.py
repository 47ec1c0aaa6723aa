"""Artifact events: add the event row, then fan out to every target of every matching policy.

Runs inside the publisher's transaction (the receiver's), so the event, its hook jobs and the
access log commit or roll back together.
"""

from __future__ import annotations

from app.broker import Broker, Topic
from app.broker.events import ArtifactEvent
from app.extensions import current_settings
from app.notification.hooks import fan_out
from app.payloads import ArtifactContext, default_payload
from app.services import event_rows
from app.services.event_rows import NewEvent
from app.services.policy_filters import Facts

TOPICS = (Topic.PUSH_ARTIFACT, Topic.PULL_ARTIFACT, Topic.DELETE_ARTIFACT)


def make_handler(broker: Broker):  # type: ignore[no-untyped-def]
    """The artifact handler, publishing its hook events on ``broker``."""

    def handle_artifact_event(topic: Topic, event: ArtifactEvent) -> None:
        row = _record(topic, event)
        fan_out(
            broker,
            row=row,
            project_id=event.project_id,
            event_type=str(topic),
            facts=Facts(
                operator=event.operator,
                repository=event.repository,
                tags=tuple(event.tags),
                media_type=event.media_type,
            ),
            payload=lambda: default_payload(_context(topic, event)),
            request_id=event.registry_request_id,
        )

    return handle_artifact_event


def _record(topic: Topic, event: ArtifactEvent) -> NewEvent:
    row = event_rows.add(
        NewEvent(
            type=str(topic),
            project_id=event.project_id,
            repository=event.repository,
            operator=event.operator,
            occurred_at=event.occurred_at,
            data=event.data(),
            registry_event_id=event.registry_event_id,
            registry_request_id=event.registry_request_id,
        )
    )
    event.record = row
    return row


def _context(topic: Topic, event: ArtifactEvent) -> ArtifactContext:
    external = current_settings().external_url
    host = external.split("://", 1)[-1] if external else event.registry_host
    return ArtifactContext(
        event_type=str(topic),
        occurred_at=event.occurred_at,
        operator=event.operator,
        project_name=event.project_name,
        project_public=event.project_public,
        repository=event.repository,
        digest=event.digest,
        tags=list(event.tags),
        repository_created=event.repository_created,
        registry_host=host,
        request_id=event.registry_request_id,
    )
