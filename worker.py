"""RQ worker entry point: ``python worker.py [--burst]`` works the Dockhook queues on ``REDIS_URL``."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import threading
import time

from flask import Flask

from app import create_app, logs
from app.config import ConfigError, Settings
from app.queue import CONNECTION_LOST, QUEUES, beat, new_worker
from app.services.health import HEARTBEAT_TTL, WORKER_BEAT
from app.startup import check_secret_keys
from jobs import dispatch

RECONNECT_MIN = 0.5
RECONNECT_MAX = 15.0
# A worker loop that ran this long before losing Redis was healthy: the next wait starts short again.
HEALTHY_RUN = 60.0

log = logging.getLogger("worker")


def reconnect_wait(backoff: float, ran_for: float) -> tuple[float, float]:
    """How long to wait before the next worker loop, and the backoff after that.

    Doubles up to RECONNECT_MAX while Redis keeps failing; a loop that ran HEALTHY_RUN seconds or more
    starts the series over, so an outage hours after the last one waits briefly again.
    """
    wait = RECONNECT_MIN if ran_for >= HEALTHY_RUN else backoff
    return wait, min(wait * 2, RECONNECT_MAX)


def run_worker(app: Flask, url: str, *, burst: bool = False, name: str | None = None) -> bool:
    """Work the Dockhook queues until stopped (or until empty with ``burst``).

    An in-process worker (app/queue.py ``Worker``, RQ's SimpleWorker with a lean path for delivery batches):
    no fork per job to inherit a database pool or an HTTP session, and a batch costs about 10 Redis commands.
    A worker that dies mid-job loses nothing: the hook job's database lease expires and the sweeper re-enqueues it.

    When Redis goes away (a restart, a failover) RQ's worker loop raises out of ``work()``;
    this function waits with backoff and starts a new worker loop instead of exiting, so a
    Redis restart does not take the fleet down with it. The backoff starts over after a loop
    that ran healthy for HEALTHY_RUN seconds, so a second outage hours later waits briefly again.
    """
    backoff = RECONNECT_MIN
    # Sends run on the dispatcher's threads, per-target lanes; the RQ loop only routes hook jobs to them.
    dispatch.start(app)
    try:
        return _work(app, url, burst=burst, name=name, backoff=backoff)
    finally:
        # Stopping (SIGTERM, or burst done): what was routed is sent and recorded before the process goes.
        dispatch.stop()


def _work(app: Flask, url: str, *, burst: bool, name: str | None, backoff: float) -> bool:
    # RQ refuses a name whose registration still looks alive (up to its 420 s TTL after a kill),
    # so a restarted worker with a fixed name would fail to start: the pid keeps names unique.
    if name is not None:
        name = f"{name}.{os.getpid()}"
    while True:
        started = time.monotonic()
        try:
            worker = new_worker(url, name)
            with app.app_context():
                return bool(worker.work(burst=burst, with_scheduler=False))
        except CONNECTION_LOST as exc:
            wait, backoff = reconnect_wait(backoff, time.monotonic() - started)
            log.warning("worker lost Redis (%s); reconnecting in %.1f s", exc, wait)
            time.sleep(wait)
            # The old registration may still look alive in Redis; a new loop takes a fresh name.
            name = None


def start_heartbeat(url: str, name: str) -> threading.Event:
    """Beat every WORKER_BEAT seconds (first at once) until the returned event is set; /readyz, /api/v2.0/health
    and /metrics read the beats. A thread, so a long delivery does not silence it; it dies with the process."""
    stop = threading.Event()

    def loop() -> None:
        while True:
            beat(url, "worker", name, HEARTBEAT_TTL)
            if stop.wait(WORKER_BEAT):
                return

    threading.Thread(target=loop, name="dockhook-heartbeat", daemon=True).start()
    return stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--burst", action="store_true", help="exit once the queues are empty")
    parser.add_argument("--name", help="worker name prefix shown by `rq info` (the pid is appended; default: random)")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"dockhook worker: configuration error: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_format, settings.log_level)
    if settings.redis_url is None:
        print("dockhook worker: REDIS_URL is not set (make run starts a Redis and sets it)", file=sys.stderr)
        return 2
    try:
        check_secret_keys(settings)
    except ConfigError as exc:
        print(f"dockhook worker: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.getLogger(__name__).info("working queues %s on %s", ", ".join(QUEUES), settings.redis_url)
    heartbeat = start_heartbeat(settings.redis_url, f"{socket.gethostname()}:{os.getpid()}")
    try:
        run_worker(create_app(settings), settings.redis_url, burst=args.burst, name=args.name)
    finally:
        heartbeat.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
