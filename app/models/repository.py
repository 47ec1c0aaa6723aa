"""Repository: a full repository name with its pull and push counters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.models.base import Base, UTCDateTime


class Repository(Base):
    __tablename__ = "repositories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(512), unique=True)
    pull_count: Mapped[int] = mapped_column(Integer, default=0)
    push_count: Mapped[int] = mapped_column(Integer, default=0)
    last_push_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_pull_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    creation_time: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    update_time: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)
