"""Hook jobs: creation in the event's transaction, enqueue after commit, and the status machine.

Every status change is one guarded UPDATE (``... WHERE id = :id AND status IN (...)``): a late or
duplicate worker run changes nothing, so status never moves backwards (DESIGN §2.5).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from app import queue
from app.extensions import db
from app.models import HookAttempt, HookJob, HookJobStatus, WebhookPolicy, utcnow
from app.services.errors import NotFound

log = logging.getLogger(__name__)

_NEW_JOBS = "dockhook.new_hook_jobs"
RESPONSE_BODY_CAP = 16 * 1024
CLAIMABLE = (HookJobStatus.PENDING, HookJobStatus.SCHEDULED)


@dataclass(frozen=True)
class NewJob:
    id: int
    uuid: str
    notify_type: str


def create(
    *,
    event_id: int,
    project_id: int,
    policy: WebhookPolicy,
    target_index: int,
    target: dict[str, Any],
    event_type: str,
    payload: str,
    content_type: str,
    uuid: str | None = None,
) -> HookJob:
    """Add a ``pending`` hook job to the current transaction; it is enqueued by :func:`enqueue_new` after commit."""
    job = HookJob(
        event_id=event_id,
        project_id=project_id,
        policy_id=policy.id,
        policy_name=policy.name,
        target_index=target_index,
        target=dict(target),
        event_type=event_type,
        notify_type=str(target.get("type", "http")),
        payload=payload,
        content_type=content_type,
        status=HookJobStatus.PENDING,
        attempt_count=0,
        max_attempts=1,
    )
    if uuid is not None:
        job.uuid = uuid
    db.session.add(job)
    db.session.flush()
    db.session.info.setdefault(_NEW_JOBS, []).append(NewJob(job.id, job.uuid, job.notify_type))
    return job


def take_new() -> list[NewJob]:
    """The hook jobs created in the transaction just committed (and forget them)."""
    return list(db.session.info.pop(_NEW_JOBS, []))


def forget_new() -> None:
    """Drop the list after a rollback: those rows were never committed."""
    db.session.info.pop(_NEW_JOBS, None)


def enqueue_new(redis_url: str | None, job_timeout: int) -> int:
    """Enqueue the jobs of the committed transaction; return how many reached Redis.

    Commit, then enqueue: if Redis is down the rows stay ``pending`` and the sweeper enqueues
    them later; the caller's answer (200 to the registry) does not depend on Redis.
    """
    jobs = take_new()
    if not jobs:
        return 0
    if redis_url is None:
        log.warning("REDIS_URL is not set: %d hook jobs stay pending", len(jobs))
        return 0
    try:
        queue.enqueue_deliveries(redis_url, [(j.id, j.uuid, j.notify_type) for j in jobs], job_timeout)
    except queue.QueueUnavailable as exc:
        log.warning("Redis unavailable, %d hook jobs stay pending for the sweeper: %s", len(jobs), exc)
        return 0
    return len(jobs)


def claim(hook_job_id: int, lease_seconds: int, now: datetime | None = None) -> HookJob | None:
    """Take the job for one attempt: ``pending|scheduled → running`` with a lease; commit.

    Returns None (and changes nothing) when the job is final, already running elsewhere, or gone.
    """
    now = now or utcnow()
    result = db.session.execute(
        update(HookJob)
        .where(HookJob.id == hook_job_id, HookJob.status.in_([str(s) for s in CLAIMABLE]))
        .values(
            status=HookJobStatus.RUNNING,
            attempt_count=HookJob.attempt_count + 1,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            next_attempt_at=None,
            update_time=now,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return db.session.get(HookJob, hook_job_id, populate_existing=True)


@dataclass(frozen=True)
class AttemptResult:
    """What one HTTP try came back with. Never carries request headers (they hold secrets)."""

    started_at: datetime
    duration_ms: int
    status_code: int | None = None
    response_body: str = ""
    error_class: str = ""
    error_message: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300 and not self.error_class


def finish_attempt(job: HookJob, result: AttemptResult, now: datetime | None = None) -> bool:
    """Record the attempt and move ``running → success|error``; commit.

    Guarded on ``status = running`` and on the attempt number this worker claimed, so a worker
    whose lease was taken over cannot overwrite the newer attempt. Returns whether it applied.
    """
    now = now or utcnow()
    succeeded = result.succeeded
    status = HookJobStatus.SUCCESS if succeeded else HookJobStatus.ERROR
    reason = "" if succeeded else _describe(result)
    applied = db.session.execute(
        update(HookJob)
        .where(
            HookJob.id == job.id,
            HookJob.status == HookJobStatus.RUNNING,
            HookJob.attempt_count == job.attempt_count,
        )
        .values(
            status=status,
            last_status_code=result.status_code,
            last_error=reason,
            final_reason="delivered" if succeeded else reason,
            lease_expires_at=None,
            finished_at=now,
            update_time=now,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.add(
        HookAttempt(
            hook_job_id=job.id,
            number=job.attempt_count,
            started_at=result.started_at,
            duration_ms=result.duration_ms,
            status_code=result.status_code,
            response_body=result.response_body[:RESPONSE_BODY_CAP],
            error_class=result.error_class,
            error_message=result.error_message,
            outcome=str(status),
        )
    )
    db.session.commit()
    return bool(applied.rowcount == 1)  # type: ignore[attr-defined]


def _describe(result: AttemptResult) -> str:
    if result.error_class and result.status_code is None:
        return f"{result.error_class}: {result.error_message}"
    return f"HTTP {result.status_code}" + (f" ({result.error_class})" if result.error_class else "")


def by_uuid(uuid: str) -> HookJob | None:
    return db.session.scalar(select(HookJob).where(HookJob.uuid == uuid))


def attempts(job_id: int) -> list[HookAttempt]:
    return list(
        db.session.scalars(select(HookAttempt).where(HookAttempt.hook_job_id == job_id).order_by(HookAttempt.id))
    )


@dataclass(frozen=True)
class JobFilter:
    status: list[str] | None = None
    event_type: str | None = None
    policy_id: int | None = None
    since: datetime | None = None


def page(project_id: int, page: int, page_size: int, filters: JobFilter) -> tuple[list[HookJob], int]:
    """One page of a project's hook jobs, newest first, and the total that match ``filters``."""
    query = select(HookJob).where(HookJob.project_id == project_id)
    if filters.status:
        query = query.where(HookJob.status.in_(filters.status))
    if filters.event_type:
        query = query.where(HookJob.event_type == filters.event_type)
    if filters.policy_id is not None:
        query = query.where(HookJob.policy_id == filters.policy_id)
    if filters.since is not None:
        query = query.where(HookJob.creation_time >= filters.since)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(
        query.order_by(HookJob.creation_time.desc(), HookJob.id.desc()).limit(page_size).offset((page - 1) * page_size)
    )
    return list(rows), total


def of_policy(project_id: int, policy_id: int, job_id: int) -> HookJob:
    """Hook job ``job_id`` of that policy in that project; raises NotFound otherwise."""
    job = db.session.get(HookJob, job_id)
    if job is None or job.project_id != project_id or job.policy_id != policy_id:
        raise NotFound(f"execution {job_id} of policy {policy_id} not found")
    return job
