"""``POST /service/notifications``: the registry's notification endpoint."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

from flask import Blueprint, Response, current_app, jsonify, request

from app import bearer, clock, logs, metrics
from app.config import Settings
from app.errors import error_response, from_service_error
from app.extensions import current_broker, current_settings, db
from app.registry import bounds
from app.registry.actions import RegistryAction
from app.registry.filter import FilterRules, classify
from app.registry.group_commit import GroupCommit
from app.registry.schemas import LoadedEvent, load_envelope, parse_body
from app.services import hook_jobs, registry_events
from app.services.errors import DatabaseUnavailable
from app.services.hook_jobs import NewJob
from app.services.registry_events import RecordOutcome, RecordRules
from app.services.rejected import Rejection

log = logging.getLogger(__name__)

bp = Blueprint("registry", __name__)

ACCEPTED_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.events.v1+json",
        "application/vnd.docker.distribution.events.v2+json",
        "application/json",
    }
)
# A refused notification is warned about at most once per client address in this interval, and the
# per-address table keeps at most this many addresses (the oldest is forgotten first).
AUTH_WARNING_INTERVAL = timedelta(minutes=1)
AUTH_WARNING_ADDRESSES = 1024
# Up to this many hook jobs are enqueued before the answer (the usual envelope: one event's fan-out). More are
# enqueued once the server has sent the answer: RQ costs about 0.2 ms of CPU per job, and the registry must not
# wait for that on a large envelope. Their rows are committed either way; the sweeper enqueues what is left.
INLINE_ENQUEUE = 200
_GATE = "dockhook.refused_notifications"
_GROUP = "dockhook.group_commit"


@bp.post("/service/notifications")
def receive() -> Response:
    """Record a notification envelope, then answer 200; 503 (the registry retries) if nothing could be recorded.

    Only a body that is not a notification envelope is refused (4xx). An event that cannot be recorded is kept
    aside with its reason (GET /api/v2.0/notifications/rejected) and counted as ignored: the registry retries
    an envelope it did not take forever, in order, so one bad event must not hold up the others.
    """
    settings = current_settings()
    envelope = _read_envelope(settings)
    if isinstance(envelope, Response):
        return envelope
    return _record(envelope, settings)


def _read_envelope(settings: Settings) -> list[LoadedEvent | Rejection] | Response:
    """The envelope's parsed events, or the 4xx that says why there are none (nothing is recorded then)."""
    if settings.notify_token is not None and not bearer.matches(
        request.headers.get("Authorization", ""), settings.notify_token
    ):
        _warn_refused(request.remote_addr or "(unknown address)")
        response = error_response(401, "missing or wrong bearer token in the Authorization header")
        response.headers["WWW-Authenticate"] = 'Bearer realm="dockhook"'
        return response
    if request.mimetype not in ACCEPTED_TYPES:
        return error_response(
            415,
            f"unsupported Content-Type {request.mimetype or '(none)'!r}; "
            f"send one of {', '.join(sorted(ACCEPTED_TYPES))}",
        )
    limit = settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return error_response(413, f"body of {request.content_length} bytes is over the {limit}-byte limit")
    # Read exactly what was announced; only a body without Content-Length is read up to the limit.
    body = request.stream.read(request.content_length if request.content_length is not None else limit + 1)
    if len(body) > limit:
        return error_response(413, f"body is over the {limit}-byte limit")
    try:
        document = parse_body(body)
    except ValueError as exc:
        return error_response(400, str(exc))
    try:
        return load_envelope(document)
    except ValueError as exc:
        return error_response(400, f"not a registry notification envelope: {exc}")


def _record(events: list[LoadedEvent | Rejection], settings: Settings) -> Response:
    """Filter, check and record the events in one transaction, then enqueue; the registry's answer."""
    received_at = clock.now()
    logs.bind_registry_events([str(e.event.get("id", "")) for e in events if isinstance(e, LoadedEvent)])
    rules = FilterRules(frozenset(settings.pull_ua_denylist), settings.publish_untagged_pushes)
    actions: list[RegistryAction] = []
    rejections: list[Rejection] = []
    dropped = 0
    for loaded in events:
        if isinstance(loaded, Rejection):
            rejections.append(loaded)
            continue
        kept = classify(loaded.event, rules, received_at)
        if isinstance(kept, str):
            dropped += 1
            log.debug("registry event %r dropped: %s", loaded.event["id"][:64], kept)
            continue
        problem = bounds.problem(kept)
        if problem is not None:
            rejections.append(Rejection(problem, loaded.raw))
            continue
        actions.append(replace(kept, raw_event=loaded.raw))
    try:
        recorded = _group_commit().submit(
            registry_events.Envelope(actions, rejections, request.remote_addr or ""), len(actions) + len(rejections)
        )
    except DatabaseUnavailable as exc:
        log.error("database unavailable, answered 503 so the registry re-sends: %s", exc)
        response = from_service_error(DatabaseUnavailable("database unavailable; nothing was recorded, retry"))
        response.headers["Retry-After"] = "1"
        return response
    outcome = recorded.outcome
    metrics.count_registry_events(
        recorded=outcome.recorded, duplicate=outcome.duplicates, ignored=dropped, rejected=outcome.rejected
    )
    if current_app.debug or outcome.recorded or outcome.rejected:
        log.info(
            "notification: %d events, %d recorded, %d duplicate, %d dropped, %d rejected, published %s, %s%s",
            len(events),
            outcome.recorded,
            outcome.duplicates,
            dropped,
            outcome.rejected,
            outcome.published,
            f"{len(recorded.later)} hook jobs to enqueue after the answer"
            if recorded.later
            else f"{recorded.enqueued} hook jobs enqueued",
            f" (committed with {recorded.companions} other notifications)" if recorded.companions else "",
        )
    response = jsonify(
        {
            "received": len(events),
            "recorded": outcome.recorded,
            "duplicates": outcome.duplicates,
            "ignored": dropped + outcome.rejected,
            "published": outcome.published,
        }
    )
    if recorded.later:
        response.call_on_close(partial(_enqueue_after_answer, recorded.later, settings.redis_url, settings.job_timeout))
    return response


@dataclass(frozen=True)
class _Recorded:
    """One envelope's share of a group commit."""

    outcome: RecordOutcome
    enqueued: int  # the group's hook jobs enqueued before the answers
    later: list[NewJob]  # the group's hook jobs this request enqueues after its answer (a large group's)
    companions: int  # other envelopes committed in the same transaction


def _group_commit() -> GroupCommit[registry_events.Envelope, _Recorded]:
    """This process's group commit for the app (gunicorn forks before the app is made: one per worker)."""
    grouping: GroupCommit[registry_events.Envelope, _Recorded] | None = current_app.extensions.get(_GROUP)
    if grouping is None:
        grouping = current_app.extensions.setdefault(
            _GROUP, GroupCommit(_record_group, shared_errors=(DatabaseUnavailable,))
        )
    return grouping


def _record_group(envelopes: Sequence[registry_events.Envelope]) -> list[_Recorded]:
    """On the leader's thread: record ``envelopes`` in one transaction, then enqueue their hook jobs."""
    settings = current_settings()
    try:
        outcomes = registry_events.record_many(
            envelopes, RecordRules(settings.default_project, settings.auto_create_projects), current_broker()
        )
    except Exception:
        # Nothing of this attempt may reach the next one on this session (the group commit records a failed
        # group's envelopes again, each alone): drop its rows, flushed or pending, and its new hook jobs.
        db.session.rollback()
        hook_jobs.forget_new()
        raise
    # Commit, then enqueue: Redis being down leaves the rows pending, never fails the registry.
    jobs = hook_jobs.take_new()
    later = len(jobs) > INLINE_ENQUEUE
    enqueued = 0 if later else hook_jobs.enqueue(jobs, settings.redis_url, settings.job_timeout)
    companions = len(envelopes) - 1
    return [
        _Recorded(outcome, enqueued, jobs if later and n == 0 else [], companions) for n, outcome in enumerate(outcomes)
    ]


def _enqueue_after_answer(jobs: list[NewJob], redis_url: str | None, job_timeout: int) -> None:
    # Runs once the server has sent the answer, outside the request: the rows are committed, so anything that
    # goes wrong here leaves them pending for the sweeper (which enqueues pending jobs), never lost.
    try:
        hook_jobs.enqueue(jobs, redis_url, job_timeout)
    except Exception:
        log.exception("enqueueing %d hook jobs after the answer failed; they stay pending for the sweeper", len(jobs))


class _WarningGate:
    """Which client addresses were warned about recently; bounded, thread-safe (gunicorn runs threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: OrderedDict[str, datetime] = OrderedDict()

    def allow(self, address: str, now: datetime) -> bool:
        with self._lock:
            last = self._last.get(address)
            if last is not None and now - last < AUTH_WARNING_INTERVAL:
                return False
            self._last[address] = now
            self._last.move_to_end(address)
            while len(self._last) > AUTH_WARNING_ADDRESSES:
                self._last.popitem(last=False)
            return True


def _warn_refused(address: str) -> None:
    # The registry keeps what it could not deliver in memory only, retrying in order: a token
    # mismatch silently piles events up there until it restarts and drops them. Say so, loudly but
    # rate-limited (a misconfigured registry retries every backoff). Never log what was presented.
    gate: _WarningGate | None = current_app.extensions.get(_GATE)
    if gate is None:
        gate = current_app.extensions.setdefault(_GATE, _WarningGate())
    if not gate.allow(address, clock.now()):
        return
    presented = "a wrong" if request.headers.get("Authorization") else "no"
    log.warning(
        "refused a notification from %s: %s bearer token (DOCKHOOK_NOTIFY_TOKEN). The registry keeps "
        "undelivered notifications only in its memory and retries them in order: fix the Authorization header "
        "of its notifications endpoint before it restarts and drops them (warned once a minute per address)",
        address,
        presented,
    )
