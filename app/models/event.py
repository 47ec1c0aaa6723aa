"""Event: one row per event published on the broker (registry or internal producer)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.models.base import Base, UTCDateTime


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_project_type_time", "project_id", "type", "occurred_at"),
        Index("ix_events_registry_request", "registry_request_id", "repository"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    # None: an event of no project (a system-wide policy's target disabled).
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    repository: Mapped[str] = mapped_column(String(512), default="")
    operator: Mapped[str] = mapped_column(String(255), default="")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The registry event that opened this event (unique: a re-send cannot open a second one).
    registry_event_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    registry_request_id: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
