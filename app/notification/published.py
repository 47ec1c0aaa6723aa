"""Published events (scan, quota, replication, retention from ``POST /api/v2.0/events``): add the event row, then
fan out to every policy that takes it, exactly as registry events do.

Runs inside the publisher's transaction (app.services.published_events), so the event and its hook jobs commit
or roll back together.
"""

from __future__ import annotations

import functools
from typing import Any

from app.broker import Broker, Topic
from app.broker.events import PublishedEvent
from app.broker.topics import PUBLISHED_TYPES
from app.notification.hooks import fan_out
from app.services import event_rows, repositories
from app.services.event_rows import NewEvent
from app.services.policy_filters import Facts

TOPICS = PUBLISHED_TYPES


def make_handler(broker: Broker):  # type: ignore[no-untyped-def]
    """The published-event handler, publishing its hook events on ``broker``."""

    def handle_published_event(topic: Topic, event: PublishedEvent) -> None:
        row = event_rows.add(
            NewEvent(
                type=str(topic),
                project_id=event.project_id,
                repository=event.repository,
                operator=event.operator,
                occurred_at=event.occurred_at,
                data=event.event_data,
                registry_event_id=event.dedupe_key,
                registry_request_id=event.request_id,
            )
        )
        event.record = row
        fan_out(
            broker,
            row=row,
            project_id=event.project_id,
            event_type=str(topic),
            facts=Facts(
                operator=event.operator,
                repository=event.repository or None,
                tags=event.tags,
                media_type=functools.cache(lambda: _media_type(event)),  # read once, and only if a filter asks
            ),
            payload=lambda: default_payload(topic, event),
            request_id=event.request_id,
        )

    return handle_published_event


def _media_type(event: PublishedEvent) -> str | None:
    """The media type of the artifact the event is about, as recorded from the registry (producers do not send
    one): what a policy's ``media_types`` filter matches. None without a repository and digest, or for an
    artifact Dockhook never saw pushed or pulled."""
    if not event.repository or not event.digest:
        return None
    return repositories.media_type_of(event.repository, event.digest)


def default_payload(topic: Topic, event: PublishedEvent) -> dict[str, Any]:
    """Harbor's Default payload: ``type``, ``occur_at``, ``operator`` and the validated ``event_data``."""
    return {
        "type": str(topic),
        "occur_at": int(event.occurred_at.timestamp()),
        "operator": event.operator,
        "event_data": event.event_data,
    }
