"""After each attempt: count it for its target's health, which may disable the target (app.services.target_health)."""

from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError

from app import clock
from app.config import Settings
from app.extensions import db
from app.models import HookJob
from app.services import hook_jobs, target_health

log = logging.getLogger(__name__)


def observe(job: HookJob, result: hook_jobs.AttemptResult, settings: Settings) -> None:
    """Record ``result`` in the target's health; enqueue the WEBHOOK_TARGET_DISABLED deliveries if that disabled it.

    Its own transaction, after the attempt's: health is advice, so a database error here is logged and the
    delivery's outcome (already saved) stands.
    """
    try:
        observed = target_health.record_attempt(
            job, result.succeeded, result.error_class, clock.now(), settings.disable_after
        )
    except DBAPIError:
        db.session.rollback()
        hook_jobs.forget_new()
        log.warning("hook job %s: its target's health could not be updated", job.id, exc_info=True)
        return
    if observed is not None and observed.disabled:
        hook_jobs.enqueue_new(settings.redis_url, settings.job_timeout)
