"""End-to-end fixtures: a migrated database, Dockhook under gunicorn, its RQ worker, Redis, and a
docker-registry notifying Dockhook.

Each test gets its own processes on free ports of 127.0.0.1, logging into its tmp_path; they
are stopped by PID at teardown (the registry first, so nothing is sent to a stopped Dockhook; the
worker before gunicorn). Redis is the session's (``redis_db`` in tests/conftest.py: REDIS_URL or a
redis-server of the session, emptied before and after each test); a test that stops Redis starts
its own (``start_redis``).
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from rq import Queue

from app.queue import QUEUES
from tests.support import databases, processes
from tests.support.processes import ROOT, VENV_BIN, clean_env, migrate
from tests.support.redis_server import binary as redis_server_binary
from tests.support.replay import Delivery

REGISTRY_BIN = "docker-registry"
SKOPEO_BIN = "skopeo"
ENDPOINT = "dockhook"
START_TIMEOUT = 20.0
DRAIN_TIMEOUT = 30.0
# How long a test waits for the worker to deliver, or for a hook job to reach a final status.
DELIVERY_TIMEOUT = 15.0
FINAL_STATUSES = ("success", "error", "stopped")


def missing_tools() -> list[str]:
    return [tool for tool in (REGISTRY_BIN, SKOPEO_BIN) if shutil.which(tool) is None]


@pytest.fixture(params=["sqlite", "postgresql"])
def e2e_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database migrated by the CLI: a SQLite file, or a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        url = databases.sqlite_url(tmp_path)
        migrate(url, tmp_path)
        yield url
        return
    base = databases.postgres_base_url()
    if base is None:
        pytest.skip("PostgreSQL leg skipped: set TEST_DATABASE_URL to run it")
    url = databases.create_postgres_database(base)
    try:
        migrate(url, tmp_path)
        yield url
    finally:
        databases.drop_postgres_database(url)


@dataclass
class Dockhook:
    url: str
    port: int
    token: str
    database_url: str
    redis_url: str
    # The DOCKHOOK_* settings this instance was started with beyond the fixture's own; a worker gets them too.
    settings: dict[str, str]
    process: processes.Process

    def get_json(self, path: str) -> Any:
        status, body = processes.http_get(self.url + path)
        assert status == 200, f"GET {path}: {status} {body[:500]!r}"
        return json.loads(body)

    def post_json(self, path: str, document: Any) -> tuple[int, dict[str, str], bytes]:
        return processes.http_request(
            self.url + path,
            method="POST",
            body=json.dumps(document).encode(),
            headers={"Content-Type": "application/json"},
        )

    def create_project(self, name: str) -> None:
        status, _, body = self.post_json("/api/v2.0/projects", {"project_name": name})
        assert status == 201, f"create project {name}: {status} {body[:500]!r}"

    def create_policy(
        self,
        project: str,
        name: str,
        targets: Sequence[Mapping[str, Any]],
        event_types: Sequence[str] = ("PUSH_ARTIFACT",),
    ) -> int:
        """Create an enabled policy through the API; return its id (from ``Location``)."""
        document = {
            "name": name,
            "event_types": list(event_types),
            "targets": [{"type": "http", "skip_cert_verify": False, **t} for t in targets],
            "enabled": True,
        }
        path = f"/api/v2.0/projects/{project}/webhook/policies"
        status, headers, body = self.post_json(path, document)
        assert status == 201, f"POST {path}: {status} {body[:500]!r}"
        location = urllib.parse.urlsplit(headers.get("location", "")).path
        prefix = f"{path}/"
        assert location.startswith(prefix) and location[len(prefix) :].isdigit(), f"Location: {location!r}"
        return int(location[len(prefix) :])

    def notify(self, delivery: Delivery) -> tuple[int, Any]:
        """POST one captured registry delivery byte for byte with its headers; return status and JSON body."""
        status, _, body = processes.http_request(
            self.url + delivery.path, method="POST", body=delivery.body, headers=delivery.request_headers()
        )
        return status, json.loads(body) if body else None

    def hook_job(self, uuid: str) -> dict[str, Any]:
        return dict(self.get_json(f"/api/v2.0/hook-jobs/{uuid}"))

    def wait_job(
        self, uuid: str, timeout: float = DELIVERY_TIMEOUT, watch: Sequence[processes.Process] = ()
    ) -> dict[str, Any]:
        """Wait until hook job ``uuid`` is in a final status; return it with its attempts."""

        def done() -> dict[str, Any] | None:
            job = self.hook_job(uuid)
            return job if job["status"] in FINAL_STATUSES else None

        return processes.wait_until(
            done,
            timeout=timeout,
            what=f"hook job {uuid} finished",
            processes=[self.process, *watch],
            describe=lambda: self.hook_job(uuid)["status"],
        )

    def drain_and_stop(self, worker: processes.Process, timeout: float = DELIVERY_TIMEOUT) -> None:
        """Wait (bounded) until no delivery waits in Redis, then stop ``worker`` (SIGTERM: RQ's warm shutdown
        finishes the job in hand) and wait until it has exited.

        After that nothing can send another webhook (no sweeper runs in these tests), so a count of what the
        sinks received is final: no sleep "to give a duplicate a chance". A duplicate that was queued has
        been taken and sent by then; one that was in hand was finished before the worker exited.
        """
        connection = redis.Redis.from_url(self.redis_url)
        try:

            def waiting() -> dict[str, int]:
                return {name: Queue(name, connection=connection).count for name in QUEUES}

            processes.wait_until(
                lambda: not any(waiting().values()),
                timeout=timeout,
                what="the delivery queues empty",
                processes=[self.process, worker],
                describe=waiting,
            )
        finally:
            connection.close()
        code = worker.stop(timeout=WORKER_STOP_TIMEOUT)
        assert code == 0, f"the worker did not stop on SIGTERM (exit status {code})\n{worker.log_tail()}"

    def hook_jobs(self, project: str, *statuses: str) -> list[dict[str, Any]]:
        """The project's hook jobs (one page of 100), oldest first; only those in ``statuses`` if given."""
        query = "".join(f"&status={s}" for s in statuses)
        rows = self.get_json(f"/api/v2.0/projects/{project}/webhook/hook-jobs?page_size=100{query}")
        return sorted(rows, key=lambda r: r["id"])

    def wait_final(
        self, project: str, count: int, timeout: float = DELIVERY_TIMEOUT, watch: Sequence[processes.Process] = ()
    ) -> list[dict[str, Any]]:
        """Wait until the project has ``count`` hook jobs, all in a final status; return them oldest first."""

        def done() -> list[dict[str, Any]] | None:
            rows = self.hook_jobs(project)
            return rows if len(rows) == count and all(r["status"] in FINAL_STATUSES for r in rows) else None

        return processes.wait_until(
            done,
            timeout=timeout,
            what=f"{count} finished hook jobs in {project}",
            processes=[self.process, *watch],
            describe=lambda: [(r["policy_name"], r["status"]) for r in self.hook_jobs(project)],
        )


@pytest.fixture
def dockhook_settings() -> dict[str, str]:
    """Extra environment for Dockhook and its worker; override in a test module (e.g. short HTTP timeouts)."""
    return {}


StartDockhook = Callable[..., Dockhook]


@pytest.fixture
def start_dockhook(e2e_database_url: str, redis_db: str, tmp_path: Path) -> Iterator[StartDockhook]:
    """Start Dockhook under real gunicorn (deploy/gunicorn.conf.py, 2 workers); each is stopped at teardown.

    ``start_dockhook(redis_url=None, token=None, **settings)``: the session's Redis unless told
    otherwise, a random notify token unless given (as ``token`` or ``DOCKHOOK_NOTIFY_TOKEN``), and
    ``settings`` as extra environment (the worker fixture gets them too).
    """
    started: list[processes.Process] = []

    def start(redis_url: str | None = None, token: str | None = None, **settings: str) -> Dockhook:
        port = processes.free_port()
        token = settings.pop("DOCKHOOK_NOTIFY_TOKEN", None) or token or secrets.token_urlsafe(24)
        redis_url = redis_url or redis_db
        env = clean_env(
            DATABASE_URL=e2e_database_url,
            REDIS_URL=redis_url,
            DOCKHOOK_BIND=f"127.0.0.1:{port}",
            DOCKHOOK_NOTIFY_TOKEN=token,
            DOCKHOOK_WEB_WORKERS="2",
        )
        env.update(settings)
        name = "gunicorn" if not started else f"gunicorn-{len(started) + 1}"
        process = processes.start(
            name,
            [str(VENV_BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "wsgi:app"],
            tmp_path,
            env=env,
            cwd=ROOT,
        )
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        processes.wait_for_http(f"{url}/healthz", timeout=START_TIMEOUT, process=process)
        return Dockhook(url, port, token, e2e_database_url, redis_url, dict(settings), process)

    try:
        yield start
    finally:
        for process in reversed(started):
            process.stop()


@pytest.fixture
def dockhook(start_dockhook: StartDockhook, dockhook_settings: dict[str, str]) -> Dockhook:
    """Dockhook under real gunicorn on the session's Redis, with a random notify token and ``dockhook_settings``."""
    return start_dockhook(**dockhook_settings)


WORKER_STOP_TIMEOUT = 5.0


@pytest.fixture
def worker(dockhook: Dockhook, tmp_path: Path) -> Iterator[processes.Process]:
    """``python worker.py`` (an RQ worker) on Dockhook's database and Redis with its settings; stopped by PID.

    SIGTERM is RQ's warm shutdown (finish the current job, then exit); after a few seconds it is killed.
    """
    env = clean_env(DATABASE_URL=dockhook.database_url, REDIS_URL=dockhook.redis_url, **dockhook.settings)
    process = processes.start("worker", [str(VENV_BIN / "python"), "worker.py"], tmp_path, env=env, cwd=ROOT)
    connection = redis.Redis.from_url(dockhook.redis_url)
    try:
        processes.wait_until(
            lambda: connection.scard("rq:workers") >= 1,
            timeout=START_TIMEOUT,
            what="the RQ worker registering with Redis",
            processes=[process],
        )
        yield process
    finally:
        connection.close()
        process.stop(timeout=WORKER_STOP_TIMEOUT)


@dataclass
class RedisServer:
    url: str
    port: int
    process: processes.Process

    def stop(self) -> None:
        self.process.stop()


@pytest.fixture
def start_redis(tmp_path: Path) -> Iterator[Callable[[], RedisServer]]:
    """Start a redis-server of the test's own on a free loopback port; stopped by PID (if still running)."""
    started: list[processes.Process] = []

    def start() -> RedisServer:
        port = processes.free_port()
        directory = tmp_path / f"redis-{port}"
        directory.mkdir()
        argv = [redis_server_binary(), "--bind", "127.0.0.1", "--port", str(port)]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(directory)]
        process = processes.start(f"redis-{port}", argv, tmp_path, env=clean_env())
        started.append(process)
        url = f"redis://127.0.0.1:{port}/0"
        connection = redis.Redis.from_url(url, socket_connect_timeout=1)

        def ping() -> bool:
            try:
                return bool(connection.ping())
            except redis.ConnectionError:
                return False

        try:
            processes.wait_until(ping, timeout=START_TIMEOUT, what=f"redis-server on {port}", processes=[process])
        finally:
            connection.close()
        return RedisServer(url, port, process)

    try:
        yield start
    finally:
        for process in reversed(started):
            process.stop()


REGISTRY_CONFIG = """\
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  debug:
    addr: 127.0.0.1:{debug_port}
notifications:
  endpoints:
    - name: {endpoint}
      url: {notify_url}
      headers:
        Authorization: [Bearer {token}]
      timeout: 1s
      threshold: 3
      backoff: 1s
"""


@dataclass
class Registry:
    host: str
    debug_url: str
    process: processes.Process

    def metrics(self) -> dict[str, Any]:
        """The delivery counters of the Dockhook endpoint, from expvar at ``/debug/vars``."""
        status, body = processes.http_get(f"{self.debug_url}/debug/vars")
        assert status == 200, f"/debug/vars: {status}"
        endpoints = json.loads(body)["registry"]["notifications"]["endpoints"]
        for endpoint in endpoints:
            if endpoint["name"] == ENDPOINT:
                return dict(endpoint["Metrics"])
        raise AssertionError(f"no endpoint {ENDPOINT!r} in /debug/vars: {[e.get('name') for e in endpoints]}")

    def wait_drained(self, timeout: float = DRAIN_TIMEOUT) -> dict[str, Any]:
        """Wait until nothing is pending and the counters stay still for a moment; return them.

        ``Pending`` drops only after a delivery was answered, so 0 means Dockhook answered every
        queued event. Two equal readings 0.2 s apart cover an event still on its way into the queue.
        """
        deadline = time.monotonic() + timeout
        previous: dict[str, Any] | None = None
        while True:
            current = self.metrics()
            if current["Pending"] == 0 and current == previous:
                return current
            if time.monotonic() >= deadline:
                return current
            previous = current
            time.sleep(0.2)


@pytest.fixture
def registry(dockhook: Dockhook, tmp_path: Path) -> Iterator[Registry]:
    """docker/distribution with filesystem storage, deletes enabled, notifying Dockhook with its token."""
    port, debug_port = processes.free_port(), processes.free_port()
    while debug_port == port:
        debug_port = processes.free_port()
    config = tmp_path / "registry-config.yml"
    config.write_text(
        REGISTRY_CONFIG.format(
            root=tmp_path / "registry-data",
            port=port,
            debug_port=debug_port,
            endpoint=ENDPOINT,
            notify_url=f"{dockhook.url}/service/notifications",
            token=dockhook.token,
        )
    )
    process = processes.start(
        "registry", [shutil.which(REGISTRY_BIN) or REGISTRY_BIN, "serve", str(config)], tmp_path, env=clean_env()
    )
    try:
        processes.wait_for_http(f"http://127.0.0.1:{port}/v2/", timeout=START_TIMEOUT, process=process)
        debug_url = f"http://127.0.0.1:{debug_port}"
        processes.wait_for_http(f"{debug_url}/debug/vars", timeout=START_TIMEOUT, process=process)
        yield Registry(f"127.0.0.1:{port}", debug_url, process)
    finally:
        process.stop()
