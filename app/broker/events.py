"""The values published on the broker's event topics."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from app.broker.topics import Topic


class EventRecord(Protocol):
    """The row a handler added for a published event (app.services.event_rows.NewEvent)."""

    type: str
    repository: str
    registry_request_id: str
    data: dict[str, Any]


@dataclass
class ArtifactEvent:
    """A push, pull or delete of one manifest (PUSH/PULL/DELETE_ARTIFACT).

    ``record`` is filled in by the handler that adds the event row (written with the envelope's others).
    """

    type: Topic
    project_id: int
    project_name: str
    repository: str
    digest: str
    tags: list[str]
    media_type: str
    operator: str
    occurred_at: datetime
    size: int | None = None
    registry_event_id: str | None = None
    registry_request_id: str = ""
    user_agent: str = ""
    registry_host: str = ""
    project_public: bool = False
    repository_created: datetime | None = None
    record: EventRecord | None = field(default=None, repr=False)

    def data(self) -> dict[str, Any]:
        """The JSON-able event data stored on the event row and used to build payloads."""
        return {
            "repository": self.repository,
            "digest": self.digest,
            "tags": list(self.tags),
            "media_type": self.media_type,
            "size": self.size,
            "user_agent": self.user_agent,
            "registry_host": self.registry_host,
        }
