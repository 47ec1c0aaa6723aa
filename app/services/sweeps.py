"""What the sweeper changes in the database, one short transaction each: expired leases, due jobs claimed.

Redis is never called here, so no row lock is held while Redis answers (or hangs): the sweeper
claims due jobs (``enqueued_at``) and commits, then enqueues, and gives the claim back if Redis
refused. Several sweepers never take the same rows: on PostgreSQL batches are read ``FOR UPDATE
SKIP LOCKED``; on SQLite a sweep's first write takes the database's write lock (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, or_, select, update

from app import queue
from app.extensions import db
from app.models import HookJob, HookJobStatus
from app.services import hook_jobs


@dataclass(frozen=True)
class DueJob:
    id: int
    uuid: str
    notify_type: str
    retry: bool  # a scheduled retry (it goes to the lower-priority retry queue)
    target_key: str = ""


def _locked(query: Select) -> Select:  # type: ignore[type-arg]
    if db.engine.dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True, of=HookJob)
    return query


def expire_leases(schedule: tuple[int, ...], lease_seconds: int, now: datetime, batch: int) -> int:
    """Running jobs whose lease ran out get a ``worker_lost`` attempt and become due (or end); commit.
    Returns how many were expired."""
    expired = db.session.scalars(
        _locked(
            select(HookJob)
            .where(HookJob.status == HookJobStatus.RUNNING, HookJob.lease_expires_at <= now)
            .order_by(HookJob.id)
            .limit(batch)
        )
    ).all()
    count = sum(1 for job in expired if hook_jobs.expire_lease(job, schedule, lease_seconds, now))
    db.session.commit()
    return count


def claim_due(grace: int, lease_seconds: int, now: datetime, batch: int) -> list[DueJob]:
    """Claim jobs that should be on a queue and may not be: ``pending`` older than ``grace`` seconds and
    ``scheduled`` ones whose time has come, not claimed in the last lease period. Sets ``enqueued_at`` and
    commits, so no other sweeper takes them while this one talks to Redis."""
    rows = db.session.execute(
        _locked(
            select(HookJob.id, HookJob.uuid, HookJob.notify_type, HookJob.status, HookJob.target)
            .where(
                or_(
                    and_(
                        HookJob.status == HookJobStatus.PENDING, HookJob.creation_time <= now - timedelta(seconds=grace)
                    ),
                    and_(HookJob.status == HookJobStatus.SCHEDULED, HookJob.next_attempt_at <= now),
                ),
                or_(HookJob.enqueued_at.is_(None), HookJob.enqueued_at <= now - timedelta(seconds=lease_seconds)),
            )
            .order_by(HookJob.id)
            .limit(batch)
        )
    ).all()
    hook_jobs.mark_enqueued([row.id for row in rows], now)
    db.session.commit()
    return [
        DueJob(
            row.id,
            row.uuid,
            row.notify_type,
            row.status == HookJobStatus.SCHEDULED,
            queue.target_key(str(row.target.get("address", ""))),
        )
        for row in rows
    ]


def release(ids: list[int], claimed_at: datetime) -> None:
    """Give back claims Redis did not take (the next sweep tries them at once); commit."""
    if ids:
        db.session.execute(
            update(HookJob)
            .where(HookJob.id.in_(ids), HookJob.enqueued_at == claimed_at)
            .values(enqueued_at=None)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
