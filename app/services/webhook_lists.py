"""Harbor's webhook lists with ``q`` and ``sort``: a project's policies, a policy's executions and their tasks,
and the legacy jobs list. Also the one mapping of hook-job statuses to Harbor's words for each view."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Select, select

from app.extensions import db
from app.models import HookJob, HookJobStatus, Project, WebhookPolicy
from app.services import hook_job_queries, query
from app.services.query import Key, Kind

# Our status → the word each Harbor view shows. An execution is Running while its one task has not ended.
TASK_STATUS: dict[str, str] = {s: s.capitalize() for s in HookJobStatus}
EXECUTION_STATUS: dict[str, str] = {**TASK_STATUS, HookJobStatus.PENDING: "Running", HookJobStatus.SCHEDULED: "Running"}
LEGACY_STATUS: dict[str, str] = {**{s: str(s) for s in HookJobStatus}, HookJobStatus.SUCCESS: "finished"}


def words(shown: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """The inverse of a status mapping: each word → the statuses it stands for."""
    result: dict[str, list[str]] = {}
    for status, word in shown.items():
        result.setdefault(word, []).append(str(status))
    return {word: tuple(statuses) for word, statuses in result.items()}


POLICY_KEYS: dict[str, Key] = {
    "id": Key(WebhookPolicy.id, Kind.INTEGER),
    "name": Key(WebhookPolicy.name, Kind.TEXT),
    "description": Key(WebhookPolicy.description, Kind.TEXT),
    "enabled": Key(WebhookPolicy.enabled, Kind.BOOLEAN),
    "creator": Key(WebhookPolicy.creator, Kind.TEXT),
    "creation_time": Key(WebhookPolicy.creation_time, Kind.TIME),
    "update_time": Key(WebhookPolicy.update_time, Kind.TIME),
}
EXECUTION_KEYS: dict[str, Key] = {
    "id": Key(HookJob.id, Kind.INTEGER),
    "status": Key(HookJob.status, Kind.WORD, words(EXECUTION_STATUS)),
    "vendor_type": Key(HookJob.notify_type, Kind.WORD, {"WEBHOOK": ("http",), "SLACK": ("slack",)}),
    "event_type": Key(HookJob.event_type, Kind.TEXT),
    "start_time": Key(HookJob.creation_time, Kind.TIME),
    "end_time": Key(HookJob.finished_at, Kind.TIME),
}
TASK_KEYS: dict[str, Key] = {
    "id": Key(HookJob.id, Kind.INTEGER),
    "status": Key(HookJob.status, Kind.WORD, words(TASK_STATUS)),
    "run_count": Key(HookJob.attempt_count, Kind.INTEGER),
    "creation_time": Key(HookJob.creation_time, Kind.TIME),
    "update_time": Key(HookJob.update_time, Kind.TIME),
    "start_time": Key(HookJob.creation_time, Kind.TIME),
    "end_time": Key(HookJob.finished_at, Kind.TIME),
}
LEGACY_JOB_KEYS: dict[str, Key] = {
    "id": Key(HookJob.id, Kind.INTEGER),
    "status": Key(HookJob.status, Kind.WORD, {**words(LEGACY_STATUS), **words({s: s for s in HookJobStatus})}),
    "event_type": Key(HookJob.event_type, Kind.TEXT),
    "notify_type": Key(HookJob.notify_type, Kind.TEXT),
    "creation_time": Key(HookJob.creation_time, Kind.TIME),
    "update_time": Key(HookJob.update_time, Kind.TIME),
}
NEWEST_JOBS_FIRST = (HookJob.creation_time.desc(), HookJob.id.desc())


def policies(
    project: Project | None, page: int, page_size: int, q: str | None = None, sort: str | None = None
) -> tuple[list[WebhookPolicy], int]:
    """One page of ``project``'s policies (None: the system-wide ones), newest first unless ``sort`` says, and the
    total matching ``q``."""
    owner = WebhookPolicy.project_id == project.id if project is not None else WebhookPolicy.project_id.is_(None)
    statement = query.filtered(select(WebhookPolicy).where(owner), POLICY_KEYS, q)
    statement = query.ordered(
        statement, POLICY_KEYS, sort, [WebhookPolicy.creation_time.desc(), WebhookPolicy.id.desc()]
    )
    return list(db.session.scalars(query.paged(statement, page, page_size))), query.count(statement)


def executions(
    policy: WebhookPolicy, page: int, page_size: int, q: str | None = None, sort: str | None = None
) -> tuple[list[HookJob], int]:
    """One page of the policy's executions (its hook jobs), newest first unless ``sort`` says, and the total."""
    base = select(HookJob).where(HookJob.project_id == policy.project_id, HookJob.policy_id == policy.id)
    return _jobs(base, EXECUTION_KEYS, page, page_size, q, sort, policy)


def tasks(
    job: HookJob, page: int, page_size: int, q: str | None = None, sort: str | None = None
) -> tuple[list[HookJob], int]:
    """The execution's tasks (one: the hook job itself, unless ``q`` rules it out), and the total."""
    return _jobs(select(HookJob).where(HookJob.id == job.id), TASK_KEYS, page, page_size, q, sort)


def legacy_jobs(
    policy: WebhookPolicy,
    page: int,
    page_size: int,
    statuses: Sequence[str] | None = None,
    q: str | None = None,
    sort: str | None = None,
) -> tuple[list[HookJob], int]:
    """One page of the policy's hook jobs for Harbor's legacy jobs list, narrowed to ``statuses`` (ours)."""
    base = select(HookJob).where(HookJob.project_id == policy.project_id, HookJob.policy_id == policy.id)
    if statuses:
        base = base.where(HookJob.status.in_(statuses))
    return _jobs(base, LEGACY_JOB_KEYS, page, page_size, q, sort, None if statuses else policy)


def _jobs(
    base: Select[HookJob],
    keys: Mapping[str, Key],
    page: int,
    page_size: int,
    q: str | None,
    sort: str | None,
    every_job_of: WebhookPolicy | None = None,
) -> tuple[list[HookJob], int]:
    """A page of ``base`` and its total; ``every_job_of``: ``base`` is all of that policy's jobs, so unless ``q``
    narrows it the total is the policy's kept total, not a count of its rows."""
    statement = query.ordered(query.filtered(base, keys, q), keys, sort, NEWEST_JOBS_FIRST)
    if every_job_of is not None and not q:
        total = hook_job_queries.totals(every_job_of.project_id, every_job_of.id)
    else:
        total = query.count(statement)
    return list(db.session.scalars(query.paged(statement, page, page_size))), total
