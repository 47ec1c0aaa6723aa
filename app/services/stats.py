"""What the database says about Dockhook's work right now, for ``/metrics``: read-only aggregate queries.

These are the metrics that must agree across every process and machine (hook jobs by status, the backlog's age,
attempts by outcome), so they are counted where the truth is, at scrape time, not in any one process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, func, select

from app.extensions import db
from app.models import Event, HookAttempt, HookJob, HookJobStatus, Project, RejectedNotification, WebhookPolicy
from app.models.base import UTCDateTime

# Rejected notifications by kind of reason: a bounded label set, classified from the reason's wording
# (app/registry/bounds.py, app/registry/schemas.py, app/services/registry_events.py write the reasons).
REJECTION_KINDS = (
    ("too_long", "%characters; at most%"),
    ("control_character", "%control character%"),
    ("unknown_project", "%does not exist%"),
    ("refused_name", "%is refused%"),
    ("bad_name", "%is not a%"),
)

# The project label of system-wide policies: no project name has parentheses, so it is theirs alone.
SYSTEM_WIDE = "(system)"


@dataclass
class PolicyActivity:
    """A policy's last successful and last failed attempt (either may be None)."""

    project: str
    policy: str
    last_success: datetime | None
    last_failure: datetime | None


@dataclass
class Stats:
    jobs_by_status: dict[str, int] = field(default_factory=dict)
    oldest_pending: datetime | None = None
    oldest_due_scheduled: datetime | None = None
    running_lease_expired: int = 0
    attempts: dict[tuple[str, str], int] = field(default_factory=dict)
    events_by_type: dict[str, int] = field(default_factory=dict)
    rejected_by_kind: dict[str, int] = field(default_factory=dict)
    disabled_targets: int = 0
    targets: int = 0
    policies: list[PolicyActivity] = field(default_factory=list)


def collect(now: datetime) -> Stats:
    """Every aggregate in one read-only transaction (rolled back at the end). Raises the database's errors."""
    try:
        stats = Stats()
        session = db.session
        rows = session.execute(select(HookJob.status, func.count()).group_by(HookJob.status)).all()
        stats.jobs_by_status = {str(status): count for status, count in rows}
        stats.oldest_pending = session.scalar(
            select(func.min(HookJob.creation_time)).where(HookJob.status == HookJobStatus.PENDING)
        )
        stats.oldest_due_scheduled = session.scalar(
            select(func.min(HookJob.next_attempt_at)).where(
                HookJob.status == HookJobStatus.SCHEDULED, HookJob.next_attempt_at <= now
            )
        )
        stats.running_lease_expired = (
            session.scalar(
                select(func.count()).where(HookJob.status == HookJobStatus.RUNNING, HookJob.lease_expires_at < now)
            )
            or 0
        )
        attempts = session.execute(
            select(HookAttempt.outcome, HookAttempt.error_class, func.count()).group_by(
                HookAttempt.outcome, HookAttempt.error_class
            )
        ).all()
        stats.attempts = {(outcome, error_class or ""): count for outcome, error_class, count in attempts}
        events = session.execute(select(Event.type, func.count()).group_by(Event.type)).all()
        stats.events_by_type = dict(events)  # type: ignore[arg-type]
        kind = case(
            *((RejectedNotification.reason.like(pattern), name) for name, pattern in REJECTION_KINDS),
            else_="invalid_event",
        )
        rejected = session.execute(select(kind, func.count()).group_by(kind)).all()
        stats.rejected_by_kind = dict(rejected)  # type: ignore[arg-type]
        policies = session.execute(
            select(WebhookPolicy.id, WebhookPolicy.name, WebhookPolicy.targets, Project.name).outerjoin(
                Project, Project.id == WebhookPolicy.project_id
            )
        ).all()
        activity = _last_attempts()
        for policy_id, name, targets, project in policies:
            stats.targets += len(targets or [])
            stats.disabled_targets += sum(1 for target in targets or [] if target.get("disabled"))
            success, failure = activity.get(policy_id, (None, None))
            stats.policies.append(
                PolicyActivity(project if project is not None else SYSTEM_WIDE, name, success, failure)
            )
        return stats
    finally:
        db.session.rollback()


def _last_attempts() -> dict[int, tuple[datetime | None, datetime | None]]:
    """Per policy: when its last successful and its last failed (retry or error) attempt started."""
    succeeded = HookAttempt.outcome == "success"
    rows = db.session.execute(
        select(
            HookJob.policy_id,
            # Typed, so SQLite's text timestamps come back as aware datetimes too.
            func.max(case((succeeded, HookAttempt.started_at)), type_=UTCDateTime()),
            func.max(case((~succeeded, HookAttempt.started_at)), type_=UTCDateTime()),
        )
        .join(HookJob, HookJob.id == HookAttempt.hook_job_id)
        .where(HookJob.policy_id.is_not(None))
        .group_by(HookJob.policy_id)
    ).all()
    return {policy_id: (success, failure) for policy_id, success, failure in rows}
