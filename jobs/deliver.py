"""The generic webhook job: claim a hook job, send it, record the attempt and the outcome."""

from __future__ import annotations

import logging

from app.extensions import current_settings, db
from app.services import hook_jobs
from jobs import sender

log = logging.getLogger(__name__)


def deliver(hook_job_id: int) -> str:
    """Deliver hook job ``hook_job_id`` once (runs in an RQ worker with the app context pushed).

    Idempotent: a job that is final or already running elsewhere is left alone ("skipped").
    Returns what happened: "success", "retry" (scheduled) or "fail". Raises only for database
    errors (RQ records those, and the job's lease lets the sweeper recover it).
    """
    settings = current_settings()
    try:
        job = hook_jobs.claim(hook_job_id, lease_seconds=settings.job_timeout)
        if job is None:
            log.info("hook job %s: not claimable (final, running elsewhere or gone); skipped", hook_job_id)
            return "skipped"
        target = job.target
        request = sender.Request(
            hook_id=job.uuid,
            address=str(target["address"]),
            body=job.payload.encode("utf-8"),
            content_type=job.content_type,
            auth_header=str(target.get("auth_header") or "") if job.notify_type == "http" else "",
            verify_tls=not bool(target.get("skip_cert_verify")),
            connect_timeout=settings.http_connect_timeout,
            read_timeout=settings.http_read_timeout,
        )
        result = sender.send(request)
        decision = hook_jobs.finish_attempt(job, result, settings.retry_schedule)
        log.info(
            "hook job %s (%s) attempt %d: %s in %d ms -> %s (%s)",
            job.id,
            job.uuid,
            job.attempt_count,
            result.status_code if result.status_code is not None else result.error_class,
            result.duration_ms,
            decision.action,
            decision.reason,
        )
        return decision.action
    finally:
        db.session.remove()
