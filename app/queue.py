"""The RQ boundary: queue names, the Redis connection, enqueueing and inspecting deliveries, turn slots.

The only module that imports rq or redis (import-linter checks it). Job functions are named by
dotted path, so ``app`` never imports ``jobs``; the worker loop lives in ``worker.py``.
"""

from __future__ import annotations

import hashlib
import os
import time
import traceback
from collections.abc import Sequence
from typing import Any, NamedTuple

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, SimpleWorker
from rq.exceptions import InvalidJobOperation
from rq.job import Job, JobStatus
from rq.worker import WorkerStatus

# Fresh deliveries first; retries on their own lower-priority queue so a backlog of old
# retries never starves new events (a worker takes from the queues in this order).
HOOKS = "hooks"
HOOKS_RETRY = "hooks-retry"
SLACK = "slack"
QUEUES = (HOOKS, HOOKS_RETRY, SLACK)
DELIVER = "jobs.deliver.deliver"
TEST_TARGET = "jobs.ping.send_test"
# One RQ job carries up to BATCH hook jobs of one enqueue (a fan-out, a sweep): RQ's own bookkeeping, about
# 50 Redis commands per RQ job, is paid once for all of them. Each hook job keeps its own row, claim and attempt.
DELIVER_BATCH = "jobs.dispatch.deliver_batch"
BATCH = 32
# Hook job uuid -> the uuid of the batch (RQ job) carrying it, for the members other than the first: the
# sweeper asks whether a hook job is waiting in Redis. A worker forgets a batch's entries when it takes it.
BATCH_OF = "dockhook:batch-of"

_connections: dict[tuple[int, str], Redis] = {}


class QueueUnavailable(RuntimeError):
    """Redis could not take the jobs; nothing was enqueued for certain."""


def connect(url: str) -> Redis:
    """A plain redis-py client for ``url`` (``redis://``, ``rediss://`` or ``unix://``)."""
    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10, health_check_interval=30)


def connection(url: str) -> Redis:
    """One pooled client per process and URL (a forked child gets its own, never its parent's).

    Short timeouts: the receiver enqueues after its commit, and a hung Redis must not keep the
    registry waiting (the sweeper enqueues whatever did not make it).
    """
    key = (os.getpid(), url)
    if key not in _connections:
        _connections[key] = Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=2, health_check_interval=30)
    return _connections[key]


def queue_for(notify_type: str, retry: bool = False) -> str:
    """Slack and the other chat targets share the chat queue (named ``slack``); retries of http jobs wait on the
    lower-priority retry queue."""
    if notify_type != "http":
        return SLACK
    return HOOKS_RETRY if retry else HOOKS


def target_key(address: str) -> str:
    """A short, non-reversible name for a target address: what a worker's per-target lanes are keyed by
    (the address itself may hold a token, and RQ's job arguments are readable in Redis)."""
    return hashlib.sha256(address.encode()).hexdigest()[:16]


class Delivery(NamedTuple):
    """One hook job to enqueue: its id, its uuid (the ``webhook-id``), the queue, and its target's key."""

    id: int
    uuid: str
    queue: str
    key: str = ""


def enqueue_deliveries(url: str, jobs: Sequence[tuple[int, str, str] | Delivery], job_timeout: int) -> None:
    """Enqueue deliveries in one pipeline, up to BATCH hook jobs per RQ job (``jobs.deliver.deliver_batch``);
    an RQ job's id is the uuid of its first hook job (a lone hook job's RQ job id is its own uuid)."""
    conn = connection(url)
    by_queue: dict[str, list[Delivery]] = {}
    for job in jobs:
        delivery = job if isinstance(job, Delivery) else Delivery(*job)
        by_queue.setdefault(delivery.queue, []).append(delivery)
    try:
        with conn.pipeline() as pipe:
            for name, items in by_queue.items():
                batches = [items[i : i + BATCH] for i in range(0, len(items), BATCH)]
                Queue(name, connection=conn).enqueue_many(
                    [
                        Queue.prepare_data(
                            DELIVER_BATCH,
                            args=([[d.id, d.uuid, d.key] for d in batch],),
                            job_id=batch[0].uuid,
                            timeout=job_timeout,
                            # The database keeps every attempt; an RQ result would only cost Redis memory.
                            result_ttl=0,
                            failure_ttl=86400,
                            description=f"deliver hook jobs {', '.join(str(d.id) for d in batch)}",
                        )
                        for batch in batches
                    ],
                    pipeline=pipe,
                )
                members: dict[Any, Any] = {
                    d.uuid: batch[0].uuid for batch in batches if len(batch) > 1 for d in batch[1:]
                }
                if members:
                    pipe.hset(BATCH_OF, mapping=members)
            pipe.execute()
    except (RedisError, OSError) as exc:
        raise QueueUnavailable(str(exc)) from exc


def forget_batch(url: str, uuids: Sequence[str]) -> None:
    """Best effort: a worker took this batch; its members are no longer waiting in Redis."""
    if len(uuids) > 1:
        try:
            connection(url).hdel(BATCH_OF, *uuids[1:])
        except (RedisError, OSError):
            return


def _batches(conn: Redis, uuids: Sequence[str]) -> dict[str, str]:
    """uuid -> the id of the RQ job carrying it (its own uuid when not a later member of a batch)."""
    carriers = conn.hmget(BATCH_OF, list(uuids)) if uuids else []
    return {u: (c.decode() if isinstance(c, bytes) else str(c or u)) for u, c in zip(uuids, carriers, strict=True)}


def hook_job_uuids(job: Job) -> list[str]:
    """The hook jobs an RQ job carries: a batch's members, or the single hook job of a ``deliver`` job."""
    if job.func_name == DELIVER_BATCH and job.args:
        return [str(item[1]) for item in job.args[0]]
    return [job.id]


def queued_hook_jobs(url: str, name: str) -> list[str]:
    """The uuids of the hook jobs waiting on queue ``name``, in queue order (batches expanded)."""
    conn = connection(url)
    jobs = Job.fetch_many(Queue(name, connection=conn).get_job_ids(), connection=conn)
    return [uuid for job in jobs if job is not None for uuid in hook_job_uuids(job)]


_WAITING = {JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED}


def waiting(url: str, uuids: Sequence[str]) -> set[str]:
    """The uuids whose RQ job (their own, or the batch carrying them) is waiting in a queue. A ``started`` job
    is not counted: after a worker is killed RQ keeps calling it started for many minutes, and the database
    lease is what tells whether a worker still has it; nor is a ``queued`` one that is on no queue's list."""
    if not uuids:
        return set()
    try:
        conn = connection(url)
        carrier = _batches(conn, uuids)
        ids = sorted(set(carrier.values()))
        jobs = [job for job in Job.fetch_many(ids, connection=conn) if job is not None]
        status = {job.id: job.get_status(refresh=False) for job in jobs}
        # A worker killed between taking a job off its queue and marking it started (or deleting it: the lean
        # path) leaves it "queued" on no queue: nobody will ever take it. Only an id still on its queue's list is.
        listed = {
            origin: set(Queue(origin, connection=conn).get_job_ids())
            for origin in {job.origin for job in jobs if status[job.id] == JobStatus.QUEUED}
        }
        waiting_ids = {
            job.id
            for job in jobs
            if status[job.id] in _WAITING and (status[job.id] != JobStatus.QUEUED or job.id in listed[job.origin])
        }
        return {uuid for uuid in uuids if carrier[uuid] in waiting_ids}
    except (RedisError, OSError) as exc:
        raise QueueUnavailable(str(exc)) from exc


def discard(url: str, uuids: Sequence[str]) -> None:
    """Best effort: take these jobs off their queues (a stopped job would be a no-op anyway). A batch is
    cancelled only when every hook job it carries is discarded; the others' claims skip the stopped ones."""
    try:
        conn = connection(url)
        gone = set(uuids)
        carrier = _batches(conn, uuids)
        for job in Job.fetch_many(sorted(set(carrier.values())), connection=conn):
            if job is None or job.get_status(refresh=False) not in _WAITING:
                continue
            if set(hook_job_uuids(job)) <= gone:
                job.cancel()
    except (RedisError, OSError, InvalidJobOperation):
        return


def take_turn(url: str, key: str, interval: float) -> float:
    """Try to take the one slot per ``interval`` seconds for ``key`` (shared by every worker through Redis).

    Returns 0.0 when this caller has the slot, else the seconds until it frees.
    """
    conn = connection(url)
    if conn.set(f"dockhook:turn:{key}", "1", nx=True, px=int(interval * 1000)):
        return 0.0
    left = conn.pttl(f"dockhook:turn:{key}")
    return max(0.01, (left if left and left > 0 else 50) / 1000)


# Virtual scheduling (GCRA): the key holds the next free slot time (ms, Redis clock). A caller whose slot comes
# within ARGV[2] ms takes it (the key moves one interval on) and is told how long to wait for it; any other
# caller takes nothing and is told when the next slot frees. One script: atomic across every worker.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, free)
local wait = slot - now
if wait <= tonumber(ARGV[2]) then
  redis.call('SET', KEYS[1], slot + interval, 'PX', wait + interval + 1000)
  return {1, wait}
end
return {0, wait}
"""


def reserve_slot(url: str, key: str, interval: float, max_wait: float) -> tuple[bool, float]:
    """Reserve the next send slot for ``key``, slots ``interval`` seconds apart across every worker.

    Returns ``(True, wait)`` when a slot ``wait`` seconds away (at most ``max_wait``) is now this caller's, or
    ``(False, wait)`` when the next free slot is further away than ``max_wait``: nothing was reserved.
    """
    conn = connection(url)
    granted, wait_ms = conn.eval(_RESERVE, 1, f"dockhook:rate:{key}", int(interval * 1000), int(max_wait * 1000))  # type: ignore[misc]
    return bool(granted), int(wait_ms) / 1000


class Worker(SimpleWorker):
    """RQ's in-process worker, with a lean path for Dockhook's delivery batches.

    A DELIVER_BATCH job only routes its hook jobs to the worker's lanes and returns at once. RQ's lifecycle around a
    job (started and finished registries, an execution record, job status and timestamps, worker statistics: about
    50 Redis commands, 4–5 ms of this worker's time) would record nothing the database does not keep better: each
    hook job's row, claim, lease and attempts. So a batch is called as soon as it is off its queue and its hash is
    deleted (its result_ttl is 0 anyway): about 10 Redis commands per RQ job in all, counting the loop's own. A
    batch that raises is handed to RQ's failure handling (FailedJobRegistry), as any job; the hook jobs it held are
    still ``pending`` and their rows the sweeper's. Any other job (a target test) takes RQ's whole lifecycle.

    The loop's heartbeat (two commands, sent twice per job by RQ) is sent at most every HEARTBEAT_EVERY seconds:
    the worker's registration lives for minutes.
    """

    LEAN = frozenset({DELIVER_BATCH})
    HEARTBEAT_EVERY = 1.0

    _beaten_at = float("-inf")
    _routing = False

    def execute_job(self, job: Job, queue: Queue) -> None:
        if job.func_name not in self.LEAN:
            super().execute_job(job, queue)
            return
        self._routing = True
        try:
            job.func(*job.args, **job.kwargs)
        except Exception:
            self.log.exception("Worker %s: delivery batch %s failed", self.name, job.id)
            self.handle_job_failure(job, queue, exc_string=traceback.format_exc())
            return
        finally:
            self._routing = False
        self.connection.delete(job.key)

    def get_state(self) -> str:
        """BUSY while a batch routes (not written to Redis): a SIGTERM then stops the loop after the batch, as RQ
        does for any job it runs, instead of raising StopRequested in the middle of it."""
        return WorkerStatus.BUSY if self._routing else super().get_state()

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        if timeout is None and pipeline is None:
            if time.monotonic() - self._beaten_at < self.HEARTBEAT_EVERY:
                return
            self._beaten_at = time.monotonic()
        super().heartbeat(timeout, pipeline)


def new_worker(url: str, name: str | None) -> Worker:
    """An in-process RQ worker on a fresh connection, taking the Dockhook queues in priority order."""
    conn = connect(url)
    return Worker([Queue(q, connection=conn) for q in QUEUES], connection=conn, name=name)


# What a worker loop raises when Redis goes away (a restart, a failover): the loop is started again.
CONNECTION_LOST: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)


# --- Target tests: run on a worker (where deliveries leave from), the API waits for the answer -------------


class Waited(NamedTuple):
    """How a job the caller waited for ended: ``done`` (``value`` is its return value), ``failed`` or ``timeout``."""

    outcome: str
    value: object = None


def run_and_wait(url: str, function: str, args: tuple[object, ...], wait: float, job_timeout: int) -> Waited:
    """Enqueue ``function(*args)`` at the front of the hooks queue and wait up to ``wait`` seconds for its result.

    A job still queued when the wait ends is cancelled (it will not run late); one a worker already started
    finishes on its own. Raises QueueUnavailable when Redis cannot take it.
    """
    deadline = time.monotonic() + wait
    try:
        conn = connection(url)
        job = Queue(HOOKS, connection=conn).enqueue(
            function, args=args, at_front=True, job_timeout=job_timeout, result_ttl=60, failure_ttl=600
        )
        while True:
            result = job.latest_result()
            if result is not None:
                if result.type == result.Type.SUCCESSFUL:
                    return Waited("done", result.return_value)
                return Waited("failed")  # the worker's log has the traceback; the caller says only that it failed
            if time.monotonic() >= deadline:
                if job.get_status(refresh=True) in _WAITING:
                    job.cancel()
                return Waited("timeout")
            time.sleep(0.02)
    except (RedisError, OSError) as exc:
        raise QueueUnavailable(str(exc)) from exc


def take_quota(url: str, key: str, limit: int, window: int, cost: int = 1) -> int:
    """Spend ``cost`` of the ``limit`` allowed per fixed ``window`` seconds for ``key`` (shared by every process).

    Returns 0 when spent, else the seconds until the window ends (nothing is spent then).
    Raises QueueUnavailable when Redis does not answer.
    """
    name = f"dockhook:quota:{key}"
    try:
        conn = connection(url)
        with conn.pipeline(transaction=True) as pipe:
            # The expiry is set with the key, atomically: a counter can never outlive its window.
            pipe.set(name, 0, ex=window, nx=True)
            pipe.incrby(name, cost)
            pipe.ttl(name)
            _, used, left = pipe.execute()
        if int(used) <= limit:
            return 0
        conn.decrby(name, cost)
        return max(1, int(left))
    except (RedisError, OSError) as exc:
        raise QueueUnavailable(str(exc)) from exc


# --- Liveness and operations: heartbeats, queue depths, a ping (read by /readyz, /api/v2.0/health, /metrics) ---

HEARTBEAT_PREFIX = "dockhook:heartbeat:"


class Heartbeat(NamedTuple):
    """One live process's last beat: its kind (``worker``, ``sweeper``), its name, and the beat's age in seconds."""

    kind: str
    name: str
    age: float


def ping(url: str) -> None:
    """Raise QueueUnavailable unless Redis at ``url`` answers a PING."""
    try:
        connection(url).ping()
    except (RedisError, OSError) as exc:
        raise QueueUnavailable(str(exc)) from exc


def beat(url: str, kind: str, name: str, ttl: float) -> None:
    """Record that process ``name`` of ``kind`` is alive now; the key expires after ``ttl`` seconds without a beat.

    Best effort: a Redis that is down is what readiness reports, not a reason for the caller to fail.
    """
    try:
        connection(url).set(f"{HEARTBEAT_PREFIX}{kind}:{name}", repr(time.time()), px=max(1, int(ttl * 1000)))
    except (RedisError, OSError):
        return


def heartbeats(url: str) -> list[Heartbeat]:
    """Every process whose heartbeat has not expired (QueueUnavailable when Redis does not answer)."""
    try:
        conn = connection(url)
        keys = sorted(conn.scan_iter(match=f"{HEARTBEAT_PREFIX}*", count=500))
        values = conn.mget(keys) if keys else []
    except (RedisError, OSError) as exc:
        raise QueueUnavailable(str(exc)) from exc
    now = time.time()
    beats = []
    for key, value in zip(keys, values, strict=True):
        if value is None:  # expired between SCAN and MGET
            continue
        kind, _, name = key.decode(errors="replace").removeprefix(HEARTBEAT_PREFIX).partition(":")
        try:
            age = max(0.0, now - float(value))
        except ValueError:
            continue
        beats.append(Heartbeat(kind, name, age))
    return beats


def depths(url: str) -> dict[str, int]:
    """Jobs waiting in each Dockhook queue (QueueUnavailable when Redis does not answer)."""
    try:
        conn = connection(url)
        return {name: Queue(name, connection=conn).count for name in QUEUES}
    except (RedisError, OSError) as exc:
        raise QueueUnavailable(str(exc)) from exc
