"""Chaos harness: a real Dockhook stack on loopback, the faults to inflict on it, and the no-loss checks.

Everything here is a real process or a real socket: gunicorn, ``python worker.py`` RQ workers and
the sweeper (``flask --app wsgi hooks sweep``) as subprocesses; a redis-server and (for the
restart scenario) a PostgreSQL cluster of the test's own; webhook targets that are loopback HTTP
servers recording every POST; and a registry-style sender thread that re-sends an event (same id)
until Dockhook answers 2xx, in order, as docker/distribution does. Every process is started here
and stopped by its PID; nothing is looked up by name.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import redis
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.models import Event, HookAttempt, HookJob
from tests.support import processes, replay
from tests.support.processes import ROOT, VENV_BIN, clean_env
from tests.support.redis_server import binary as redis_server_binary
from tests.support.sinks import Received, Reply, Sink

PG_BIN = Path("/usr/lib/postgresql/15/bin")
FINAL = frozenset({"success", "error", "stopped"})
START_TIMEOUT = 30.0
DRAIN_TIMEOUT = 60.0
PROJECT = "library"
NOTIFICATION_TYPE = "application/vnd.docker.distribution.events.v1+json"

# Short enough that a scenario drains in seconds, long enough to be a real schedule (7 attempts over ~12 s).
SETTINGS = {
    "DOCKHOOK_RETRY_SCHEDULE": "1s,1s,2s,2s,3s,3s",
    "DOCKHOOK_JOB_TIMEOUT": "5",
    "DOCKHOOK_SWEEP_GRACE": "2",
    "DOCKHOOK_HTTP_READ_TIMEOUT": "2",
    "DOCKHOOK_HTTP_CONNECT_TIMEOUT": "2",
    # The least wait after a 429 or a timeout (60 s by default, as Svix) scaled down with the schedule.
    "DOCKHOOK_RETRY_OVERLOAD_MIN": "2",
}
SWEEP_EVERY = "0.5"

# Talk to 127.0.0.1 directly, whatever *_proxy variables the environment has.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def wait_for(check: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.1) -> Any:
    """Call ``check`` until it returns something truthy; return it, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(interval)


# One request without any proxy (an HTTP error status is returned, not raised).
http = processes.http_request


# --- Redis and PostgreSQL of the test's own ----------------------------------------------------------


class RedisServer:
    """A redis-server on a free loopback port, without persistence: a restart comes back empty."""

    def __init__(self, log_dir: Path) -> None:
        self.port = processes.free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_dir = log_dir
        self.directory = log_dir / f"redis-{self.port}"
        self.directory.mkdir()
        self.process: processes.Process | None = None

    def start(self) -> None:
        argv = [redis_server_binary(), "--bind", "127.0.0.1", "--port", str(self.port)]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        self.process = processes.start(f"redis-{self.port}", argv, self.log_dir, env=clean_env())
        wait_for(self.ping, timeout=START_TIMEOUT, what=f"redis-server on port {self.port}", interval=0.05)

    def ping(self) -> bool:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=2)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=5)

    def flushall(self) -> None:
        client = self.client()
        try:
            client.flushall()
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


class PostgresCluster:
    """A PostgreSQL 15 cluster of the test's own (initdb + pg_ctl as the ``postgres`` user), so it can be restarted.

    Its directory is a fresh ``/tmp`` directory owned by ``postgres`` (pytest's tmp dirs are root-only).
    """

    def __init__(self) -> None:
        self.port = processes.free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="dockhook-pg-"))
        self.data = self.directory / "data"
        self.log_file = self.directory / "postgres.log"
        shutil.chown(self.directory, "postgres", "postgres")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/dockhook"

    @staticmethod
    def available() -> str | None:
        """Why this cluster cannot run here, or None."""
        if not (PG_BIN / "pg_ctl").exists():
            return f"no PostgreSQL binaries in {PG_BIN}"
        if shutil.which("runuser") is None:
            return "runuser is missing"
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return "there is no postgres user"
        return None

    def _as_postgres(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["runuser", "-u", "postgres", "--", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.directory,
            env=clean_env(),
        )

    def init(self) -> None:
        result = self._as_postgres(
            str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"
        )
        assert result.returncode == 0, f"initdb failed:\n{result.stdout}\n{result.stderr}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        result = self._as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log_file), "-w", "-t", "30", "-o", options,
            "start",
        )  # fmt: skip
        assert result.returncode == 0, f"pg_ctl start failed:\n{result.stdout}\n{result.stderr}\n{self.log_tail()}"

    def stop(self) -> None:
        """Fast shutdown (clients are disconnected, the data is consistent) and wait for it."""
        if self.pid() is None:
            return
        result = self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")
        if result.returncode != 0 and (pid := self.pid()) is not None:
            # Immediate shutdown of the postmaster this cluster wrote in its pid file.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGQUIT)

    def pid(self) -> int | None:
        try:
            pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def create_database(self) -> None:
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute('CREATE DATABASE "dockhook"')

    def log_tail(self) -> str:
        return processes.tail(self.log_file)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


# --- webhook targets ----------------------------------------------------------------------------------


class AnsweringSink(Sink):
    """A :class:`Sink` that also remembers, in order, the status it answered each ``webhook-id``
    (so a duplicate of a delivery the target had already acknowledged can be told from a retry)."""

    def __init__(self) -> None:
        self.answers: list[tuple[str, int]] = []
        self._answers_lock = threading.Lock()
        self._script: Callable[[Received], Reply] = lambda _: Reply()
        super().__init__()

    @property  # type: ignore[override]
    def respond(self) -> Callable[[Received], Reply]:
        def answer(request: Received) -> Reply:
            reply = self._script(request)
            with self._answers_lock:
                self.answers.append((request.headers.get("webhook-id", ""), reply.status))
            return reply

        return answer

    @respond.setter
    def respond(self, script: Callable[[Received], Reply]) -> None:
        self._script = script


class SwitchableSink(AnsweringSink):
    """A :class:`Sink` that can go down (connection refused, open connections cut) and come back on the same port."""

    def __init__(self) -> None:
        self._connections: set[socket.socket] = set()
        self._handler: Any = None
        super().__init__()
        self.port = int(self.server.server_address[1])
        self._handler = self.server.RequestHandlerClass
        self._track(self.server)
        self.up = True

    def _track(self, server: ThreadingHTTPServer) -> None:
        plain = server.process_request

        def process_request(request: Any, client_address: Any) -> None:
            self._connections.add(request)
            plain(request, client_address)

        server.process_request = process_request  # type: ignore[method-assign]

    def go_down(self) -> None:
        """Stop listening and cut every keep-alive connection: the next POST gets connection refused/reset."""
        self.server.shutdown()
        self.server.server_close()
        for connection in list(self._connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._connections.clear()
        self.up = False

    def come_up(self) -> None:
        """Listen again on the same port, recording into the same list."""
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler)
        server.daemon_threads = True
        self._track(server)
        self.server = server
        # As the tests' Sink: a shutdown (the target going down) is seen within 0.05 s, not the default 0.5 s.
        self.thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.up = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def close(self) -> None:
        if self.up:
            super().close()


def receipts(sinks: Iterable[Sink]) -> Counter[str]:
    """How many POSTs each ``webhook-id`` reached the targets with ("" for a POST without one)."""
    counts: Counter[str] = Counter()
    for sink in sinks:
        for request in list(sink.received):
            counts[request.headers.get("webhook-id", "")] += 1
    return counts


def after_2xx(sinks: Iterable[Sink]) -> int:
    """Deliveries of a ``webhook-id`` the same target had already answered 2xx: what a receiver must dedupe."""
    count = 0
    for sink in sinks:
        acknowledged: set[str] = set()
        for webhook_id, status in list(getattr(sink, "answers", [])):
            if webhook_id in acknowledged:
                count += 1
            elif 200 <= status < 300:
                acknowledged.add(webhook_id)
    return count


def slow(low: float, high: float) -> Callable[[Received], Reply]:
    return lambda _: Reply(delay=random.uniform(low, high))


# --- the registry --------------------------------------------------------------------------------------


def template_event() -> dict[str, Any]:
    """The manifest push of a real capture (skopeo pushing alpine:3.19 to docker/distribution)."""
    delivery = replay.deliveries("push_oci_alpine_3.19")[-1]
    (event,) = json.loads(delivery.body)["events"]
    assert event["action"] == "push" and event["target"]["mediaType"].startswith("application/vnd.oci.image.manifest")
    return dict(event)


@dataclass
class SenderStats:
    events: int = 0  # distinct events the sender started on
    acked: set[str] = field(default_factory=set)  # distinct event ids answered 2xx
    posts: int = 0  # every POST, re-sends included
    refused: Counter[str] = field(default_factory=Counter)  # non-2xx answers and connection errors, by kind
    recorded: int = 0  # sum of "recorded" over the 2xx answers
    duplicates: int = 0  # sum of "duplicates" over the 2xx answers
    gave_up: list[str] = field(default_factory=list)  # event ids still unanswered at the deadline


class RegistrySender(threading.Thread):
    """Sends ``count`` push events at ``rate`` per second to ``/service/notifications``, like docker/distribution:
    strictly in order, one envelope per event, and an event that gets a non-2xx answer or a connection error
    is sent again (same id) after ``backoff`` until it is answered 2xx or ``deadline`` (monotonic) passes.

    ``copies`` > 1 sends each event that many times in all, one after another; every ``concurrent_every``-th
    event sends its copies at the same moment from as many threads instead.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        count: int,
        rate: float,
        deadline: float,
        copies: int = 1,
        concurrent_every: int = 0,
        backoff: float = 0.2,
        timeout: float = 2.0,
        on_sent: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(name="registry-sender", daemon=True)
        self.endpoint = f"{url}/service/notifications"
        self.headers = {"Content-Type": NOTIFICATION_TYPE, "Authorization": f"Bearer {token}"}
        self.count, self.rate, self.deadline = count, rate, deadline
        self.copies, self.concurrent_every = copies, concurrent_every
        self.backoff, self.timeout = backoff, timeout
        self.on_sent = on_sent
        self.template = template_event()
        self.stats = SenderStats()
        self.ids: list[str] = []
        self.started_at = self.finished_at = 0.0
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def envelope(self, index: int, event_id: str) -> bytes:
        event = copy.deepcopy(self.template)
        event["id"] = event_id
        event["target"]["tag"] = f"chaos-{index}"
        event["request"]["id"] = str(uuid.uuid4())
        return json.dumps({"events": [event]}).encode()

    def run(self) -> None:
        self.started_at = time.monotonic()
        try:
            for index in range(self.count):
                pause = self.started_at + index / self.rate - time.monotonic()
                if pause > 0 and self._stopping.wait(pause):
                    return
                if self._stopping.is_set() or time.monotonic() >= self.deadline:
                    return
                event_id = str(uuid.uuid4())
                self.ids.append(event_id)
                body = self.envelope(index, event_id)
                with self._lock:
                    self.stats.events += 1
                if self.copies > 1 and self.concurrent_every and index % self.concurrent_every == 0:
                    # All the copies at the same moment, from as many threads.
                    threads = [threading.Thread(target=self.deliver, args=(event_id, body)) for _ in range(self.copies)]
                    for thread in threads:
                        thread.start()
                    for thread in threads:
                        thread.join()
                else:
                    for _ in range(self.copies):
                        if not self.deliver(event_id, body):
                            break
                if event_id not in self.stats.acked:
                    return  # in order: nothing after an event that never got through
                if self.on_sent is not None:
                    self.on_sent(index)
        except BaseException as exc:  # surfaced by verify(): a dead sender must not pass for a short stream
            self.error = exc
        finally:
            self.finished_at = time.monotonic()

    def deliver(self, event_id: str, body: bytes) -> bool:
        """POST until a 2xx (True) or the deadline (False)."""
        while True:
            with self._lock:
                self.stats.posts += 1
            try:
                status, _, answer = http(
                    self.endpoint, method="POST", body=body, headers=self.headers, timeout=self.timeout
                )
            except (OSError, urllib.error.URLError) as exc:
                reason = getattr(exc, "reason", exc)
                status, answer, kind = 0, b"", type(reason).__name__
            else:
                kind = str(status)
            if 200 <= status < 300:
                document = json.loads(answer)
                with self._lock:
                    self.stats.acked.add(event_id)
                    self.stats.recorded += int(document.get("recorded", 0))
                    self.stats.duplicates += int(document.get("duplicates", 0))
                return True
            with self._lock:
                self.stats.refused[kind] += 1
            if self._stopping.is_set() or time.monotonic() + self.backoff >= self.deadline:
                with self._lock:
                    self.stats.gave_up.append(event_id)
                return False
            time.sleep(self.backoff)


# --- the Dockhook stack --------------------------------------------------------------------------------


def _loopback_sockets(local_ports: set[int], remote_port: int) -> set[str]:
    """Inodes of the IPv4 TCP sockets from one of ``local_ports`` to ``remote_port`` (``/proc/net/tcp``)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], fields[9]
        if int(local.split(":")[1], 16) in local_ports and int(remote.split(":")[1], 16) == remote_port:
            inodes.add(inode)
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    """Inodes of the sockets process ``pid`` holds open (``/proc/<pid>/fd``)."""
    inodes = set()
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for fd in os.scandir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                link = os.readlink(fd.path)
                if link.startswith("socket:["):
                    inodes.add(link[len("socket:[") : -1])
    return inodes


def rq_worker_key(process: processes.Process) -> str:
    """RQ's key for a ``worker.py --name NAME`` process: Dockhook appends the pid to the name."""
    return f"rq:worker:{process.name}.{process.pid}"


@dataclass
class Stack:
    """Dockhook on one database and one Redis: gunicorn (2 web workers), RQ workers, the sweeper.

    A supervisor thread keeps the number of RQ workers up, as systemd's ``Restart=always`` would: it
    replaces a worker the test killed, and one that exited on its own (counted in ``worker_exits``,
    which no scenario expects).
    """

    database_url: str
    redis: RedisServer
    log_dir: Path
    token: str
    port: int = 0
    gunicorn: processes.Process | None = None
    workers: list[processes.Process] = field(default_factory=list)
    sweeper: processes.Process | None = None
    extra_settings: dict[str, str] = field(default_factory=dict)
    worker_exits: list[tuple[str, int | None]] = field(default_factory=list)
    _engine: Engine | None = None
    _worker_serial: int = 0
    _slots: int = 0
    _killed: set[int] = field(default_factory=set)
    _buried: set[int] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _supervisor: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return clean_env(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis.url,
            DOCKHOOK_NOTIFY_TOKEN=self.token,
            DOCKHOOK_BIND=f"127.0.0.1:{self.port}",
            DOCKHOOK_WEB_WORKERS="2",
            **SETTINGS,
            **self.extra_settings,
        )

    def start(self, workers: int) -> None:
        """Start every process at once, then wait until each is ready."""
        self.port = processes.free_port()
        self.gunicorn = processes.start(
            "gunicorn",
            [str(VENV_BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "wsgi:app"],
            self.log_dir,
            env=self.env(),
            cwd=ROOT,
        )
        self._slots = workers
        names = [self._spawn_worker() for _ in range(workers)]
        self.sweeper = processes.start(
            "sweeper",
            [str(VENV_BIN / "flask"), "--app", "wsgi", "hooks", "sweep", "--every", SWEEP_EVERY],
            self.log_dir,
            env=self.env(),
            cwd=ROOT,
        )
        processes.wait_for_http(f"{self.url}/api/v2.0/projects", timeout=START_TIMEOUT, process=self.gunicorn)
        for name in names:
            self.wait_worker(name)
        self.check_alive()
        self._supervisor = threading.Thread(target=self._supervise, name="worker-supervisor", daemon=True)
        self._supervisor.start()

    def _spawn_worker(self) -> str:
        with self._lock:
            self._worker_serial += 1
            name = f"chaos-worker-{self._worker_serial}"
            process = processes.start(
                name, [str(VENV_BIN / "python"), "worker.py", "--name", name], self.log_dir, env=self.env(), cwd=ROOT
            )
            self.workers.append(process)
        return name

    def _supervise(self) -> None:
        last_round = 0.0
        while not self._stopping.wait(0.1):
            with self._lock:
                for process in self.workers:
                    if not process.running() and process.pid not in self._buried:
                        self._buried.add(process.pid)
                        if process.pid not in self._killed:
                            self.worker_exits.append((process.name, process.popen.returncode))
                missing = self._slots - sum(1 for p in self.workers if p.running())
            # At most one restart round a second: no tight crash loop while a dependency is down.
            if missing > 0 and time.monotonic() - last_round >= 1.0:
                last_round = time.monotonic()
                for _ in range(missing):
                    self._spawn_worker()

    def wait_worker(self, name: str) -> None:
        with self._lock:
            process = next(p for p in self.workers if p.name == name)
        client = self.redis.client()
        try:

            def registered() -> bool:
                if not process.running():
                    raise AssertionError(f"{name} exited at start\n{process.log_tail()}")
                return bool(client.exists(rq_worker_key(process)))

            wait_for(registered, timeout=START_TIMEOUT, what=f"RQ worker {name} registered")
        finally:
            client.close()

    def sending_worker(self, target: Sink) -> processes.Process | None:
        """A running worker in the middle of a delivery to ``target``: it holds the connection on which ``target``
        has read a request and not answered it yet. (RQ's own busy state says nothing here: a worker's RQ job only
        routes its hook jobs, and the sends run on the worker's threads.)"""
        with target._lock:
            ports = set(target.unanswered)
        inodes = _loopback_sockets(ports, int(target.server.server_address[1])) if ports else set()
        if not inodes:
            return None
        with self._lock:
            running = [p for p in self.workers if p.running()]
        return next((p for p in running if _socket_inodes(p.pid) & inodes), None)

    def kill(self, process: processes.Process) -> None:
        """SIGKILL: no warm shutdown, no RQ bookkeeping, the job in hand is abandoned mid-flight.
        The supervisor starts a replacement."""
        with self._lock:
            self._killed.add(process.pid)
        os.kill(process.pid, signal.SIGKILL)
        process.popen.wait(timeout=10)

    def check_alive(self) -> None:
        """Fail if a process of the stack has died on its own (killed workers are expected to be dead)."""
        for process in [self.gunicorn, self.sweeper]:
            assert process is not None
            assert process.running(), f"{process.name} exited ({process.popen.returncode})\n{process.log_tail()}"

    def live_workers(self) -> int:
        with self._lock:
            return sum(1 for p in self.workers if p.running())

    def stop(self) -> None:
        """The supervisor, then the sweeper and workers (SIGTERM: warm shutdown), then gunicorn; each by PID."""
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=10)
        for process in [self.sweeper, *self.workers, self.gunicorn]:
            if process is not None:
                process.stop(timeout=5)
        if self._engine is not None:
            self._engine.dispose()

    def sweeper_totals(self) -> dict[str, int]:
        """What the sweeper logged doing: leases it expired and jobs it (re-)enqueued."""
        totals = {"swept_expired": 0, "swept_enqueued": 0}
        if self.sweeper is None:
            return totals
        text = self.sweeper.log_path.read_text(errors="replace") if self.sweeper.log_path.exists() else ""
        for expired, enqueued in re.findall(r"sweep: (\d+) leases expired, (\d+) enqueued", text):
            totals["swept_expired"] += int(expired)
            totals["swept_enqueued"] += int(enqueued)
        return totals

    def logs(self) -> str:
        parts = [p.log_tail(25) for p in [self.gunicorn, self.sweeper, *self.workers] if p is not None]
        return "\n".join(parts)

    # --- the API ---

    def get_json(self, path: str) -> tuple[Any, dict[str, str]]:
        status, headers, body = http(self.url + path)
        assert status == 200, f"GET {path}: {status} {body[:500]!r}"
        return json.loads(body), headers

    def ensure_project(self, name: str = PROJECT) -> None:
        status, _, body = http(
            f"{self.url}/api/v2.0/projects",
            method="POST",
            body=json.dumps({"project_name": name}).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert status in (201, 409), f"create project {name}: {status} {body[:300]!r}"

    def create_policy(self, addresses: Sequence[str], name: str = "chaos", project: str = PROJECT) -> int:
        """An enabled PUSH_ARTIFACT policy with one http target per address; its id."""
        self.ensure_project(project)
        document = {
            "name": name,
            "event_types": ["PUSH_ARTIFACT"],
            "targets": [{"type": "http", "address": a} for a in addresses],
            "enabled": True,
        }
        path = f"/api/v2.0/projects/{project}/webhook/policies"
        status, headers, body = http(
            self.url + path,
            method="POST",
            body=json.dumps(document).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert status == 201, f"POST {path}: {status} {body[:500]!r}"
        return int(headers["location"].rstrip("/").rsplit("/", 1)[1])

    def policy(self, policy_id: int, project: str = PROJECT) -> dict[str, Any]:
        document, _ = self.get_json(f"/api/v2.0/projects/{project}/webhook/policies/{policy_id}")
        return dict(document)

    def hook_job(self, job_uuid: str) -> dict[str, Any]:
        document, _ = self.get_json(f"/api/v2.0/hook-jobs/{job_uuid}")
        return dict(document)

    def api_job_count(self, project: str = PROJECT) -> int:
        _, headers = self.get_json(f"/api/v2.0/projects/{project}/webhook/hook-jobs?page_size=1&page=1")
        return int(headers["x-total-count"])

    def sender(self, **options: Any) -> RegistrySender:
        return RegistrySender(self.url, self.token, **options)

    # --- the database, read directly ---

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = create_engine(self.database_url, pool_pre_ping=True, pool_size=2)
        return self._engine

    def jobs(self) -> list[HookJob]:
        with Session(self.engine) as session:
            rows = list(session.scalars(select(HookJob).order_by(HookJob.id)))
            session.expunge_all()
            return rows

    def attempts(self) -> list[HookAttempt]:
        with Session(self.engine) as session:
            rows = list(session.scalars(select(HookAttempt).order_by(HookAttempt.id)))
            session.expunge_all()
            return rows

    def events(self) -> list[Event]:
        with Session(self.engine) as session:
            rows = list(session.scalars(select(Event).order_by(Event.id)))
            session.expunge_all()
            return rows

    def registry_event_ids(self) -> list[str]:
        with Session(self.engine) as session:
            return [str(r) for r in session.scalars(select(Event.registry_event_id))]

    def status_counts(self) -> Counter[str]:
        with Session(self.engine) as session:
            return Counter(
                {
                    str(s): int(n)
                    for s, n in session.execute(select(HookJob.status, func.count()).group_by(HookJob.status))
                }
            )

    def wait_all_final(self, timeout: float = DRAIN_TIMEOUT) -> float:
        """Wait until every hook job is final; return when (monotonic). Fails with the statuses and log tails."""
        deadline = time.monotonic() + timeout
        counts: Counter[str] = Counter()
        while time.monotonic() < deadline:
            try:
                counts = self.status_counts()
            except Exception as exc:  # the database may still be coming back
                counts = Counter({f"unreadable: {type(exc).__name__}": 1})
            if counts and all(status in FINAL for status in counts):
                return time.monotonic()
            time.sleep(0.2)
        raise AssertionError(
            f"hook jobs not all final within {timeout} s: {dict(counts)}; live workers {self.live_workers()}\n"
            f"{self.logs()}"
        )


# --- the verdict ----------------------------------------------------------------------------------------


@dataclass
class Figures:
    """What one scenario measured; ``losses`` must be 0."""

    scenario: str
    events: int = 0
    posts: int = 0
    refused: int = 0
    hook_jobs: int = 0
    deliveries: int = 0
    duplicates: int = 0
    dup_after_2xx: int = 0
    attempts: int = 0
    worker_lost: int = 0
    losses: int = 0
    drain_s: float = 0.0
    total_s: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        notes = "".join(f" {k}={v}" for k, v in self.notes.items())
        return (
            f"{self.scenario}: events={self.events} posts={self.posts} refused={self.refused} "
            f"hook_jobs={self.hook_jobs} deliveries={self.deliveries} duplicates={self.duplicates} "
            f"dup_after_2xx={self.dup_after_2xx} "
            f"attempts={self.attempts} worker_lost={self.worker_lost} losses={self.losses} "
            f"drain={self.drain_s:.1f}s total={self.total_s:.1f}s statuses={self.statuses}{notes}"
        )


def verify(
    scenario: str,
    stack: Stack,
    sender: RegistrySender,
    sinks: Sequence[Sink],
    *,
    drained_from: float,
    expected_jobs: int | None = None,
    all_success: bool = True,
    started: float = 0.0,
    drain_timeout: float = DRAIN_TIMEOUT,
    notes: Mapping[str, Any] | None = None,
    into: list[Figures] | None = None,
    allow_worker_exits: bool = False,
) -> tuple[Figures, list[HookJob], list[HookAttempt]]:
    """Wait until every hook job is final, then check the no-loss invariants; return the figures.

    1. every hook job is final; 2. every ``success`` job reached its target (by ``webhook-id``);
    3. no target saw a ``webhook-id`` that is not a hook job; 4. duplicates carry one job's id, and no job
    was received more often than it was attempted; 5. the events the sender got a 2xx for are exactly
    the events Dockhook recorded, and hook jobs = events × matching targets (``expected_jobs``, default
    events × number of sinks); 6. (``all_success``) every hook job is ``success``.
    """
    assert not sender.is_alive(), "the sender is still running"
    assert sender.error is None, f"the sender failed: {sender.error!r}"
    stats = sender.stats
    assert not stats.gave_up, f"the sender gave up on {len(stats.gave_up)} events at its deadline: {stats.refused}"
    done = stack.wait_all_final(drain_timeout)
    stack.check_alive()
    jobs, attempts = stack.jobs(), stack.attempts()
    recorded_ids = stack.registry_event_ids()
    seen = receipts(sinks)

    by_uuid = {job.uuid: job for job in jobs}
    not_final = [j.uuid for j in jobs if j.status not in FINAL]
    unreceived = [j.uuid for j in jobs if j.status == "success" and seen[j.uuid] == 0]
    strangers = {wid: n for wid, n in seen.items() if wid not in by_uuid}
    attempts_of = Counter(a.hook_job_id for a in attempts)
    overdelivered = {j.uuid: (seen[j.uuid], attempts_of[j.id]) for j in jobs if seen[j.uuid] > attempts_of[j.id]}
    unacked_recorded = sorted(set(recorded_ids) - stats.acked)
    acked_unrecorded = sorted(stats.acked - set(recorded_ids))
    expected = expected_jobs if expected_jobs is not None else len(stats.acked) * len(sinks)
    not_success = [j.uuid for j in jobs if j.status != "success"] if all_success else []

    figures = Figures(
        scenario=scenario,
        events=len(stats.acked),
        posts=stats.posts,
        refused=sum(stats.refused.values()),
        hook_jobs=len(jobs),
        deliveries=sum(seen.values()),
        duplicates=sum(n - 1 for n in seen.values() if n > 1),
        dup_after_2xx=after_2xx(sinks),
        attempts=len(attempts),
        worker_lost=sum(1 for a in attempts if a.error_class == "worker_lost"),
        losses=len(unreceived) + len(acked_unrecorded) + len(not_final) + len(not_success),
        drain_s=round(done - drained_from, 2),
        total_s=round(time.monotonic() - started, 1) if started else 0.0,
        statuses=dict(Counter(str(j.status) for j in jobs)),
        notes={**(notes or {}), **stack.sweeper_totals()},
    )
    if stats.refused:
        figures.notes["refused_by"] = dict(stats.refused)
    if stack.worker_exits:
        figures.notes["worker_exits"] = len(stack.worker_exits)
    print(f"\n[reliability] {figures.line()}", flush=True)
    if into is not None:
        into.append(figures)
    context = f"{figures.line()}\n{stack.logs()}"
    assert not not_final, f"1. hook jobs not final: {not_final[:5]}\n{context}"
    assert not unreceived, f"2. success jobs never received by their target: {unreceived[:5]}\n{context}"
    assert not strangers, f"3. targets received unknown webhook-ids: {strangers}\n{context}"
    assert not overdelivered, f"4. received more often than attempted (receipts, attempts): {overdelivered}"
    assert len(recorded_ids) == len(set(recorded_ids)), "5. an event was recorded twice"
    assert not acked_unrecorded, f"5. events answered 2xx but not recorded: {acked_unrecorded[:5]}\n{context}"
    assert not unacked_recorded, f"5. events recorded but never answered 2xx: {unacked_recorded[:5]}"
    assert len(stats.acked) == len(recorded_ids) == stats.events, (stats.events, len(stats.acked), len(recorded_ids))
    assert len(jobs) == expected, f"5. {len(jobs)} hook jobs, expected {expected} (events × matching targets)"
    assert not not_success, f"6. jobs not success though the target is healthy: {figures.statuses}\n{context}"
    assert figures.losses == 0
    assert allow_worker_exits or not stack.worker_exits, f"RQ workers exited on their own: {stack.worker_exits}"
    assert stack.api_job_count() == len(jobs), "the API's X-Total-Count disagrees with the database"
    return figures, jobs, attempts
