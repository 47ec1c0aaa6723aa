"""The metrics Dockhook's processes count as things happen (prometheus_client); ``/metrics`` also reads the
database and Redis at scrape time (app/services/stats.py, app/ops/metrics.py).

Across processes: with PROMETHEUS_MULTIPROC_DIR set (gunicorn's config and ``make run`` set it) every gunicorn
worker, RQ worker and sweeper of a machine writes its values to files there, and any web process of that machine
adds them all up when scraped. Without it, each process counts for itself (tests, one-process tools).
Defining the metrics connects to nothing.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# Event received -> target answered 2xx: seconds for a first try, minutes to hours through the retry schedule.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 21600, 86400, 172800)
# One HTTP try, bounded by the connect + read timeouts (10 s + 10 s by default).
ATTEMPT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30)

NOTIFICATIONS = Counter(
    "dockhook_notifications",
    "Notification envelopes the receiver answered, by HTTP status",
    ["code"],
)
REGISTRY_EVENTS = Counter(
    "dockhook_registry_events",
    "Registry events in the envelopes received, by what became of them: recorded, duplicate (an event id seen "
    "before), ignored (dropped by the filter: blobs, HEAD, denied user agents) or rejected (kept aside)",
    ["outcome"],
)
ATTEMPT_DURATION = Histogram(
    "dockhook_attempt_duration_seconds",
    "One HTTP try of a hook job, by outcome (success, retry, error)",
    ["outcome"],
    buckets=ATTEMPT_BUCKETS,
)
DELIVERY_LATENCY = Histogram(
    "dockhook_delivery_latency_seconds",
    "From the hook job's creation (the event was received) to its target's 2xx answer, retries included",
    buckets=LATENCY_BUCKETS,
)
SWEEPER_ACTIONS = Counter(
    "dockhook_sweeper_actions",
    "What the sweeper did: expired (a dead worker's lease), enqueued (lost or due jobs), purged (history past "
    "retention), failed (a pass that raised)",
    ["action"],
)


def count_registry_events(*, recorded: int, duplicate: int, ignored: int, rejected: int) -> None:
    """One envelope's events, by outcome (the receiver calls this once per envelope it recorded)."""
    for outcome, number in (
        ("recorded", recorded),
        ("duplicate", duplicate),
        ("ignored", ignored),
        ("rejected", rejected),
    ):
        if number:
            REGISTRY_EVENTS.labels(outcome).inc(number)
