"""Concurrent sends inside one worker process, each target in its own lane: throughput, and isolation by design.

The RQ job (:func:`deliver_batch`) carries up to ``app.queue.BATCH`` hook jobs and only routes them, not yet
claimed, to their target's lane; the worker's main loop takes its next RQ job at once. Lane runners, on one
thread pool, claim a lane's waiting jobs a few at a time (``jobs.deliver.claim_many``: one UPDATE ... RETURNING,
one commit), send them (``jobs.deliver.send_one``: the one send function, with the per-kind turn-taking), and hand
each result to one recorder thread, which records every outcome waiting (``hook_jobs.finish_attempt`` each,
guarded as ever) and commits them once.

Isolation: at most PER_TARGET sends to one target at a time. A lane is *slow* while one of its sends has
run longer than SLOW_AFTER, or for SLOW_FOR seconds after a send that did (or timed out); a fast send clears
it. A slow lane keeps at most PER_TARGET jobs waiting; more of its jobs are **set aside**: left ``pending`` or
``scheduled`` in the database (nothing was claimed), and the sweeper enqueues them again later. A slow target
so holds at most PER_TARGET threads, never the main loop, and other targets' lanes run on the rest of the
pool. The main loop waits at a lane only while it drains: a lane with LANE_BACKLOG jobs waiting makes it wait
for the lane's next take (back-pressure at the speed of the target), but a lane none of whose sends
ended for PATIENCE (a new lane, or one turning slow) is not waited for: it holds up to LANE_HOLD routed,
unclaimed jobs (more are set aside once all its PER_TARGET sends have been in flight for PATIENCE), and the
surplus over PER_TARGET is set aside as soon as it is recognised slow (the recorder looks every WATCH_EVERY
seconds). The whole process waits when HELD_LIMIT jobs are routed and not yet recorded.

Guarantees (DESIGN §2) are the database's, as before: a job is claimed only just before it is sent, with its
lease; a claimed job whose lease would run out before a send could end is not sent (the sweeper records it as
``worker_lost`` and retries it, same ``webhook-id``); a crash leaves claimed jobs to their leases and routed ones
``pending`` for the sweeper. Nothing exists only in memory.
"""

from __future__ import annotations

import logging
import queue as fifo
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from flask import Flask

from app import logs, queue
from app.config import Settings
from app.extensions import current_settings, db
from app.services import hook_jobs
from jobs import deliver

log = logging.getLogger(__name__)

THREADS = 8
PER_TARGET = 4
CHUNK = 8  # jobs a runner claims at once from a lane that is not slow
# Jobs waiting in a draining lane before the main loop waits for its next take: small, so that a worker takes
# no more of a busy target's backlog than it can soon send, and the rest stays in Redis for the other workers.
LANE_BACKLOG = 2 * PER_TARGET
# A lane none of whose sends ended for PATIENCE seconds is not waited for: it is new (its runners' first takes say
# nothing of how fast it drains), or it may be turning slow, which takes SLOW_AFTER to tell. It then holds up to
# LANE_HOLD jobs (routed, unclaimed: rows still pending), more are set aside once its PER_TARGET sends have all
# been in flight for PATIENCE; once it is slow, all but PER_TARGET of them are. (Waiting PATIENCE at each new lane
# cost a healthy burst queued behind a slow target's backlog a tenth of its rate: make bench, isolation.)
PATIENCE = 0.05
LANE_HOLD = 8 * LANE_BACKLOG
WATCH_EVERY = 0.05  # how often the recorder looks for lanes that turned slow with a surplus waiting
KNOWN_TARGETS = 4096  # targets whose last send time is remembered after their lane ended
HELD_LIMIT = 2048  # jobs routed and not yet recorded, per process, before the main loop waits
SLOW_FOR = 30.0
RENEW_AFTER = 0.5  # a claim older than this is renewed before its send if the lease could run out during it
RECORD_GROUP = 64
_TIMEOUTS = {"read_timeout", "connect_timeout"}


@dataclass(frozen=True)
class Item:
    """A hook job routed to a lane, not claimed yet."""

    id: int
    uuid: str
    key: str


@dataclass
class Lane:
    waiting: deque[Item] = field(default_factory=deque)
    runners: int = 0
    sending: dict[int, float] = field(default_factory=dict)  # thread id -> when its send began
    slow_until: float = 0.0
    last_took: float = 0.0  # seconds its last send took
    progressed_at: float = float("-inf")  # when one of its sends last ended

    def slow(self, now: float, slow_after: float) -> bool:
        return self.slow_until > now or any(now - began > slow_after for began in self.sending.values())

    def draining(self, now: float) -> bool:
        """Whether one of its sends ended lately: waiting for its next take is then short."""
        return now - self.progressed_at < PATIENCE


class Dispatcher:
    """One per worker process (:func:`start`); lanes by target key, a pool of runners, one recorder."""

    def __init__(self, app: Flask, threads: int = THREADS, per_target: int = PER_TARGET) -> None:
        self.app = app
        with app.app_context():
            settings: Settings = current_settings()
        self.slow_after = min(1.0, settings.http_read_timeout / 2)
        self.send_budget = settings.http_connect_timeout + settings.http_read_timeout
        self.lease = settings.job_timeout
        self.per_target = per_target
        self.set_aside = 0
        self._lanes: dict[str, Lane] = {}
        # How long each recently seen target's last send took, kept after its lane is gone (a lane ends whenever
        # it runs empty): a known fast target's new lane claims in chunks at once, an unknown one one at a time.
        self._took: OrderedDict[str, float] = OrderedDict()
        self._held = 0
        self._cond = threading.Condition()
        self._results: fifo.Queue[tuple[deliver.Claimed, hook_jobs.AttemptResult] | None] = fifo.Queue()
        self._contexts: list[Any] = []
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="dockhook-send", initializer=self._enter)
        self._recorder = threading.Thread(target=self._record_loop, name="dockhook-record", daemon=True)
        self._recorder.start()

    def _enter(self) -> None:
        context = self.app.app_context()
        context.push()  # for the thread's life: its own database session (Flask-SQLAlchemy scopes by context)
        self._contexts.append(context)

    # --- the main loop's side ---

    def route(self, items: Sequence[Item]) -> int:
        """Put ``items`` in their lanes and start runners; return how many were set aside (slow lanes)."""
        aside: list[Item] = []
        trimmed: list[Item] = []  # routed earlier, dropped now from a lane that turned slow
        with self._cond:
            while self._held >= HELD_LIMIT:
                self._cond.wait(0.05)
            for item in items:
                trimmed.extend(self._trim(self._lane(item.key), time.monotonic()))
                lane = self._admit(item.key)
                if lane is None:
                    aside.append(item)
                    continue
                lane.waiting.append(item)
                self._held += 1
                if lane.runners < self.per_target:
                    lane.runners += 1
                    self._pool.submit(self._run, item.key)
            self.set_aside += len(aside) + len(trimmed)
        self._log_aside(trimmed + aside)
        return len(aside)

    def _lane(self, key: str) -> Lane:
        """The lane of ``key``, a new one if it has none (a lane ends whenever it runs empty). Called with the
        condition held."""
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = Lane(last_took=self._took.get(key, 0.0))
        return lane

    def _admit(self, key: str) -> Lane | None:
        """The lane that takes one more job of ``key`` (None: set it aside); waits only for a lane that drains.
        Called with the condition held. Looked up again after each wait: the lane waited for may have run empty
        and ended meanwhile, and a job put in an ended lane would never be taken."""
        while True:
            lane = self._lane(key)
            now = time.monotonic()
            if lane.slow(now, self.slow_after):
                return lane if len(lane.waiting) < self.per_target else None
            if len(lane.waiting) < LANE_BACKLOG:
                return lane
            if not lane.draining(now):
                # No send ended lately: a new lane, or maybe a target turning slow. Not waited for, up to
                # LANE_HOLD; past it, set aside when every one of its PER_TARGET sends has been in flight for
                # PATIENCE (the target holds them), waited for while they have just begun (a new lane's first
                # sends) or its runners wait for a thread of the pool.
                if len(lane.waiting) < LANE_HOLD:
                    return lane
                if len(lane.sending) >= self.per_target and now - max(lane.sending.values()) > PATIENCE:
                    return None
            self._cond.wait(PATIENCE)

    def _trim(self, lane: Lane, now: float) -> list[Item]:
        """A slow lane's surplus over PER_TARGET waiting jobs, dropped from it (set aside: their rows were never
        claimed). Called with the condition held."""
        if len(lane.waiting) <= self.per_target or not lane.slow(now, self.slow_after):
            return []
        surplus = [lane.waiting.pop() for _ in range(len(lane.waiting) - self.per_target)]
        surplus.reverse()
        self._held -= len(surplus)
        self._cond.notify_all()
        return surplus

    def _watch(self) -> None:
        """Set aside the surplus of every lane that turned slow since it was routed to."""
        with self._cond:
            now = time.monotonic()
            aside = [item for lane in self._lanes.values() for item in self._trim(lane, now)]
            self.set_aside += len(aside)
        self._log_aside(aside)

    @staticmethod
    def _log_aside(aside: list[Item]) -> None:
        if aside:
            log.info(
                "%d hook jobs set aside: their target is slow (%s); the sweeper enqueues them again",
                len(aside),
                ", ".join(sorted({i.key for i in aside})),
            )

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every routed job is recorded (or dropped); False if ``timeout`` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._held:
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                self._cond.wait(0.05)
        return True

    # --- runners ---

    def _take(self, key: str) -> list[Item]:
        with self._cond:
            lane = self._lanes[key]
            if not lane.waiting:
                lane.runners -= 1
                if not lane.runners and lane.slow_until <= time.monotonic():
                    del self._lanes[key]
                return []
            # A slow lane's jobs are claimed one at a time (each claim starts a lease), and so are those of a lane
            # none of whose sends has ended yet (its speed unknown: it may be turning slow); a fast lane's runner
            # takes up to CHUNK of them in one claim.
            # Its chunk is sent one job after the other: no more than fit in a quarter of a lease at the lane's
            # last send time (a job that still waits too long has its lease renewed before its send).
            fit = int(self.lease / 4 / max(lane.last_took, 0.001))
            now = time.monotonic()
            known = lane.last_took > 0 and not lane.slow(now, self.slow_after)
            size = max(1, min(CHUNK, fit)) if known else 1
            self._cond.notify_all()  # the main loop may be waiting for this lane to drain
            return [lane.waiting.popleft() for _ in range(min(size, len(lane.waiting)))]

    def _done(self, count: int) -> None:
        with self._cond:
            self._held -= count
            self._cond.notify_all()

    def _run(self, key: str) -> None:
        while True:
            items = self._take(key)
            if not items:
                return
            try:
                self._deliver(key, items)
            except Exception:
                log.exception("lane runner failed; the leases of what it claimed let the sweeper retry them")
                db.session.rollback()

    def _deliver(self, key: str, items: list[Item]) -> None:
        settings = current_settings()
        try:
            claimed = deliver.claim_many([item.id for item in items], settings)
        except Exception:
            db.session.rollback()
            self._done(len(items))
            raise
        finally:
            db.session.remove()
        self._done(len(items) - len(claimed))
        me = threading.get_ident()
        for claim in claimed:
            now = time.monotonic()
            one: deliver.Claimed | None = claim
            if now - claim.claimed_at > RENEW_AFTER and now + self.send_budget > claim.deadline:
                # It waited behind others of its chunk (a target turned slow): a fresh lease before its send.
                try:
                    one = claim.renewed(settings)
                except Exception:
                    db.session.rollback()
                    log.exception("hook job %s: its lease could not be renewed; left to the sweeper", claim.job.id)
                    one = None
                finally:
                    db.session.remove()
            if one is None:
                self._done(1)  # no longer ours: the sweeper moved it on (worker_lost) or it was stopped
                continue
            began = time.monotonic()
            with self._cond:
                self._lanes[key].sending[me] = began
            result: hook_jobs.AttemptResult | None = None
            failed = False
            try:
                # None: rescheduled for the target's max_per_second slot (nothing sent, nothing to record).
                with logs.hook_job_bound(one.job.uuid):
                    result = deliver.send_one(one.job, one.target, settings, one.deadline)
            except Exception:
                failed = True
                log.exception("hook job %s: the send failed unexpectedly; left to its lease", one.job.id)
            finally:
                db.session.remove()
            took = time.monotonic() - began
            with self._cond:
                lane = self._lanes[key]
                lane.sending.pop(me, None)
                lane.last_took = max(took, 1e-6)  # > 0: a send of this lane has ended
                self._took[key] = lane.last_took
                self._took.move_to_end(key)
                if len(self._took) > KNOWN_TARGETS:
                    self._took.popitem(last=False)
                timed_out = result is not None and result.error_class in _TIMEOUTS
                slow = failed or took > self.slow_after or timed_out
                lane.progressed_at = time.monotonic()
                lane.slow_until = lane.progressed_at + SLOW_FOR if slow else 0.0
            if result is None:
                self._done(1)
            else:
                self._results.put((one, result))

    # --- the recorder ---

    def _record_loop(self) -> None:
        with self.app.app_context():
            watched = time.monotonic()
            while True:
                if time.monotonic() - watched >= WATCH_EVERY:
                    self._watch()
                    watched = time.monotonic()
                try:
                    first = self._results.get(timeout=WATCH_EVERY)
                except fifo.Empty:
                    continue
                if first is None:
                    return
                group = [first]
                while len(group) < RECORD_GROUP:
                    try:
                        more = self._results.get_nowait()
                    except fifo.Empty:
                        break
                    if more is None:
                        self._results.put(None)
                        break
                    group.append(more)
                try:
                    deliver.record_group(group, current_settings())
                except Exception:
                    db.session.rollback()
                    log.exception("%d attempts could not be saved; their leases let the sweeper retry them", len(group))
                finally:
                    db.session.remove()
                    self._done(len(group))

    def close(self) -> None:
        """Finish what was routed, then stop the threads."""
        self.drain()
        self._results.put(None)
        self._recorder.join(timeout=30)
        self._pool.shutdown(wait=True)


_current: Dispatcher | None = None


def start(app: Flask) -> Dispatcher:
    """This process's dispatcher for ``app`` (the worker loop starts it, and :func:`stop` ends it)."""
    global _current
    if _current is not None and _current.app is not app:
        stop()
    if _current is None:
        _current = Dispatcher(app)
    return _current


def stop() -> None:
    """Finish every routed job (sent, recorded), then end the dispatcher's threads."""
    global _current
    if _current is not None:
        dispatcher, _current = _current, None
        dispatcher.close()


def current() -> Dispatcher | None:
    return _current


def deliver_batch(items: list[list[Any]]) -> str:
    """RQ job: the hook jobs of one enqueue (``[[id, uuid, target key], ...]``), routed to this worker's lanes.

    Returns at once; the sends and their records follow on the dispatcher's threads. Without a dispatcher (a
    plain ``rq worker`` running Dockhook's jobs) the batch is delivered here, one job after the other.
    """
    settings = current_settings()
    routed = [Item(int(i[0]), str(i[1]), str(i[2]) if len(i) > 2 else "") for i in items]
    if settings.redis_url:
        queue.forget_batch(settings.redis_url, [item.uuid for item in routed])
    dispatcher = current()
    if dispatcher is not None:
        aside = dispatcher.route(routed)
        return f"routed {len(routed) - aside}, set aside {aside}"
    outcomes = [deliver.deliver(item.id) for item in routed]
    return ", ".join(outcomes)
