"""Real processes for the benchmarks that compare against other deployments: Dockhook workers, plain ``rq worker``s
and gunicorn, each started here (tests.support.processes: own session, log file) and stopped by its PID."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import redis
from rq import Queue, Worker

from tests.support import processes, replay
from tests.support.processes import ROOT, VENV_BIN, clean_env

BARE_QUEUE = "bench-bare"
last_gunicorn_pid = [0]
_LOGS = Path(tempfile.mkdtemp(prefix="dockhook-bench-logs-"))


def env(database_url: str, redis_url: str | None, **values: str) -> dict[str, str]:
    """What every Dockhook process of a benchmark gets: the database, Redis, the captured registry's token."""
    extra = {
        "DATABASE_URL": database_url,
        "DOCKHOOK_NOTIFY_TOKEN": replay.TOKEN,
        "DOCKHOOK_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
    }
    if redis_url:
        extra["REDIS_URL"] = redis_url
    return clean_env(**{**extra, **values})


def _registered(redis_url: str, queue: str) -> int:
    connection = redis.Redis.from_url(redis_url)
    try:
        return len(Worker.all(queue=Queue(queue, connection=connection)))
    finally:
        connection.close()


def _wait_registered(redis_url: str, queue: str, count: int, started: list[processes.Process]) -> None:
    deadline = time.monotonic() + 60
    while _registered(redis_url, queue) < count:
        for process in started:
            if not process.running():
                raise RuntimeError(f"a worker exited while starting:\n{process.log_tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{count} workers did not register on {queue} within 60 s")
        time.sleep(0.05)


@contextlib.contextmanager
def workers(
    kind: str, count: int, redis_url: str, database_url: str = "", **settings: str
) -> Iterator[list[processes.Process]]:
    """``count`` idle workers of ``kind``, registered with RQ before this yields; stopped (SIGTERM) after.

    kind: ``dockhook`` (``python worker.py``), ``rq-simple`` (``rq worker -w rq.worker.SimpleWorker``: the plain
    RQ job in-process) or ``rq-fork`` (``rq worker``: RQ's default, one fork per job)."""
    started: list[processes.Process] = []
    try:
        for number in range(count):
            if kind == "dockhook":
                argv = [str(VENV_BIN / "python"), "worker.py", "--name", f"bench-{number}"]
                process_env = env(database_url, redis_url, **settings)
                queue = "hooks"
            else:
                argv = [str(VENV_BIN / "rq"), "worker", "--quiet", "--url", redis_url, BARE_QUEUE]
                if kind == "rq-simple":
                    argv[2:2] = ["-w", "rq.worker.SimpleWorker"]
                process_env = clean_env(PYTHONPATH=str(ROOT))
                queue = BARE_QUEUE
            started.append(processes.start(f"{kind}-{number}", argv, _LOGS, env=process_env, cwd=ROOT))
        _wait_registered(redis_url, queue, count, started)
        yield started
    finally:
        for process in started:
            process.stop(timeout=20)


@contextlib.contextmanager
def gunicorn(app: str, database_url: str, redis_url: str | None, **settings: str) -> Iterator[str]:
    """gunicorn with the deployment's config (deploy/gunicorn.conf.py) serving ``app``; yields its base URL
    (the master's PID is in ``last_gunicorn_pid`` meanwhile)."""
    port = processes.free_port()
    process = processes.start(
        f"gunicorn-{app.replace(':', '-')}-{port}",
        [str(VENV_BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", app],
        _LOGS,
        env=env(database_url, redis_url, DOCKHOOK_BIND=f"127.0.0.1:{port}", **settings),
        cwd=ROOT,
    )
    try:
        processes.wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=60, process=process)
        last_gunicorn_pid[0] = process.pid
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop(timeout=20)
