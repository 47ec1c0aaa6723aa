"""Webhook policy: which event types of a project go to which targets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app import clock
from app.models.base import Base, UTCDateTime


class WebhookPolicy(Base):
    """``targets`` is a list of ``{type, address, skip_cert_verify, payload_format, auth_header_enc, secret_enc}``
    (plus ``previous_secret_enc`` and ``previous_secret_until`` while a replaced signing secret is in its
    overlap, and ``disabled``/``disabled_reason`` after a 410).

    The ``*_enc`` fields are Fernet ciphertext (app.services.credentials): the only copy of a target's
    credentials. The worker decrypts them at send time; they never leave in clear otherwise.
    """

    __tablename__ = "webhook_policies"
    __table_args__ = (
        UniqueConstraint("project_id", "name", name="uq_webhook_policies_project_name"),
        # NULLs are distinct in the constraint above: system-wide policies have their own unique names.
        Index(
            "uq_webhook_policies_system_name",
            "name",
            unique=True,
            postgresql_where=text("project_id IS NULL"),
            sqlite_where=text("project_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # NULL: a system-wide policy, matched against every project's events.
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    targets: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Dockhook's extension (app.services.policy_filters): repositories, tags, media_types, operators; NULL: none.
    filters: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    creator: Mapped[str] = mapped_column(String(255), default="")
    creation_time: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    update_time: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)
    # One row per subscribed event type, kept in step with ``event_types``: matching an event is an index
    # lookup, whatever the size or number of the project's other policies.
    subscriptions: Mapped[list[PolicyEventType]] = relationship(cascade="all, delete-orphan", passive_deletes=True)

    @validates("event_types")
    def _subscribe(self, _key: str, event_types: list[str]) -> list[str]:
        project_id = self.project_id
        self.subscriptions = [PolicyEventType(event_type=t, project_id=project_id) for t in dict.fromkeys(event_types)]
        return event_types

    @validates("project_id")
    def _move_subscriptions(self, _key: str, project_id: int | None) -> int | None:
        for subscription in self.__dict__.get("subscriptions", []):
            subscription.project_id = project_id
        return project_id


class PolicyEventType(Base):
    """A policy's subscription to one event type (the index of ``WebhookPolicy.event_types``), with the
    policy's project, so that matching reads exactly the subscriptions of one (project, event type)."""

    __tablename__ = "policy_event_types"
    __table_args__ = (Index("ix_policy_event_types_project_type", "project_id", "event_type"),)

    policy_id: Mapped[int] = mapped_column(ForeignKey("webhook_policies.id", ondelete="CASCADE"), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    # NULL for a system-wide policy's subscriptions.
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
