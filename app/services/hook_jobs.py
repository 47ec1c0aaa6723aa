"""Hook jobs: creation in the event's transaction, enqueue after commit, and the status machine.

Every status change is one guarded UPDATE (``... WHERE id = :id AND status IN (...)``): a late or
duplicate worker run changes nothing, so status never moves backwards (DESIGN §2.5).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from app import clock, queue
from app.extensions import db
from app.models import FINAL_STATUSES as FINAL
from app.models import Event, HookAttempt, HookJob, HookJobStatus, WebhookPolicy
from app.models.hook_job import new_uuid
from app.services import credentials, event_rows, retries
from app.services.db import insert_rows, insert_rows_ids
from app.services.errors import Conflict
from app.services.event_rows import NewEvent

log = logging.getLogger(__name__)

_NEW_JOBS = "dockhook.new_hook_jobs"
RESPONSE_BODY_CAP = 16 * 1024
CLAIMABLE = (HookJobStatus.PENDING, HookJobStatus.SCHEDULED)


@dataclass(frozen=True)
class NewJob:
    id: int
    uuid: str
    notify_type: str
    target_key: str = ""  # queue.target_key(address): the worker's per-target lane


@dataclass(eq=False)
class _JobRow:
    """A hook job created in this transaction, not written yet: its event's id is known only when it is."""

    event: NewEvent | Event
    values: dict[str, Any]
    failure: tuple[str, str] | None = None


def create(
    *,
    event: NewEvent | Event,
    project_id: int | None,
    policy: WebhookPolicy,
    target_index: int,
    target: dict[str, Any],
    event_type: str,
    payload: str,
    content_type: str,
    max_attempts: int = 1,
    uuid: str | None = None,
    failure: tuple[str, str] | None = None,
) -> str:
    """Add a ``pending`` hook job to the current transaction; return its uuid. :func:`seal_new` writes it before
    the commit and :func:`enqueue_new` enqueues it after.

    The job keeps a snapshot of ``target`` without its credentials: the worker reads those from the policy
    at send time, so a changed header is what a retry sends, and a deleted policy leaves no secret behind.
    ``event`` need not be written yet: a fan-out's jobs and their events go to the database together.

    ``failure`` (error class, message): the body could not be made (a template that fails to render). The job
    is still recorded, already ended in ``error`` with one attempt saying why, and is never enqueued: the
    event is kept and the failure shows where deliveries are looked at.
    """
    uuid = uuid or new_uuid()
    values = {
        "uuid": uuid,
        "project_id": project_id,
        "policy_id": policy.id,
        "policy_name": policy.name,
        "target_index": target_index,
        "target": credentials.snapshot(target),
        "event_type": event_type,
        "notify_type": str(target.get("type", "http")),
        "payload": payload,
        "content_type": content_type,
        "status": HookJobStatus.PENDING,
        "attempt_count": 0,
        "max_attempts": max_attempts,
        "trigger": "auto",
        "last_error": "",
        "final_reason": "",
    }
    if failure is not None:
        error_class, message = failure
        values.update(
            status=HookJobStatus.ERROR,
            attempt_count=1,
            last_error=f"{error_class}: {message}",
            final_reason=f"{error_class}: nothing was sent",
        )
    db.session.info.setdefault(_NEW_JOBS, []).append(_JobRow(event, values, failure))
    return uuid


def seal_new() -> None:
    """Before the transaction commits: write the jobs :func:`create` added (after their events), in bulk, and
    note their ids for :func:`enqueue_new`."""
    kept = db.session.info.get(_NEW_JOBS, [])
    rows = [job for job in kept if isinstance(job, _JobRow)]
    if not rows:
        return
    event_rows.write()
    db.session.flush()
    now = clock.now()
    values = []
    for row in rows:
        if row.event.id is None:
            raise RuntimeError("a hook job's event was never written")
        # Every row carries the same keys (one bulk statement): only a job that failed at creation has ended.
        finished = now if row.failure is not None else None
        values.append(
            {**row.values, "event_id": row.event.id, "creation_time": now, "update_time": now, "finished_at": finished}
        )
    ids = insert_rows_ids(HookJob, values, HookJob.uuid, HookJob.id)
    failed = [row for row in rows if row.failure is not None]
    if failed:
        insert_rows(HookAttempt, [_failed_attempt(ids[row.values["uuid"]], row.failure, now) for row in failed])
    db.session.info[_NEW_JOBS] = [
        NewJob(
            ids[job.values["uuid"]],
            job.values["uuid"],
            job.values["notify_type"],
            queue.target_key(str(job.values["target"].get("address", ""))),
        )
        if isinstance(job, _JobRow)
        else job
        for job in kept
        if not (isinstance(job, _JobRow) and job.failure is not None)  # ended already: nothing to enqueue
    ]


def _failed_attempt(job_id: int, failure: tuple[str, str] | None, now: datetime) -> dict[str, Any]:
    error_class, message = failure or ("", "")
    return {
        "hook_job_id": job_id,
        "number": 1,
        "manual": False,
        "started_at": now,
        "duration_ms": 0,
        "status_code": None,
        "response_body": "",
        "error_class": error_class,
        "error_message": message,
        "outcome": "error",
    }


@sa_event.listens_for(Session, "before_commit")
def _refuse_unwritten(session: Session) -> None:
    # A job created but never written would be a delivery silently lost: fail the commit instead.
    if any(isinstance(job, _JobRow) for job in session.info.get(_NEW_JOBS, [])):
        raise RuntimeError("hook jobs were created but not written: call hook_jobs.seal_new() before the commit")


def take_new() -> list[NewJob]:
    """The hook jobs created in the transaction just committed (and forget them)."""
    return [j for j in db.session.info.pop(_NEW_JOBS, []) if isinstance(j, NewJob)]


def forget_new() -> None:
    """Drop the lists after a rollback: those rows were never committed."""
    db.session.info.pop(_NEW_JOBS, None)
    event_rows.forget()


def enqueue_new(redis_url: str | None, job_timeout: int) -> int:
    """Enqueue the jobs of the committed transaction; return how many reached Redis.

    Commit, then enqueue: if Redis is down the rows stay ``pending`` and the sweeper enqueues
    them later; the caller's answer (200 to the registry) does not depend on Redis.
    """
    return enqueue(take_new(), redis_url, job_timeout)


def enqueue(jobs: list[NewJob], redis_url: str | None, job_timeout: int) -> int:
    """Enqueue committed ``jobs`` (from :func:`take_new`); return how many reached Redis. Needs no app context:
    the receiver may call it after its answer is sent. Never raises for Redis: the sweeper enqueues what is left
    ``pending``."""
    if not jobs:
        return 0
    if redis_url is None:
        log.warning("REDIS_URL is not set: %d hook jobs stay pending", len(jobs))
        return 0
    try:
        queue.enqueue_deliveries(
            redis_url,
            [queue.Delivery(j.id, j.uuid, queue.queue_for(j.notify_type), j.target_key) for j in jobs],
            job_timeout,
        )
    except queue.QueueUnavailable as exc:
        log.warning("Redis unavailable, %d hook jobs stay pending for the sweeper: %s", len(jobs), exc)
        return 0
    return len(jobs)


def _claimed(now: datetime, lease_seconds: int) -> dict[str, Any]:
    """What a claim sets: ``running``, one more attempt, a lease, no due time."""
    return {
        "status": HookJobStatus.RUNNING,
        "attempt_count": HookJob.attempt_count + 1,
        "lease_expires_at": now + timedelta(seconds=lease_seconds),
        "next_attempt_at": None,
        "update_time": now,
    }


def claim(hook_job_id: int, lease_seconds: int, now: datetime | None = None) -> HookJob | None:
    """Take the job for one attempt: ``pending|scheduled → running`` with a lease; commit.

    Returns None (and changes nothing) when the job is final, already running elsewhere, or gone.
    """
    now = now or clock.now()
    result = db.session.execute(
        update(HookJob)
        .where(HookJob.id == hook_job_id, HookJob.status.in_([str(s) for s in CLAIMABLE]))
        .values(_claimed(now, lease_seconds))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return db.session.get(HookJob, hook_job_id, populate_existing=True)


def claim_many(hook_job_ids: list[int], lease_seconds: int, now: datetime | None = None) -> list[HookJob]:
    """:func:`claim` for several jobs at once: one guarded UPDATE ... RETURNING and one commit. Returns the jobs
    taken (detached, loaded), in id order; those final, running elsewhere or gone are left alone."""
    if not hook_job_ids:
        return []
    now = now or clock.now()
    claimed = db.session.scalars(
        update(HookJob)
        .where(HookJob.id.in_(hook_job_ids), HookJob.status.in_([str(s) for s in CLAIMABLE]))
        .values(_claimed(now, lease_seconds))
        .returning(HookJob)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).all()
    for job in claimed:
        db.session.expunge(job)  # detached before the commit: their loaded values stay readable, no reload
    db.session.commit()
    return sorted(claimed, key=lambda job: job.id)


def renew_lease(job: HookJob, lease_seconds: int, now: datetime | None = None) -> bool:
    """Extend the lease of the attempt ``job`` holds (a worker about to send a job it claimed a while ago); commit.
    False when the attempt is no longer this worker's (its lease ran out and the sweeper moved it on, or a stop)."""
    now = now or clock.now()
    renewed = _update_own_attempt(job, {"lease_expires_at": now + timedelta(seconds=lease_seconds), "update_time": now})
    db.session.commit()
    return renewed


@dataclass(frozen=True)
class AttemptResult:
    """What one HTTP try came back with. Never carries request headers (they hold secrets)."""

    started_at: datetime
    duration_ms: int
    status_code: int | None = None
    response_body: str = ""
    error_class: str = ""
    error_message: str = ""
    retry_after: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300 and not self.error_class


def finish_attempt(
    job: HookJob,
    result: AttemptResult,
    schedule: tuple[int, ...],
    now: datetime | None = None,
    rng: random.Random | None = None,
    overload_minimum: float = retries.OVERLOAD_MINIMUM,
    commit: bool = True,
) -> retries.Decision:
    """Record the attempt and move the job on: ``running → success | scheduled | error``; commit (unless
    ``commit`` is False: a worker records a group of outcomes and commits them once).

    Guarded on ``status = running`` and on the attempt number this worker claimed, so a worker
    whose lease was taken over (or whose job was stopped) cannot overwrite what happened since;
    the attempt itself is always recorded. A 410 also disables the target in its policy.
    """
    now = now or clock.now()
    decision = retries.decide(
        status_code=result.status_code,
        error_class=result.error_class,
        attempt=job.attempt_count,
        max_attempts=job.max_attempts,
        schedule=schedule,
        manual=job.trigger == "manual",
        retry_after=result.retry_after,
        now=now,
        rng=rng,
        overload_minimum=overload_minimum,
    )
    applied = _move_running(job, decision, now, result.status_code, _describe(result))
    db.session.add(
        HookAttempt(
            hook_job_id=job.id,
            number=job.attempt_count,
            manual=job.trigger == "manual",
            started_at=result.started_at,
            duration_ms=result.duration_ms,
            status_code=result.status_code,
            response_body=result.response_body[:RESPONSE_BODY_CAP],
            error_class=result.error_class,
            error_message=result.error_message,
            outcome=_OUTCOME[decision.action],
        )
    )
    if applied and decision.disable_target and job.policy_id is not None:
        _disable_target(job, f"{decision.reason} at {now.isoformat()}")
    if commit:
        db.session.commit()
    return decision if applied else replace(decision, applied=False)


def defer(job: HookJob, until: datetime, reason: str) -> bool:
    """Give back a claimed job without an attempt: ``running → scheduled`` at ``until``, the claim's attempt
    count undone; commit. For a delivery that must wait its turn (a target's ``max_per_second``) longer than
    a worker should sleep: the sweeper enqueues it when due. Guarded on the attempt this worker claimed."""
    applied = _update_own_attempt(
        job,
        {
            "status": HookJobStatus.SCHEDULED,
            "attempt_count": HookJob.attempt_count - 1,
            "next_attempt_at": until,
            "lease_expires_at": None,
            "enqueued_at": None,
            "update_time": clock.now(),
        },
    )
    db.session.commit()
    if applied:
        log.info("hook job %s deferred to %s: %s", job.id, until.isoformat(), reason)
    return applied


# What an attempt led to, in the words of the job statuses.
_OUTCOME = {"success": "success", "retry": "retry", "fail": "error"}


def _describe(result: AttemptResult) -> str:
    if result.error_class and result.status_code is None:
        return f"{result.error_class}: {result.error_message}"
    return f"HTTP {result.status_code}" + (f" ({result.error_class})" if result.error_class else "")


def _move_running(job: HookJob, decision: retries.Decision, now: datetime, status_code: int | None, error: str) -> bool:
    if decision.action == "success":
        values: dict[str, Any] = {
            "status": HookJobStatus.SUCCESS,
            "final_reason": decision.reason,
            "finished_at": now,
            "trigger": "auto",
            "lease_expires_at": None,
            "update_time": now,
        }
    else:
        values = _after(decision, now, error)
    values["last_status_code"] = status_code
    return _update_own_attempt(job, values)


def _update_own_attempt(job: HookJob, values: dict[str, Any], *also: Any) -> bool:
    """UPDATE the job only while it is still running the attempt ``job`` holds (and ``also`` holds)."""
    result = db.session.execute(
        update(HookJob)
        .where(
            HookJob.id == job.id,
            HookJob.status == HookJobStatus.RUNNING,
            HookJob.attempt_count == job.attempt_count,
            *also,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _disable_target(job: HookJob, reason: str) -> None:
    """Mark the policy's target as disabled (matching skips it); a PUT of the policy re-enables it."""
    policy = db.session.get(WebhookPolicy, job.policy_id)
    if policy is None:
        return
    targets = [dict(t) for t in policy.targets]
    index = job.target_index
    if index < len(targets) and targets[index].get("address") == job.target.get("address"):
        targets[index].update(disabled=True, disabled_reason=reason)
        policy.targets = targets
        log.warning("policy %s target %d disabled: %s", policy.id, index, reason)


# --- stop, redeliver, recover -------------------------------------------------------------

UNSENT = (HookJobStatus.PENDING, HookJobStatus.SCHEDULED)
ACTIVE = (HookJobStatus.PENDING, HookJobStatus.SCHEDULED, HookJobStatus.RUNNING)


def stop(job: HookJob, reason: str, redis_url: str | None, operator: str = "") -> bool:
    """Stop a job that has not ended (``pending|scheduled|running → stopped``); commit; cancel its RQ job.
    ``operator``: the account that asked (recorded on the job).

    A running attempt may still reach its target, but cannot change the status any more.
    Returns False (nothing changed) when the job had already ended.
    """
    result = db.session.execute(
        update(HookJob)
        .where(HookJob.id == job.id, HookJob.status.in_([str(s) for s in ACTIVE]))
        .values(**_stopped(reason), operator=operator)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    stopped = bool(result.rowcount == 1)  # type: ignore[attr-defined]
    if stopped and redis_url:
        queue.discard(redis_url, [job.uuid])
    return stopped


def stop_unsent_of_policy(policy_id: int, reason: str) -> list[str]:
    """In the caller's transaction: stop the policy's jobs not yet sent; return their uuids (to discard from RQ)."""
    stopped = db.session.scalars(
        update(HookJob)
        .where(HookJob.policy_id == policy_id, HookJob.status.in_([str(s) for s in UNSENT]))
        .values(**_stopped(reason))
        .returning(HookJob.uuid)
        .execution_options(synchronize_session=False)
    )
    return list(stopped)


def _stopped(reason: str) -> dict[str, Any]:
    now = clock.now()
    return {
        "status": HookJobStatus.STOPPED,
        "final_reason": reason,
        "finished_at": now,
        "lease_expires_at": None,
        "next_attempt_at": None,
        "update_time": now,
    }


def redeliver(job: HookJob, redis_url: str | None, job_timeout: int, operator: str = "") -> None:
    """Send an ended job again, once, as a manual attempt with the same ``webhook-id``; commit; enqueue.
    ``operator``: the account that asked (recorded on the job).

    Raises Conflict while the job has not ended (it is still being delivered), or when its policy target
    is gone (the policy was deleted or the target removed: its credentials went with it). If Redis is
    down the job waits ``pending`` for the sweeper.
    """
    now = clock.now()
    if credentials.for_job(job, now) is None:
        raise Conflict(
            f"hook job {job.uuid} cannot be redelivered: its policy target was removed, and its credentials with it"
        )
    result = db.session.execute(
        update(HookJob)
        .where(HookJob.id == job.id, HookJob.status.in_([str(s) for s in FINAL]))
        .values(**_manual_redelivery(now), operator=operator)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        raise Conflict(f"hook job {job.uuid} is {job.status}: only an ended job can be redelivered")
    db.session.info.setdefault(_NEW_JOBS, []).append(
        NewJob(job.id, job.uuid, job.notify_type, queue.target_key(str(job.target.get("address", ""))))
    )
    db.session.commit()
    enqueue_new(redis_url, job_timeout)


RECOVER_BATCH = 500


def recover(
    policy_id: int,
    since: datetime,
    until: datetime | None,
    redis_url: str | None,
    job_timeout: int,
    limit: int = RECOVER_BATCH,
    operator: str = "",
) -> tuple[list[str], int]:
    """Redeliver the policy's jobs that ended in ``error``, created in [since, until), at most ``limit`` of
    them, oldest first: each as one manual attempt with its own ``webhook-id``. Returns their uuids and how
    many sendable failed jobs of the window remain for another call.

    One guarded UPDATE (only jobs still in ``error`` change, so a job a worker or a user touched
    meanwhile is left alone rather than failing the rest), one commit, one enqueue. Jobs whose
    policy target is gone (its credentials went with it) are not recovered.
    """
    now = clock.now()
    policy = db.session.get(WebhookPolicy, policy_id)
    targets = list(policy.targets) if policy is not None else []
    # Only jobs whose target the policy still has can be sent (the worker's rule); the window's rows are
    # read light (id, snapshot, index) and nothing is decrypted.
    query = select(HookJob.id, HookJob.target, HookJob.target_index).where(
        HookJob.policy_id == policy_id, HookJob.status == HookJobStatus.ERROR, HookJob.creation_time >= since
    )
    if until is not None:
        query = query.where(HookJob.creation_time < until)
    sendable = [
        row.id
        for row in db.session.execute(query.order_by(HookJob.id))
        if credentials.current_target(targets, row.target, row.target_index) is not None
    ]
    remaining = max(0, len(sendable) - limit)
    sendable = sendable[:limit]
    if not sendable:
        db.session.commit()
        return [], 0
    rows = db.session.execute(
        update(HookJob)
        .where(HookJob.id.in_(sendable), HookJob.status == HookJobStatus.ERROR)
        .values(**_manual_redelivery(now), operator=operator)
        .returning(HookJob.id, HookJob.uuid, HookJob.notify_type, HookJob.target)
        .execution_options(synchronize_session=False)
    ).all()
    rows = sorted(rows, key=lambda r: r.id)  # oldest first on the queue, as the window is read
    db.session.info.setdefault(_NEW_JOBS, []).extend(
        NewJob(r.id, r.uuid, r.notify_type, queue.target_key(str(r.target.get("address", "")))) for r in rows
    )
    db.session.commit()
    enqueue_new(redis_url, job_timeout)
    return [r.uuid for r in rows], remaining


def _manual_redelivery(now: datetime) -> dict[str, Any]:
    # One manual attempt: trigger says so; max_attempts keeps the series' own count.
    return {
        "status": HookJobStatus.PENDING,
        "trigger": "manual",
        "finished_at": None,
        "final_reason": "",
        "next_attempt_at": None,
        "enqueued_at": None,
        "update_time": now,
    }


# --- what the sweeper changes -------------------------------------------------------------


def expire_lease(job: HookJob, schedule: tuple[int, ...], lease_seconds: int, now: datetime) -> bool:
    """A running job whose lease ran out lost its worker: record a ``worker_lost`` attempt, then retry
    (at once) or give up when attempts are exhausted. In the caller's transaction. Guarded on the
    attempt number and on the lease still being expired."""
    decision = retries.decide(
        status_code=None,
        error_class="worker_lost",
        attempt=job.attempt_count,
        max_attempts=job.max_attempts,
        schedule=schedule,
        manual=job.trigger == "manual",
        now=now,
    )
    if decision.action == "retry":
        decision = retries.Decision("retry", delay=0.0, reason=decision.reason)
    message = f"no result within the {lease_seconds} s lease: the worker died or hung"
    if not _update_own_attempt(job, _after(decision, now, f"worker_lost: {message}"), HookJob.lease_expires_at <= now):
        return False
    started = (job.lease_expires_at or now) - timedelta(seconds=lease_seconds)
    db.session.add(
        HookAttempt(
            hook_job_id=job.id,
            number=job.attempt_count,
            manual=job.trigger == "manual",
            started_at=started,
            duration_ms=int((now - started).total_seconds() * 1000),
            error_class="worker_lost",
            error_message=message,
            outcome=_OUTCOME[decision.action],
        )
    )
    return True


def _after(decision: retries.Decision, now: datetime, error: str) -> dict[str, Any]:
    if decision.action == "retry":
        return {
            "status": HookJobStatus.SCHEDULED,
            "next_attempt_at": now + timedelta(seconds=decision.delay),
            "lease_expires_at": None,
            "last_error": error,
            "enqueued_at": None,
            "update_time": now,
        }
    return {
        "status": HookJobStatus.ERROR,
        "lease_expires_at": None,
        "last_error": error,
        "final_reason": decision.reason,
        "finished_at": now,
        "trigger": "auto",
        "update_time": now,
    }


def mark_enqueued(ids: list[int], now: datetime) -> None:
    """In the caller's transaction: remember when the sweeper queued these jobs."""
    if ids:
        db.session.execute(
            update(HookJob)
            .where(HookJob.id.in_(ids))
            .values(enqueued_at=now)
            .execution_options(synchronize_session=False)
        )


def purge(before: datetime, batch: int = 1000) -> tuple[int, int]:
    """Delete ended jobs finished before ``before`` and their attempts, ``batch`` jobs per transaction.

    Returns ``(jobs, attempts)`` deleted. Short transactions keep the tables available meanwhile.
    """
    jobs_deleted = attempts_deleted = 0
    while True:
        ids = list(
            db.session.scalars(
                select(HookJob.id)
                .where(HookJob.status.in_([str(s) for s in FINAL]), HookJob.finished_at < before)
                .order_by(HookJob.id)
                .limit(batch)
            )
        )
        if not ids:
            db.session.commit()
            return jobs_deleted, attempts_deleted
        attempts_deleted += db.session.execute(delete(HookAttempt).where(HookAttempt.hook_job_id.in_(ids))).rowcount  # type: ignore[attr-defined]
        jobs_deleted += db.session.execute(delete(HookJob).where(HookJob.id.in_(ids))).rowcount  # type: ignore[attr-defined]
        db.session.commit()
