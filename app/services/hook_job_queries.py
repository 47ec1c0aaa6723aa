"""Hook-job reads for the API and the operators: by uuid, attempts, filtered pages, a policy's failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from app.extensions import db
from app.models import HookAttempt, HookJob, HookJobStatus
from app.services.errors import NotFound


def by_uuid(uuid: str) -> HookJob | None:
    """The job with this uuid, freshly read (status UPDATEs here bypass the session's copies)."""
    return db.session.scalar(select(HookJob).where(HookJob.uuid == uuid).execution_options(populate_existing=True))


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


def failed_of_policy(policy_id: int, since: datetime, until: datetime | None) -> list[HookJob]:
    """The policy's jobs that ended in ``error``, created in [since, until)."""
    query = select(HookJob).where(
        HookJob.policy_id == policy_id, HookJob.status == HookJobStatus.ERROR, HookJob.creation_time >= since
    )
    if until is not None:
        query = query.where(HookJob.creation_time < until)
    return list(db.session.scalars(query.order_by(HookJob.id)))
