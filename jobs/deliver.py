"""The generic webhook job: claim a hook job, send it, record the attempt and the outcome."""

from __future__ import annotations

import logging
import time

from sqlalchemy.exc import DBAPIError

from app import clock, logs, metrics
from app.config import Settings
from app.extensions import current_settings, db
from app.models import HookJob
from app.services import credentials, hook_jobs
from app.services.db import is_outage
from app.services.retries import Decision
from jobs import health, pacing, sender

log = logging.getLogger(__name__)

# A decision's action as the attempt rows name their outcome.
_OUTCOME = {"success": "success", "retry": "retry", "fail": "error"}


def deliver(hook_job_id: int) -> str:
    """Deliver hook job ``hook_job_id`` once (runs in an RQ worker with the app context pushed).

    Idempotent: a job that is final or already running elsewhere is left alone ("skipped").
    Returns what happened: "success", "retry" (scheduled), "fail", "deferred" (rescheduled, unsent, for the
    target's max_per_second slot), or "stale" (the attempt was recorded but a newer attempt or a stop owns the
    job). Raises only for database errors (RQ records those, and the job's lease lets the sweeper recover it).
    """
    settings = current_settings()
    # Keep a margin under the lease: past it, the sweeper may already have handed the job on.
    deadline = time.monotonic() + settings.job_timeout - 2
    bound = None  # the hook job's uuid rides on every log line of this delivery (app.logs)
    try:
        job = hook_jobs.claim(hook_job_id, lease_seconds=settings.job_timeout)
        if job is None:
            log.info("hook job %s: not claimable (final, running elsewhere or gone); skipped", hook_job_id)
            return "skipped"
        bound = logs.HOOK_JOB.set(job.uuid)
        # The target's current credentials, read now: a retry after a credential change sends the new ones.
        target = credentials.for_job(job, clock.now())
        # Detached: its loaded values stay readable after the transaction ends.
        db.session.expunge(job)
        # End the reads' transaction before the POST: no snapshot (PostgreSQL) and no write lock (SQLite
        # begins every transaction IMMEDIATE) may be held while a target takes its time to answer.
        db.session.commit()
        if target is None:
            result = hook_jobs.AttemptResult(
                started_at=clock.now(),
                duration_ms=0,
                error_class="target_removed",
                error_message="the policy or this target was deleted or its address changed: nothing was sent",
            )
            return _finish(job, result, settings, deadline)
        request = sender.Request(
            hook_id=job.uuid,
            address=target.address,
            body=job.payload.encode("utf-8"),
            content_type=job.content_type,
            auth_header=target.auth_header if job.notify_type == "http" else "",
            secrets=target.signing_secrets,
            verify_tls=not target.skip_cert_verify,
            connect_timeout=settings.http_connect_timeout,
            read_timeout=settings.http_read_timeout,
            allowed_networks=settings.allowed_target_networks,
            resolver=settings.resolver,
            kind=job.notify_type,
        )
        # Chat targets take turns per URL; a max_per_second target may be rescheduled for its slot instead.
        if not pacing.wait_or_defer(job, target, settings, deadline):
            return "deferred"
        return _finish(job, sender.send(request), settings, deadline)
    finally:
        if bound is not None:
            logs.HOOK_JOB.reset(bound)
        db.session.remove()


def _finish(job: HookJob, result: hook_jobs.AttemptResult, settings: Settings, deadline: float) -> str:
    decision = _record(job, result, settings, deadline)
    health.observe(job, result, settings)
    metrics.ATTEMPT_DURATION.labels(_OUTCOME.get(decision.action, decision.action)).observe(result.duration_ms / 1000)
    if decision.action == "success" and decision.applied:
        metrics.DELIVERY_LATENCY.observe(max(0.0, (clock.now() - job.creation_time).total_seconds()))
    log.info(
        "hook job %s (%s) attempt %d: %s in %d ms -> %s (%s)%s",
        job.id,
        job.uuid,
        job.attempt_count,
        result.status_code if result.status_code is not None else result.error_class,
        result.duration_ms,
        decision.action,
        decision.reason,
        "" if decision.applied else "; recorded only: a newer attempt or a stop owns the job now",
    )
    return decision.action if decision.applied else "stale"


def _record(job: HookJob, result: hook_jobs.AttemptResult, settings: Settings, deadline: float) -> Decision:
    """Save the attempt's outcome, retrying through a short database outage.

    The POST has happened: losing its result means the target gets it again (same webhook-id)
    once the lease expires, so try to save it for as long as the lease allows.
    """
    pause = 0.25
    while True:
        try:
            return hook_jobs.finish_attempt(
                job, result, settings.retry_schedule, overload_minimum=settings.retry_overload_minimum
            )
        except DBAPIError as exc:
            db.session.rollback()
            if not is_outage(exc) or time.monotonic() + pause > deadline:
                raise
            log.warning("hook job %s: database unavailable saving attempt %d, retrying", job.id, job.attempt_count)
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
