"""The generic webhook job: claim a hook job, send it, record the attempt and the outcome."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from app import clock, logs, metrics
from app.config import Settings
from app.extensions import current_settings, db
from app.models import HookJob, WebhookPolicy
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
        result = send_one(job, target, settings, deadline)
        if result is None:
            return "deferred"
        return _finish(job, result, settings, deadline)
    finally:
        if bound is not None:
            logs.HOOK_JOB.reset(bound)
        db.session.remove()


def request_for(job: HookJob, target: credentials.TargetCredentials, settings: Settings) -> sender.Request:
    """What to send for one attempt of ``job`` with its target's current credentials."""
    return sender.Request(
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


def send_one(
    job: HookJob, target: credentials.TargetCredentials | None, settings: Settings, deadline: float
) -> hook_jobs.AttemptResult | None:
    """One attempt of a claimed ``job``: wait for its turn (chat targets per URL; a ``max_per_second`` target's
    slot), then ``sender.send``. Never raises for the network: a target gone from its policy is an attempt that
    sent nothing. None: the job was rescheduled for its target's next slot instead (nothing sent, nothing to
    record; ``jobs.pacing``)."""
    if target is None:
        return hook_jobs.AttemptResult(
            started_at=clock.now(),
            duration_ms=0,
            error_class="target_removed",
            error_message="the policy or this target was deleted or its address changed: nothing was sent",
        )
    if not pacing.wait_or_defer(job, target, settings, deadline):
        return None
    return sender.send(request_for(job, target, settings))


def claim_many(hook_job_ids: list[int], settings: Settings) -> list[Claimed]:
    """Claim these hook jobs (one statement, one commit) and read their targets' current credentials (then end
    the reads' transaction: nothing may be held open while targets answer). Jobs not claimable are left out."""
    jobs = hook_jobs.claim_many(hook_job_ids, lease_seconds=settings.job_timeout)
    # Keep a margin under the lease: past it, the sweeper may already have handed the job on.
    claimed_at = time.monotonic()
    now = clock.now()
    # Their policies in one query, held while the credentials are read (the session's identity map is weak).
    policy_ids = {job.policy_id for job in jobs if job.policy_id is not None}
    policies = list(db.session.scalars(select(WebhookPolicy).where(WebhookPolicy.id.in_(policy_ids)))) if jobs else []
    claimed = [
        Claimed(job, credentials.for_job(job, now), claimed_at + settings.job_timeout - 2, claimed_at) for job in jobs
    ]
    db.session.commit()
    del policies
    return claimed


@dataclass(frozen=True)
class Claimed:
    """A hook job claimed for one attempt (detached from its session), its target's credentials (None: the
    target is gone) and the monotonic time by which its outcome must be saved."""

    job: HookJob
    target: credentials.TargetCredentials | None
    deadline: float
    claimed_at: float = 0.0

    def renewed(self, settings: Settings) -> Claimed | None:
        """This claim with its lease extended (a job that waited behind others of its chunk), or None when the
        attempt is no longer this worker's."""
        if not hook_jobs.renew_lease(self.job, settings.job_timeout):
            return None
        now = time.monotonic()
        return replace(self, deadline=now + settings.job_timeout - 2, claimed_at=now)


def record_group(outcomes: list[tuple[Claimed, hook_jobs.AttemptResult]], settings: Settings) -> list[str]:
    """Record several attempts' outcomes (``hook_jobs.finish_attempt`` each) and commit them once, retrying
    through a short database outage until the earliest lease; then count and log each. Returns what each led to
    (as :func:`deliver` does)."""
    pause = 0.25
    deadline = min(claimed.deadline for claimed, _ in outcomes)
    while True:
        try:
            # No flush between the guarded UPDATEs: the attempt rows go in at the commit, in one executemany.
            with db.session.no_autoflush:
                decisions = [
                    hook_jobs.finish_attempt(
                        claimed.job,
                        result,
                        settings.retry_schedule,
                        overload_minimum=settings.retry_overload_minimum,
                        commit=False,
                    )
                    for claimed, result in outcomes
                ]
            db.session.commit()
            break
        except DBAPIError as exc:
            db.session.rollback()
            if not is_outage(exc) or time.monotonic() + pause > deadline:
                raise
            log.warning("database unavailable saving %d attempts, retrying", len(outcomes))
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
    health.observe([(claimed.job, result) for claimed, result in outcomes], settings)
    reports = []
    for (claimed, result), decision in zip(outcomes, decisions, strict=True):
        with logs.hook_job_bound(claimed.job.uuid):
            reports.append(_report(claimed.job, result, decision, settings))
    return reports


def _finish(job: HookJob, result: hook_jobs.AttemptResult, settings: Settings, deadline: float) -> str:
    decision = _record(job, result, settings, deadline)
    health.observe([(job, result)], settings)
    return _report(job, result, decision, settings)


def _report(job: HookJob, result: hook_jobs.AttemptResult, decision: Decision, settings: Settings) -> str:
    """Count and log one recorded attempt (its target's health counted it already); what it led to ("stale": a
    newer attempt or a stop owns the job)."""
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
