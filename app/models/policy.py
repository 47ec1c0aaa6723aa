"""Webhook policy: which event types of a project go to which targets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class WebhookPolicy(Base):
    """``targets`` is a list of ``{type, address, auth_header, skip_cert_verify, payload_format}``.

    ``auth_header`` is kept in clear here because the worker must send it; it leaves the
    database only towards its target, never in an API response, log line or attempt record.
    """

    __tablename__ = "webhook_policies"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_webhook_policies_project_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    targets: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    creator: Mapped[str] = mapped_column(String(255), default="")
    creation_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    update_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
