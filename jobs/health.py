"""After each group of attempts: count them for their targets' health, which may disable a target
(app.services.target_health)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.exc import DBAPIError

from app import clock
from app.config import Settings
from app.extensions import db
from app.models import HookJob
from app.services import hook_jobs, target_health

log = logging.getLogger(__name__)


def observe(outcomes: Sequence[tuple[HookJob, hook_jobs.AttemptResult]], settings: Settings) -> None:
    """Count a group of recorded attempts for their targets' health (``target_health.record_attempts``, one short
    transaction); enqueue the WEBHOOK_TARGET_DISABLED deliveries if that disabled a target.

    After the attempts' own transaction: health is advice, so a database error here is logged and the
    deliveries' outcomes (already saved) stand.
    """
    attempts = [target_health.Attempt(job, result.succeeded, result.error_class) for job, result in outcomes]
    try:
        observed = target_health.record_attempts(attempts, clock.now(), settings.disable_after)
    except DBAPIError:
        db.session.rollback()
        hook_jobs.forget_new()
        ids = ", ".join(str(job.id) for job, _ in outcomes)
        log.warning("hook jobs %s: their targets' health could not be updated", ids, exc_info=True)
        return
    if any(one.disabled for one in observed):
        hook_jobs.enqueue_new(settings.redis_url, settings.job_timeout)
