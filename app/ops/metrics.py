"""``GET /metrics``: Prometheus exposition. Counters and histograms the processes kept (app/metrics.py, added up
across processes in multi-process mode) and gauges read from the database and Redis at scrape time.

Protected like the API: ``Authorization: Bearer`` with DOCKHOOK_METRICS_TOKEN or DOCKHOOK_API_TOKEN (open only
when neither is set, as the API is). A dependency that does not answer is reported as ``dockhook_up 0`` and its
gauges are left out: the scrape itself still succeeds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime

from flask import Blueprint, Flask, Response, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from app import bearer, clock, metrics, queue
from app.config import Settings
from app.errors import error_response
from app.extensions import current_settings
from app.models import HookJobStatus
from app.services import stats

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)

RECEIVER_PATH = "/service/notifications"


@bp.get("/metrics")
def scrape() -> Response:
    """Every metric, in Prometheus' text format."""
    settings = current_settings()
    tokens = [t for t in (settings.metrics_token, settings.api_token) if t]
    header = request.headers.get("Authorization", "")
    if tokens and not any(bearer.matches(header, token) for token in tokens):
        response = error_response(401, "/metrics needs Authorization: Bearer <DOCKHOOK_METRICS_TOKEN or API token>")
        response.headers["WWW-Authenticate"] = 'Bearer realm="dockhook"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    if settings.metrics_dir is not None:
        MultiProcessCollector(registry, path=settings.metrics_dir)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ThisProcess())
    registry.register(_State(settings, clock.now()))
    response = Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response


def install(app: Flask) -> None:
    """Serve /metrics and count the receiver's answers by status."""
    app.register_blueprint(bp)

    @app.after_request
    def _count_notifications(response: Response) -> Response:
        if request.path == RECEIVER_PATH and request.method == "POST":
            metrics.NOTIFICATIONS.labels(str(response.status_code)).inc()
        return response


class _ThisProcess(Collector):
    """Without multi-process mode: this process's own counters (prometheus_client's default registry)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


class _State(Collector):
    """Gauges read at scrape time: the same answer whichever process or machine is scraped."""

    def __init__(self, settings: Settings, now: datetime) -> None:
        self.settings = settings
        self.now = now

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("dockhook_up", "1 when the dependency answered this scrape", labels=["dependency"])
        try:
            state = stats.collect(self.now)
        except Exception as exc:  # the scrape still answers: dockhook_up says the database did not
            log.warning("metrics: the database did not answer: %s", str(exc).splitlines()[0] if str(exc) else exc)
            up.add_metric(["database"], 0)
        else:
            up.add_metric(["database"], 1)
            yield from self._database(state)
        redis_ok = self.settings.redis_url is not None
        if self.settings.redis_url is not None:
            try:
                yield from self._redis(self.settings.redis_url)
            except queue.QueueUnavailable:
                redis_ok = False
        up.add_metric(["redis"], 1 if redis_ok else 0)
        yield up

    def _database(self, state: stats.Stats) -> Iterator[Metric]:
        jobs = GaugeMetricFamily(
            "dockhook_hook_jobs", "Hook jobs by status (kept for the retention period)", labels=["status"]
        )
        for status in HookJobStatus:
            jobs.add_metric([status.value], state.jobs_by_status.get(status.value, 0))
        yield jobs
        yield GaugeMetricFamily(
            "dockhook_hook_jobs_oldest_pending_age_seconds",
            "Age of the oldest pending hook job (0 when none): a backlog that is not being worked grows this",
            value=_age(self.now, state.oldest_pending),
        )
        yield GaugeMetricFamily(
            "dockhook_hook_jobs_oldest_due_retry_age_seconds",
            "How long the longest-overdue scheduled retry has been due (0 when none is due)",
            value=_age(self.now, state.oldest_due_scheduled),
        )
        yield GaugeMetricFamily(
            "dockhook_hook_jobs_expired_leases",
            "Running hook jobs whose lease expired (a worker died): the sweeper retries them",
            value=state.running_lease_expired,
        )
        attempts = GaugeMetricFamily(
            "dockhook_attempts",
            "Recorded delivery attempts (kept for the retention period) by outcome and error class",
            labels=["outcome", "error_class"],
        )
        for (outcome, error_class), count in sorted(state.attempts.items()):
            attempts.add_metric([outcome, error_class], count)
        yield attempts
        events = GaugeMetricFamily("dockhook_events", "Recorded events by type", labels=["type"])
        for event_type, count in sorted(state.events_by_type.items()):
            events.add_metric([event_type], count)
        yield events
        rejected = GaugeMetricFamily(
            "dockhook_rejected_notifications",
            "Registry events kept aside instead of recorded (GET /api/v2.0/notifications/rejected), by reason",
            labels=["reason"],
        )
        for reason, count in sorted(state.rejected_by_kind.items()):
            rejected.add_metric([reason], count)
        yield rejected
        yield GaugeMetricFamily("dockhook_targets", "Webhook policy targets", value=state.targets)
        yield GaugeMetricFamily(
            "dockhook_targets_disabled",
            "Targets disabled after answering 410 Gone (a PUT of the policy re-enables them)",
            value=state.disabled_targets,
        )
        success = GaugeMetricFamily(
            "dockhook_policy_last_success_timestamp_seconds",
            "When the policy's last successful attempt started (absent: none kept)",
            labels=["project", "policy"],
        )
        failure = GaugeMetricFamily(
            "dockhook_policy_last_failure_timestamp_seconds",
            "When the policy's last failed attempt (retried or final) started (absent: none kept)",
            labels=["project", "policy"],
        )
        for policy in state.policies:
            if policy.last_success is not None:
                success.add_metric([policy.project, policy.policy], policy.last_success.timestamp())
            if policy.last_failure is not None:
                failure.add_metric([policy.project, policy.policy], policy.last_failure.timestamp())
        yield success
        yield failure

    def _redis(self, url: str) -> Iterator[Metric]:
        depths = queue.depths(url)
        beats = queue.heartbeats(url)
        depth = GaugeMetricFamily("dockhook_queue_depth", "RQ jobs waiting in each queue", labels=["queue"])
        for name, count in depths.items():
            depth.add_metric([name], count)
        yield depth
        alive = GaugeMetricFamily(
            "dockhook_processes_alive",
            "Workers and sweepers whose heartbeat has not expired (30 s for workers)",
            labels=["kind"],
        )
        for kind in ("worker", "sweeper"):
            alive.add_metric([kind], sum(1 for b in beats if b.kind == kind))
        yield alive


def _age(now: datetime, moment: datetime | None) -> float:
    return 0.0 if moment is None else max(0.0, (now - moment).total_seconds())
