"""Hook-job reads for the API and the operators: by uuid, attempts, filtered pages, a policy's failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, bindparam, delete, func, insert, select, text

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


def recount() -> int:
    """Count every project's and policy's hook jobs again and replace the kept totals with that count, in one
    transaction that writers of ``hook_jobs`` wait for (for an operator after a restore that left the totals out:
    ``flask --app wsgi hooks recount``). Returns how many (project, policy) totals were wrong; commits."""
    if db.session.get_bind().dialect.name == "postgresql":
        # SHARE: every transaction writing hook_jobs has committed (their triggers' counts with it), and none
        # starts until this one commits; readers go on. (SQLite's transactions here take its only write lock at
        # their first statement: BEGIN IMMEDIATE, app/__init__.py.)
        db.session.execute(text("LOCK TABLE hook_jobs IN SHARE MODE"))
    before = _by_key(select(HookJobTotal.project_key, HookJobTotal.policy_key, func.sum(HookJobTotal.jobs)))
    db.session.execute(delete(HookJobTotal))
    project_key, policy_key = func.coalesce(HookJob.project_id, 0), func.coalesce(HookJob.policy_id, 0)
    after = _by_key(select(project_key, policy_key, func.count()))
    if after:
        rows = [{"project_key": p, "policy_key": q, "shard": 0, "jobs": n} for (p, q), n in after.items()]
        db.session.execute(insert(HookJobTotal), rows)
    db.session.commit()
    return sum(1 for key in before.keys() | after.keys() if before.get(key, 0) != after.get(key, 0))


def _by_key(statement: Select[int, int, int]) -> dict[tuple[int, int], int]:
    """``statement``'s (project key, policy key, count) rows, grouped by its two keys; keys of 0 left out."""
    project, policy = statement.selected_columns[0], statement.selected_columns[1]
    rows = db.session.execute(statement.group_by(project, policy))
    return {(int(p), int(q)): int(n) for p, q, n in rows if n}


def of_policy(project_id: int, policy_id: int, job_id: int) -> HookJob:
    """Hook job ``job_id`` of that policy in that project; raises NotFound otherwise."""
    job = db.session.get(HookJob, job_id)
    if job is None or job.project_id != project_id or job.policy_id != policy_id:
        raise NotFound(f"execution {job_id} of policy {policy_id} not found")
    return job
