"""The sweeper: re-enqueue what Redis lost, retries that are due and jobs whose worker died; purge old history.

Safe to run on several machines at once: on PostgreSQL each batch is read ``FOR UPDATE SKIP
LOCKED``, so two sweepers never take the same rows; on SQLite the first write of a sweep
takes the database's write lock (``BEGIN IMMEDIATE``), which makes sweeps one at a time.
"""

from __future__ import annotations

import logging
import signal
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import FrameType

from sqlalchemy import Select, and_, or_, select

from app import clock, queue
from app.config import Settings
from app.extensions import db
from app.models import HookJob, HookJobStatus
from app.services import hook_jobs

log = logging.getLogger(__name__)

BATCH = 500
PURGE_EVERY = 3600.0


@dataclass
class SweepStats:
    expired: int = 0
    enqueued: int = 0
    waiting: int = 0
    redis_error: str = ""

    def __bool__(self) -> bool:
        return bool(self.expired or self.enqueued or self.redis_error)


def _locked(query: Select) -> Select:  # type: ignore[type-arg]
    if db.engine.dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True, of=HookJob)
    return query


def sweep_once(settings: Settings, now: datetime | None = None, batch: int = BATCH) -> SweepStats:
    """One pass: expired leases first (they become due retries), then every due job not waiting in Redis."""
    now = now or clock.now()
    stats = SweepStats()
    expired = db.session.scalars(
        _locked(
            select(HookJob)
            .where(HookJob.status == HookJobStatus.RUNNING, HookJob.lease_expires_at <= now)
            .order_by(HookJob.id)
            .limit(batch)
        )
    ).all()
    for job in expired:
        if hook_jobs.expire_lease(job, settings.retry_schedule, settings.job_timeout, now):
            stats.expired += 1
    db.session.commit()

    not_recently_queued = or_(
        HookJob.enqueued_at.is_(None), HookJob.enqueued_at <= now - timedelta(seconds=settings.job_timeout)
    )
    due = db.session.execute(
        _locked(
            select(HookJob.id, HookJob.uuid, HookJob.notify_type, HookJob.status)
            .where(
                or_(
                    and_(
                        HookJob.status == HookJobStatus.PENDING,
                        HookJob.creation_time <= now - timedelta(seconds=settings.sweep_grace),
                    ),
                    and_(HookJob.status == HookJobStatus.SCHEDULED, HookJob.next_attempt_at <= now),
                ),
                not_recently_queued,
            )
            .order_by(HookJob.id)
            .limit(batch)
        )
    ).all()
    if not due or settings.redis_url is None:
        db.session.commit()
        return stats
    try:
        waiting = queue.waiting(settings.redis_url, [row.uuid for row in due])
        items = [
            (row.id, row.uuid, queue.queue_for(row.notify_type, retry=row.status == HookJobStatus.SCHEDULED))
            for row in due
            if row.uuid not in waiting
        ]
        queue.enqueue_deliveries(settings.redis_url, items, settings.job_timeout)
    except queue.QueueUnavailable as exc:
        db.session.rollback()
        stats.redis_error = str(exc)
        return stats
    # Mark the waiting ones too: they need no look in Redis for another lease period.
    hook_jobs.mark_enqueued([row.id for row in due], now)
    db.session.commit()
    stats.enqueued, stats.waiting = len(items), len(waiting)
    return stats


def purge(settings: Settings, now: datetime | None = None) -> tuple[int, int]:
    """Delete ended hook jobs (and their attempts) older than the retention period."""
    now = now or clock.now()
    return hook_jobs.purge(now - timedelta(days=settings.retention_days))


def run(settings: Settings, every: float, once: bool = False) -> None:
    """Sweep every ``every`` seconds until SIGTERM/SIGINT (or once); purge history once an hour.

    A failing pass (database or Redis down) is logged and retried at the next tick.
    """
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    if not once:
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    last_purge = 0.0
    while not stopping:
        started = time.monotonic()
        try:
            stats = sweep_once(settings)
            if stats:
                log.info(
                    "sweep: %d leases expired, %d enqueued, %d already waiting%s",
                    stats.expired,
                    stats.enqueued,
                    stats.waiting,
                    f", Redis unavailable: {stats.redis_error}" if stats.redis_error else "",
                )
            if started - last_purge >= PURGE_EVERY or once:
                jobs, attempts = purge(settings)
                last_purge = started
                if jobs:
                    log.info(
                        "purge: %d hook jobs and %d attempts older than %d days",
                        jobs,
                        attempts,
                        settings.retention_days,
                    )
        except Exception:
            db.session.rollback()
            log.exception("sweep failed; retrying in %s s", every)
        finally:
            db.session.remove()
        if once:
            return
        while not stopping and time.monotonic() - started < every:
            time.sleep(min(0.2, every))
