"""Access log: one row per kept registry push, pull or delete (the registry event id is unique)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.models.base import Base, UTCDateTime


class AccessLog(Base):
    __tablename__ = "access_logs"
    __table_args__ = (
        Index("ix_access_logs_project_time", "project_id", "op_time", "id"),
        Index("ix_access_logs_project_repo_time", "project_id", "repo_name", "op_time"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    repo_name: Mapped[str] = mapped_column(String(512))
    repo_tag: Mapped[str] = mapped_column(String(255), default="")
    digest: Mapped[str] = mapped_column(String(255), default="")
    operation: Mapped[str] = mapped_column(String(16))
    username: Mapped[str] = mapped_column(String(255))
    op_time: Mapped[datetime] = mapped_column(UTCDateTime)
    # The dedupe key for registry re-sends: every kept registry event writes exactly one row.
    registry_event_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    registry_request_id: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(512), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
