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


@dataclass
class TargetDisabledEvent:
    """A policy target was disabled after failing for DOCKHOOK_DISABLE_AFTER (WEBHOOK_TARGET_DISABLED).

    ``address`` is already masked (app.redact): the event goes to other targets, never the URL's tokens.
    """

    project_id: int | None  # None: a system-wide policy's target
    policy_id: int
    policy_name: str
    target_index: int
    target_type: str
    address: str
    reason: str
    failing_since: datetime
    consecutive_failures: int
    occurred_at: datetime

    def data(self) -> dict[str, Any]:
        """The event data (the Default payload's ``event_data``, and the event row's data)."""
        return {
            "policy": {"id": self.policy_id, "name": self.policy_name, "project_id": self.project_id},
            "target": {"index": self.target_index, "type": self.target_type, "address": self.address},
            "reason": self.reason,
            "failing_since": int(self.failing_since.timestamp()),
            "consecutive_failures": self.consecutive_failures,
        }


@dataclass
class PublishedEvent:
    """An event a producer sent to ``POST /api/v2.0/events`` (scan, quota, replication, retention), its
    ``event_data`` already validated for its type.

    ``dedupe_key`` (from the producer's idempotency key) is stored as the event row's unique key: a second
    publish with the same key cannot open a second event.
    """

    type: Topic
    project_id: int
    project_name: str
    operator: str
    occurred_at: datetime
    event_data: dict[str, Any]
    dedupe_key: str | None = None
    request_id: str = ""
    record: EventRecord | None = field(default=None, repr=False)

    @property
    def repository(self) -> str:
        """The event's repository (``project/name``), or "" when it names none (replication, retention)."""
        repository = self.event_data.get("repository") or {}
        return str(repository.get("repo_full_name") or "")

    @property
    def digest(self) -> str:
        """The digest of the first resource that names one (the artifact a scan or quota event is about), or ""."""
        for resource in self.event_data.get("resources") or []:
            if resource.get("digest"):
                return str(resource["digest"])
        return ""

    @property
    def tags(self) -> tuple[str, ...] | None:
        """The tags its resources name, or None when it has no resources."""
        resources = self.event_data.get("resources")
        if resources is None:
            return None
        return tuple(str(r["tag"]) for r in resources if r.get("tag"))
