"""Event rows: added while an envelope is recorded, written together in bulk before its transaction commits.

An envelope may publish thousands of events; one INSERT per event (and an ORM object each) was most of the
receiver's time. The rows are collected as :class:`NewEvent` values and :func:`write` inserts them in one
bulk statement, then reads their ids back by their unique registry event id, for the hook jobs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert

from app import clock
from app.extensions import db
from app.models import Event
from app.services.db import insert_rows_ids

_PENDING = "dockhook.new_events"


@dataclass(eq=False)
class NewEvent:
    """An event row not written yet; ``id`` is known once :func:`write` ran."""

    type: str
    project_id: int | None
    repository: str
    operator: str
    occurred_at: datetime
    data: dict[str, Any]
    registry_event_id: str | None
    registry_request_id: str
    id: int | None = None

    def values(self, now: datetime) -> dict[str, Any]:
        return {
            "type": self.type,
            "project_id": self.project_id,
            "repository": self.repository,
            "operator": self.operator,
            "occurred_at": self.occurred_at,
            "data": self.data,
            "registry_event_id": self.registry_event_id,
            "registry_request_id": self.registry_request_id,
            "created_at": now,
        }


def add(event: NewEvent) -> NewEvent:
    """Add ``event`` to the current transaction's rows; it is written by :func:`write`."""
    db.session.info.setdefault(_PENDING, []).append(event)
    return event


def write() -> None:
    """Insert the transaction's new event rows and give each its id. Raises what the database raises (an
    IntegrityError when another receiver recorded the same registry event first)."""
    pending: list[NewEvent] = db.session.info.pop(_PENDING, [])
    if not pending:
        return
    now = clock.now()
    keyed = [event for event in pending if event.registry_event_id]
    if keyed:
        ids = insert_rows_ids(Event, [event.values(now) for event in keyed], Event.registry_event_id, Event.id)
        for event in keyed:
            event.id = ids[event.registry_event_id]
    for event in pending:
        if event.id is None:  # no registry event id to find it by: one row, its id returned
            event.id = db.session.scalar(insert(Event).values(**event.values(now)).returning(Event.id))


def forget() -> None:
    """Drop the rows of a transaction that rolled back."""
    db.session.info.pop(_PENDING, None)
