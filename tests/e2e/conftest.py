"""End-to-end fixtures: a migrated database, Dockhook under gunicorn, and a docker-registry notifying it.

Each test gets its own processes on free ports of 127.0.0.1, logging into its tmp_path; they
are stopped by PID at teardown (the registry first, so nothing is sent to a stopped Dockhook).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import databases, processes

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
REGISTRY_BIN = "docker-registry"
SKOPEO_BIN = "skopeo"
ENDPOINT = "dockhook"
START_TIMEOUT = 20.0
DRAIN_TIMEOUT = 30.0


def missing_tools() -> list[str]:
    return [tool for tool in (REGISTRY_BIN, SKOPEO_BIN) if shutil.which(tool) is None]


def clean_env(**values: str) -> dict[str, str]:
    """The current environment without Dockhook's own variables, plus ``values``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DOCKHOOK_") and k not in ("DATABASE_URL", "REDIS_URL", "TEST_DATABASE_URL")
    }
    env.update(values)
    return env


def migrate(database_url: str, log_dir: Path) -> None:
    """``flask --app wsgi db upgrade`` in a subprocess, as an operator would run it."""
    result = subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=clean_env(DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    (log_dir / "migrate.log").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, f"db upgrade failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"


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
    process: processes.Process

    def get_json(self, path: str) -> Any:
        status, body = processes.http_get(self.url + path)
        assert status == 200, f"GET {path}: {status} {body[:500]!r}"
        return json.loads(body)


@pytest.fixture
def dockhook(e2e_database_url: str, tmp_path: Path) -> Iterator[Dockhook]:
    """Dockhook under real gunicorn (deploy/gunicorn.conf.py, 2 workers) with a random notify token."""
    port = processes.free_port()
    token = secrets.token_urlsafe(24)
    env = clean_env(
        DATABASE_URL=e2e_database_url,
        DOCKHOOK_BIND=f"127.0.0.1:{port}",
        DOCKHOOK_NOTIFY_TOKEN=token,
        DOCKHOOK_WEB_WORKERS="2",
    )
    process = processes.start(
        "gunicorn",
        [str(VENV_BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "wsgi:app"],
        tmp_path,
        env=env,
        cwd=ROOT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        processes.wait_for_http(f"{url}/api/v2.0/projects", timeout=START_TIMEOUT, process=process)
        yield Dockhook(url, port, token, e2e_database_url, process)
    finally:
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
