"""The sweeper: re-enqueue what Redis lost, retries that are due and jobs whose worker died; purge old history.

Safe to run on several machines at once: the database steps (app.services.sweeps) claim rows in
short transactions that two sweepers never share, and Redis is called only after they commit.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import FrameType

from app import clock, metrics, queue
from app.config import Settings
from app.extensions import db
from app.services import hook_jobs, rejected, sweeps
from app.services.health import HEARTBEAT_TTL

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


def sweep_once(settings: Settings, now: datetime | None = None, batch: int = BATCH) -> SweepStats:
    """One pass: expired leases first (they become due retries), then every due job not waiting in Redis.

    Each database step commits before Redis is asked anything (app.services.sweeps).
    """
    now = now or clock.now()
    stats = SweepStats()
    stats.expired = sweeps.expire_leases(settings.retry_schedule, settings.job_timeout, now, batch)
    if settings.redis_url is None:
        return stats
    due = sweeps.claim_due(settings.sweep_grace, settings.job_timeout, now, batch)
    if not due:
        return stats
    try:
        waiting = queue.waiting(settings.redis_url, [job.uuid for job in due])
        items = [
            queue.Delivery(job.id, job.uuid, queue.queue_for(job.notify_type, retry=job.retry), job.target_key)
            for job in due
            if job.uuid not in waiting
        ]
        queue.enqueue_deliveries(settings.redis_url, items, settings.job_timeout)
    except queue.QueueUnavailable as exc:
        sweeps.release([job.id for job in due], now)
        stats.redis_error = str(exc)
        return stats
    stats.enqueued, stats.waiting = len(items), len(waiting)
    return stats


def purge(settings: Settings, now: datetime | None = None) -> tuple[int, int, int]:
    """Delete ended hook jobs (and their attempts) and rejected notifications older than the retention period.
    Returns (hook jobs, attempts, rejected notifications) deleted."""
    before = (now or clock.now()) - timedelta(days=settings.retention_days)
    jobs, attempts = hook_jobs.purge(before)
    return jobs, attempts, rejected.purge(before)


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
    name = f"{socket.gethostname()}:{os.getpid()}"
    while not stopping:
        started = time.monotonic()
        if not once and settings.redis_url is not None:
            # Alive for a few intervals: a missed beat or a slow pass is not yet "the sweeper is not running".
            queue.beat(settings.redis_url, "sweeper", name, max(HEARTBEAT_TTL, 3 * every))
        try:
            stats = sweep_once(settings)
            metrics.SWEEPER_ACTIONS.labels("expired").inc(stats.expired)
            metrics.SWEEPER_ACTIONS.labels("enqueued").inc(stats.enqueued)
            if stats:
                log.info(
                    "sweep: %d leases expired, %d enqueued, %d already waiting%s",
                    stats.expired,
                    stats.enqueued,
                    stats.waiting,
                    f", Redis unavailable: {stats.redis_error}" if stats.redis_error else "",
                )
            if started - last_purge >= PURGE_EVERY or once:
                jobs, attempts, kept_aside = purge(settings)
                metrics.SWEEPER_ACTIONS.labels("purged").inc(jobs + kept_aside)
                last_purge = started
                if jobs or kept_aside:
                    log.info(
                        "purge: %d hook jobs, %d attempts and %d rejected notifications older than %d days",
                        jobs,
                        attempts,
                        kept_aside,
                        settings.retention_days,
                    )
        except Exception:
            metrics.SWEEPER_ACTIONS.labels("failed").inc()
            db.session.rollback()
            log.exception("sweep failed; retrying in %s s", every)
        finally:
            db.session.remove()
        if once:
            return
        while not stopping and time.monotonic() - started < every:
            time.sleep(min(0.2, every))
