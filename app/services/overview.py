"""Read-only summaries for the deliveries dashboard: projects, and the system-wide policies (``project_id`` None),
with their hook jobs counted by status."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from app.extensions import db
from app.models import HookJob, Project, WebhookPolicy
from app.services import access
from app.services.access import Principal


@dataclass
class ProjectSummary:
    project: Project
    policies: int = 0
    jobs: dict[str, int] = field(default_factory=dict)


@dataclass
class SystemSummary:
    """The system-wide policies (they take every project's events) and their hook jobs by status."""

    policies: int = 0
    jobs: dict[str, int] = field(default_factory=dict)


def system(principal: Principal) -> SystemSummary | None:
    """The system-wide policies' summary, for a system administrator only (None for anyone else)."""
    if not principal.sysadmin:
        return None
    return SystemSummary(
        policies=db.session.scalar(
            select(func.count()).select_from(WebhookPolicy).where(WebhookPolicy.project_id.is_(None))
        )
        or 0,
        jobs=job_counts(None),
    )


def projects(principal: Principal) -> list[ProjectSummary]:
    """The projects whose webhooks ``principal`` may list, by name, with their policy count and their hook jobs
    counted by status."""
    visible = access.projects_where(principal, "notification-policy", "list")
    summaries = {
        p.id: ProjectSummary(p) for p in db.session.scalars(select(Project).where(visible).order_by(Project.name))
    }
    for project_id, count in db.session.execute(
        select(WebhookPolicy.project_id, func.count()).group_by(WebhookPolicy.project_id)
    ):
        if project_id in summaries:
            summaries[project_id].policies = count
    for project_id, status, count in db.session.execute(
        select(HookJob.project_id, HookJob.status, func.count()).group_by(HookJob.project_id, HookJob.status)
    ):
        if project_id in summaries:
            summaries[project_id].jobs[str(status)] = count
    return list(summaries.values())


def project(project_id: int) -> Project | None:
    return db.session.get(Project, project_id)


def job_counts(project_id: int | None) -> dict[str, int]:
    """The project's hook jobs counted by status (None: the system-wide policies')."""
    rows = db.session.execute(
        select(HookJob.status, func.count()).where(HookJob.project_id == project_id).group_by(HookJob.status)
    )
    return {str(status): count for status, count in rows}


def policies(project_id: int | None) -> list[WebhookPolicy]:
    """The project's webhook policies, by name (None: the system-wide ones)."""
    return list(
        db.session.scalars(
            select(WebhookPolicy).where(WebhookPolicy.project_id == project_id).order_by(WebhookPolicy.name)
        )
    )


def event_types(project_id: int | None) -> list[str]:
    """The event types the project's hook jobs have, for the filter (None: the system-wide policies')."""
    return list(
        db.session.scalars(
            select(HookJob.event_type).where(HookJob.project_id == project_id).distinct().order_by(HookJob.event_type)
        )
    )
