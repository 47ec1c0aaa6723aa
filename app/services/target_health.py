"""Endpoint health: every attempt updates its target's health; a target failing for DOCKHOOK_DISABLE_AFTER is
disabled, and WEBHOOK_TARGET_DISABLED is published for its policy's project.

Counts are single upserts (``INSERT ... ON CONFLICT DO UPDATE``), so workers recording attempts of one target
at once never lose an increment. The health shown per target reads one row and at most 24 hourly rows, by
primary key.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from app import redact
from app.broker import Topic
from app.broker.events import TargetDisabledEvent
from app.extensions import current_broker, db
from app.models import HookJob, TargetAttemptHour, TargetHealth, WebhookPolicy
from app.services import credentials, event_rows, hook_jobs

log = logging.getLogger(__name__)

# At least this many failed attempts in a row, besides the time, before a target is disabled (as Svix).
DISABLE_MIN_ATTEMPTS = 10
RATE_WINDOW = timedelta(hours=24)
# Attempts that say nothing about the endpoint: nothing was sent to it.
NOT_THE_ENDPOINT = frozenset({"target_removed", "template_error"})


def target_key(target: Mapping[str, Any]) -> str:
    """The health rows' name for a target: a digest of its type and address (the address may hold a token)."""
    return hashlib.sha256(f"{target.get('type', 'http')} {target.get('address', '')}".encode()).hexdigest()


@dataclass(frozen=True)
class Observed:
    """What recording one attempt led to."""

    consecutive_failures: int
    failing_since: datetime | None
    disabled: bool = False


@dataclass(frozen=True)
class Attempt:
    """One recorded attempt, as its target's health counts it."""

    job: HookJob
    succeeded: bool
    error_class: str = ""


def record_attempts(attempts: Sequence[Attempt], now: datetime, disable_after: int) -> list[Observed]:
    """Count a group of attempts (a worker's outcomes, saved together) for their targets, in one short transaction:
    per target, one upsert of the hour's counts, one delete of the hours that left the window and one upsert of
    its health row with the group's attempts applied in order, as if each had been counted alone. Disable a
    target whose attempts all failed for ``disable_after`` seconds and at least DISABLE_MIN_ATTEMPTS times (the
    window restarts when the policy is saved: a PUT re-enables a disabled target). Commits. Returns what it led
    to per target counted, in key order; attempts that never reached the endpoint are not counted.

    Disabling publishes WEBHOOK_TARGET_DISABLED in the same transaction; the caller enqueues the hook jobs that
    made (``hook_jobs.enqueue_new``). Targets are written in key order, so two workers counting the same targets
    lock their rows in the same order.
    """
    by_target: dict[tuple[int, str], list[Attempt]] = {}
    for attempt in attempts:
        if attempt.job.policy_id is None or attempt.error_class in NOT_THE_ENDPOINT:
            continue
        by_target.setdefault((attempt.job.policy_id, target_key(attempt.job.target)), []).append(attempt)
    observed = []
    for (policy_id, key), counted in sorted(by_target.items()):
        outcomes = [attempt.succeeded for attempt in counted]
        _count_hour(policy_id, key, len(outcomes), sum(outcomes), now)
        row = _upsert_health(policy_id, key, outcomes, now)
        consecutive, failing_since = int(row.consecutive_failures), row.failing_since
        if failing_since is not None and failing_since.tzinfo is None:
            failing_since = failing_since.replace(tzinfo=now.tzinfo)
        disabled = False
        if not outcomes[-1] and consecutive >= DISABLE_MIN_ATTEMPTS and failing_since is not None:
            disabled = _disable_if_failing(counted[-1].job, consecutive, failing_since, now, disable_after)
        observed.append(Observed(consecutive, failing_since, disabled))
    if not observed:
        return []
    hook_jobs.seal_new()
    event_rows.write()  # the event is recorded even when no policy subscribes to it (seal_new wrote none then)
    db.session.commit()
    return observed


def _insert(model: type[Any]) -> Any:
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def _count_hour(policy_id: int, key: str, attempts: int, successes: int, now: datetime) -> None:
    hour = now.replace(minute=0, second=0, microsecond=0)
    statement = _insert(TargetAttemptHour).values(
        policy_id=policy_id, target_key=key, hour=hour, attempts=attempts, successes=successes
    )
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=["policy_id", "target_key", "hour"],
            set_={
                "attempts": TargetAttemptHour.attempts + attempts,
                "successes": TargetAttemptHour.successes + successes,
            },
        )
    )
    # Hours that left the window: at most one per hour per target, found by primary key.
    db.session.execute(
        delete(TargetAttemptHour).where(
            TargetAttemptHour.policy_id == policy_id,
            TargetAttemptHour.target_key == key,
            TargetAttemptHour.hour < hour - RATE_WINDOW,
        )
    )


def _upsert_health(policy_id: int, key: str, outcomes: list[bool], now: datetime) -> Any:
    """The target's health row after ``outcomes`` (True: a success), in order: a success resets the run of
    failures, each failure after it adds one (SQL adds them to the stored run when the group has no success)."""
    statement = _insert(TargetHealth)
    last_success = max((n for n, succeeded in enumerate(outcomes) if succeeded), default=None)
    failures_after = len(outcomes) - 1 - last_success if last_success is not None else len(outcomes)
    failed = not all(outcomes)
    values: dict[str, Any] = {"policy_id": policy_id, "target_key": key}
    if last_success is not None:
        changes: dict[str, Any] = {
            "last_success_at": now,
            "consecutive_failures": failures_after,
            "failing_since": now if failures_after else None,
        }
        if failed:
            changes["last_failure_at"] = now
        statement = statement.values(**values, **changes)
    else:
        statement = statement.values(
            **values, last_failure_at=now, consecutive_failures=failures_after, failing_since=now
        )
        changes = {
            "last_failure_at": now,
            "consecutive_failures": TargetHealth.consecutive_failures + failures_after,
            "failing_since": func.coalesce(TargetHealth.failing_since, statement.excluded.failing_since),
        }
    statement = statement.on_conflict_do_update(index_elements=["policy_id", "target_key"], set_=changes)
    return db.session.execute(statement.returning(TargetHealth.consecutive_failures, TargetHealth.failing_since)).one()


def _disable_if_failing(job: HookJob, consecutive: int, failing_since: datetime, now: datetime, window: int) -> bool:
    # Locked (PostgreSQL) so two workers cannot both disable the target and publish the event twice.
    policy = db.session.scalars(
        select(WebhookPolicy).where(WebhookPolicy.id == job.policy_id).with_for_update()
    ).one_or_none()
    if policy is None:
        return False
    # Saving the policy (a PUT re-enables a disabled target) starts the window again.
    since = max(failing_since, policy.update_time)
    if now - since < timedelta(seconds=window):
        return False
    targets = [dict(t) for t in policy.targets]
    index = _index_of(targets, job)
    if index is None or targets[index].get("disabled"):
        return False
    reason = (
        f"every attempt failed since {failing_since.isoformat()} ({consecutive} attempts in a row); "
        f"disabled at {now.isoformat()}"
    )
    targets[index].update(disabled=True, disabled_reason=reason)
    policy.targets = targets
    target = targets[index]
    address = redact.address(str(target.get("address", "")), str(target.get("type", "http")))
    log.warning("policy %s target %d (%s) disabled: %s", policy.id, index, address, reason)
    # A system-wide policy's target: an event of no project, delivered to the system-wide policies subscribed to it.
    current_broker().publish(
        Topic.WEBHOOK_TARGET_DISABLED,
        TargetDisabledEvent(
            project_id=policy.project_id,
            policy_id=policy.id,
            policy_name=policy.name,
            target_index=index,
            target_type=str(target.get("type", "http")),
            address=address,
            reason=reason,
            failing_since=failing_since,
            consecutive_failures=consecutive,
            occurred_at=now,
        ),
    )
    return True


def _index_of(targets: list[dict[str, Any]], job: HookJob) -> int | None:
    target = credentials.current_target(targets, job.target, job.target_index)
    return next((i for i, t in enumerate(targets) if t is target), None)


def for_policies(policies: Sequence[WebhookPolicy], now: datetime) -> dict[tuple[int, str], dict[str, Any]]:
    """Health per (policy id, target key) of ``policies``: last success and failure, consecutive failures and the
    success rate over the last 24 hours (hourly; None without attempts). Two indexed reads for any number."""
    ids = [p.id for p in policies]
    if not ids:
        return {}
    health: dict[tuple[int, str], dict[str, Any]] = {}
    for row in db.session.scalars(select(TargetHealth).where(TargetHealth.policy_id.in_(ids))):
        health[(row.policy_id, row.target_key)] = {
            "last_success": row.last_success_at,
            "last_failure": row.last_failure_at,
            "consecutive_failures": row.consecutive_failures,
            "failing_since": row.failing_since,
        }
    start = now.replace(minute=0, second=0, microsecond=0) - RATE_WINDOW + timedelta(hours=1)
    counts = select(
        TargetAttemptHour.policy_id,
        TargetAttemptHour.target_key,
        func.sum(TargetAttemptHour.attempts),
        func.sum(TargetAttemptHour.successes),
    ).where(TargetAttemptHour.policy_id.in_(ids), TargetAttemptHour.hour >= start)
    for policy_id, key, attempts, successes in db.session.execute(
        counts.group_by(TargetAttemptHour.policy_id, TargetAttemptHour.target_key)
    ):
        entry = health.setdefault((policy_id, key), {})
        entry["attempts_24h"] = int(attempts or 0)
        entry["success_rate_24h"] = round(int(successes or 0) / int(attempts), 4) if attempts else None
    return health


def shown(
    health: Mapping[tuple[int, str], Mapping[str, Any]], policy_id: int, target: Mapping[str, Any]
) -> dict[str, Any]:
    """One target's health as the policy JSON shows it (every field present; null when never seen)."""
    entry = health.get((policy_id, target_key(target)), {})
    return {
        "last_success": entry.get("last_success"),
        "last_failure": entry.get("last_failure"),
        "consecutive_failures": entry.get("consecutive_failures", 0),
        "failing_since": entry.get("failing_since"),
        "attempts_24h": entry.get("attempts_24h", 0),
        "success_rate_24h": entry.get("success_rate_24h"),
    }
