"""Pacing before a send: chat targets take turns per webhook URL, and a target's ``max_per_second`` holds across
every worker without a worker sitting on one target's turn (the job is rescheduled for its slot instead)."""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import timedelta

from app import clock, queue
from app.config import Settings
from app.models import HookJob
from app.services import hook_jobs
from app.services.credentials import TargetCredentials
from jobs import turns

log = logging.getLogger(__name__)

# A worker sleeps for a target's slot at most this long; a later slot reschedules the job instead.
MAX_SLEEP = 1.0


def address_key(address: str) -> str:
    """A Redis key part naming a target URL without carrying it (the URL may hold a token)."""
    return hashlib.sha256(address.encode()).hexdigest()[:32]


def wait_or_defer(job: HookJob, target: TargetCredentials, settings: Settings, deadline: float) -> bool:
    """Wait for this delivery's turn; return False when the job was rescheduled instead (nothing to send now).

    Chat targets (every type but ``http``) wait for their per-URL turn (DOCKHOOK_CHAT_INTERVALS) as Slack
    always did. A target with ``max_per_second`` reserves a slot ``1/max_per_second`` seconds after the last
    one taken by any worker: within MAX_SLEEP the worker sleeps for it, otherwise the job goes back to
    ``scheduled`` for the time its slot frees, and the worker moves on to other targets' jobs.
    """
    if not settings.redis_url:
        return True
    key = address_key(target.address)
    if job.notify_type != "http":
        # If the turn does not come within the lease, send anyway rather than lose the attempt.
        turns.wait_turn(
            settings.redis_url, f"{job.notify_type}:{key}", settings.chat_interval(job.notify_type), deadline
        )
    if not target.max_per_second:
        return True
    granted, wait = queue.reserve_slot(settings.redis_url, key, 1.0 / target.max_per_second, MAX_SLEEP)
    if granted:
        if wait > 0:
            time.sleep(wait)
        return True
    hook_jobs.defer(
        job,
        clock.now() + timedelta(seconds=wait),
        f"max_per_second {target.max_per_second:g}: next slot in {wait:.2f} s",
    )
    return False
