"""Artifact and tag: the manifests seen in a repository and the tags that point at them.

Deletes arrive as a bare digest followed by one bare tag per tag; these records are how
Dockhook knows a deleted digest was a manifest and which tags went with it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.models.base import Base, UTCDateTime


class Artifact(Base):
    __tablename__ = "artifacts"
    __table_args__ = (UniqueConstraint("repository_id", "digest", name="uq_artifacts_repository_digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    digest: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(255), default="")
    size: Mapped[int | None] = mapped_column(BigInteger)
    push_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pull_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    creation_time: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("repository_id", "name", name="uq_tags_repository_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    artifact_id: Mapped[int] = mapped_column(ForeignKey("artifacts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    push_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
