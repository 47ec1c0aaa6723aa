"""Hook-job reads for the API and the operators: by uuid, attempts, filtered pages, a policy's failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select

from app.extensions import db
from app.models import HookAttempt, HookJob, HookJobTotal
from app.services import query as paging
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


def page(project_id: int | None, page: int, page_size: int, filters: JobFilter) -> tuple[list[HookJob], int]:
    """One page of a project's hook jobs (None: the system-wide policies'), newest first, and the total that match
    ``filters``."""
    query = select(HookJob).where(HookJob.project_id == project_id)
    if filters.status:
        query = query.where(HookJob.status.in_(filters.status))
    if filters.event_type:
        query = query.where(HookJob.event_type == filters.event_type)
    if filters.policy_id is not None:
        query = query.where(HookJob.policy_id == filters.policy_id)
    if filters.since is not None:
        query = query.where(HookJob.creation_time >= filters.since)
    plain = not (filters.status or filters.event_type or filters.since is not None)
    total = totals(project_id, filters.policy_id) if plain else paging.count(query)
    rows = db.session.scalars(
        paging.paged(query.order_by(HookJob.creation_time.desc(), HookJob.id.desc()), page, page_size)
    )
    return list(rows), total


_TOTAL = select(func.coalesce(func.sum(HookJobTotal.jobs), 0)).where(HookJobTotal.project_key == bindparam("project"))
_POLICY_TOTAL = _TOTAL.where(HookJobTotal.policy_key == bindparam("policy"))


def totals(project_id: int | None, policy_id: int | None = None) -> int:
    """How many hook jobs the project has (None: the system-wide policies'), only ``policy_id``'s when given: the
    sum of a few rows the database's triggers keep (app.models.HookJobTotal), however many jobs there are."""
    project = 0 if project_id is None else project_id
    if policy_id is None:
        return int(db.session.scalar(_TOTAL, {"project": project}) or 0)
    if policy_id <= 0:  # key 0 stands for "no policy": no job has policy 0
        return 0
    return int(db.session.scalar(_POLICY_TOTAL, {"project": project, "policy": policy_id}) or 0)


def of_policy(project_id: int, policy_id: int, job_id: int) -> HookJob:
    """Hook job ``job_id`` of that policy in that project; raises NotFound otherwise."""
    job = db.session.get(HookJob, job_id)
    if job is None or job.project_id != project_id or job.policy_id != policy_id:
        raise NotFound(f"execution {job_id} of policy {policy_id} not found")
    return job
