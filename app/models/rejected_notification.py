"""Rejected notification: a registry event the receiver could not record, kept aside with its reason."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.models.base import Base, UTCDateTime


class RejectedNotification(Base):
    """One rejected event: its registry event id when it had a usable one, why, and the event as the registry
    sent it (JSON text, ASCII-escaped, cut at a bound). ``dedupe_key`` (``id:<event id>``, else ``sha256:<the
    event's hash>``) keeps re-sends of the same event from adding rows."""

    __tablename__ = "rejected_notifications"
    __table_args__ = (Index("ix_rejected_notifications_received", "received_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    dedupe_key: Mapped[str] = mapped_column(String(80), unique=True)
    registry_event_id: Mapped[str | None] = mapped_column(String(64))
    registry_request_id: Mapped[str] = mapped_column(String(64), default="")
    reason: Mapped[str] = mapped_column(String(1024))
    event: Mapped[str] = mapped_column(Text)
    event_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    # The address the notification came from (the registry, or whoever holds its token).
    source_address: Mapped[str] = mapped_column(String(255), default="")
