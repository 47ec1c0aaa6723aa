"""Hook job: one delivery of one event to one policy target; attempt: one HTTP try of it."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Dialect, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from app import clock
from app.models.base import Base, UTCDateTime


class HookJobStatus(StrEnum):
    PENDING = "pending"  # committed; maybe not yet in Redis
    SCHEDULED = "scheduled"  # a retry is due at next_attempt_at
    RUNNING = "running"  # claimed by a worker until lease_expires_at
    SUCCESS = "success"
    ERROR = "error"  # gave up: permanent failure or attempts exhausted
    STOPPED = "stopped"  # cancelled


FINAL_STATUSES = frozenset({HookJobStatus.SUCCESS, HookJobStatus.ERROR, HookJobStatus.STOPPED})


class StatusType(TypeDecorator[HookJobStatus]):
    """A status column: ``String(16)`` in the database, a :class:`HookJobStatus` in Python."""

    impl = String(16)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        # Any string binds (a filter value the API validated, or one that simply matches nothing).
        return None if value is None else str(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> HookJobStatus | None:
        return None if value is None else HookJobStatus(value)


def new_uuid() -> str:
    return str(uuid.uuid4())


class HookJob(Base):
    """``payload`` holds the exact bytes to send (decoded UTF-8); ``target`` is a snapshot taken at creation,
    without credentials (type, address, skip_cert_verify, payload_format): those stay on the policy."""

    __tablename__ = "hook_jobs"
    __table_args__ = (
        Index("ix_hook_jobs_project_created", "project_id", "creation_time", "id"),
        Index("ix_hook_jobs_policy_created", "policy_id", "creation_time", "id"),
        Index("ix_hook_jobs_status_next", "status", "next_attempt_at"),
        Index("ix_hook_jobs_event", "event_id"),
        Index("ix_hook_jobs_status_lease", "status", "lease_expires_at"),
        Index("ix_hook_jobs_finished", "finished_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    # Deleting a policy keeps its delivery history: "did my webhook fire?" outlives the policy.
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_policies.id", ondelete="SET NULL"))
    policy_name: Mapped[str] = mapped_column(String(256), default="")
    # The policy's project; NULL for a job of a system-wide policy (only system admins see those; the event's
    # project is the event row's).
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(64))
    notify_type: Mapped[str] = mapped_column(String(16))
    target_index: Mapped[int] = mapped_column(Integer, default=0)
    target: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_type: Mapped[str] = mapped_column(String(64), default="application/json")
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[HookJobStatus] = mapped_column(StatusType(), default=HookJobStatus.PENDING)
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=1)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the sweeper last put it on a queue (the receiver's own enqueue is not recorded).
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "auto" for the retry series, "manual" while a redelivery someone asked for is in flight.
    trigger: Mapped[str] = mapped_column(String(16), default="auto")
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text, default="")
    final_reason: Mapped[str] = mapped_column(Text, default="")
    creation_time: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    update_time: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The account that last redelivered, stopped or recovered it by hand ("" for none). A server default, so
    # inserts that do not name it (the receiver's, and rows written under older revisions) need not know it.
    operator: Mapped[str] = mapped_column(String(520), server_default="")


class HookAttempt(Base):
    """One HTTP try. Never holds a secret: no request headers are stored, only what came back."""

    __tablename__ = "hook_attempts"
    __table_args__ = (Index("ix_hook_attempts_job", "hook_job_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hook_job_id: Mapped[int] = mapped_column(ForeignKey("hook_jobs.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text, default="")
    error_class: Mapped[str] = mapped_column(String(64), default="")
    error_message: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(16))


class HookJobTotal(Base):
    """How many hook jobs a project's policy has: a list's ``X-Total-Count`` without counting a million rows.

    Written only by the database's triggers on ``hook_jobs`` (migration 0012): every insert, delete (the retention
    sweep, a cascade) and move (a deleted policy's jobs keep their project, ``policy_id`` NULL) adds its rows'
    count here in the same transaction, so the sum is exact whenever the rows are. A job of no project or no policy
    counts under key 0. On PostgreSQL each connection adds to a shard of its own (``pg_backend_pid() % 16``), so
    concurrent receivers never wait on each other's row; a total is the sum of the shards (and may be negative in
    one shard: deletes land in the deleter's). Only the triggers and ``flask hooks recount`` write it; the lists
    read the sum (app.services.hook_job_queries.totals).
    """

    __tablename__ = "hook_job_totals"

    project_key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    policy_key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    jobs: Mapped[int] = mapped_column(BigInteger)
