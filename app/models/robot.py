"""Robot account: a named credential with explicit permissions, at system or project level."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.models.base import Base, UTCDateTime


class Robot(Base):
    """``name`` is the short name; the full one is ``robot$<name>`` (system) or ``robot$<project>+<name>``.
    ``secret_hash`` is an Argon2id hash of the secret, which is shown once and never stored.
    ``permissions`` is Harbor's list ``[{kind, namespace, access: [{resource, action}]}]``."""

    __tablename__ = "robots"
    __table_args__ = (UniqueConstraint("full_name", name="uq_robots_full_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(520))
    level: Mapped[str] = mapped_column(String(16))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    description: Mapped[str] = mapped_column(String(1024), default="")
    secret_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    duration: Mapped[int] = mapped_column(Integer, default=-1)
    # Epoch seconds, as Harbor shows it; -1: never.
    expires_at: Mapped[int] = mapped_column(Integer, default=-1)
    permissions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    creator: Mapped[str] = mapped_column(String(255), default="")
    creation_time: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    update_time: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)

    def __repr__(self) -> str:
        return f"Robot(id={self.id!r}, full_name={self.full_name!r}, disabled={self.disabled!r})"
