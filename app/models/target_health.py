"""Endpoint health: per policy target, the current run of failures and hourly attempt counts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime


class TargetHealth(Base):
    """One row per (policy, target), the target named by ``target_key`` (a digest of its type and address, so
    the row follows the target when targets are reordered and starts afresh when its address changes)."""

    __tablename__ = "target_health"

    policy_id: Mapped[int] = mapped_column(ForeignKey("webhook_policies.id", ondelete="CASCADE"), primary_key=True)
    target_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    # The first failure after the last success (None while the last attempt succeeded).
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TargetAttemptHour(Base):
    """Attempts and successes of one target in one hour: the 24-hour success rate reads at most 24 of these."""

    __tablename__ = "target_attempt_hours"

    policy_id: Mapped[int] = mapped_column(ForeignKey("webhook_policies.id", ondelete="CASCADE"), primary_key=True)
    target_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    successes: Mapped[int] = mapped_column(Integer, default=0)
