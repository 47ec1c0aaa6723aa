"""`make run`'s launcher (scripts/dev.py): one command brings up Redis, gunicorn and a worker; Ctrl-C stops all."""

from __future__ import annotations

import json
import re
import signal
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
import redis

from tests.support import processes, replay
from tests.support.processes import ROOT, clean_env

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def wait_for(predicate, timeout: float, what: str, process: processes.Process) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout} s\n{process.log_tail(60)}")
        time.sleep(0.2)


def test_dev_launcher_runs_everything_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    port = processes.free_port()
    env = clean_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'dev.db'}",
        DOCKHOOK_BIND=f"127.0.0.1:{port}",
        DOCKHOOK_NOTIFY_TOKEN=replay.TOKEN,
    )
    launcher = processes.start(
        "dev", [sys.executable, "scripts/dev.py", "--instance", str(tmp_path / "instance")], tmp_path, env=env, cwd=ROOT
    )
    try:
        base = f"http://127.0.0.1:{port}"
        processes.wait_for_http(f"{base}/api/v2.0/projects", timeout=60, process=launcher)

        # The embedded Redis is up and the worker has registered with it.
        found = re.search(r"started Redis (\d+) on (unix://\S+)", launcher.log_path.read_text())
        assert found, launcher.log_tail()
        redis_pid, redis_url = int(found.group(1)), found.group(2)
        connection = redis.Redis.from_url(redis_url)
        wait_for(lambda: connection.scard("rq:workers") == 1, 30, "no RQ worker registered", launcher)
        children = psutil.Process(launcher.pid).children(recursive=True)
        # gunicorn master + workers, the RQ worker, the sweeper
        cmdlines = [" ".join(c.cmdline()) for c in children]
        assert len(children) >= 4, cmdlines
        assert any("worker.py" in c for c in cmdlines) and any("hooks sweep" in c for c in cmdlines), cmdlines
        started = [*children, psutil.Process(redis_pid)]

        # Migrations ran: a real notification is recorded.
        delivery = replay.deliveries("push_oci_alpine_3.19")[-1]
        request = urllib.request.Request(
            f"{base}/service/notifications", data=delivery.body, headers=delivery.request_headers(), method="POST"
        )
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10) as response:
            assert response.status == 200
        status, body = processes.http_get(f"{base}/api/v2.0/projects/library/repositories")
        assert status == 200
        assert [(r["name"], r["push_count"]) for r in json.loads(body)] == [("library/alpine", 1)]

        # Ctrl-C: the launcher, its children and the Redis server it started all exit.
        launcher.popen.send_signal(signal.SIGINT)
        assert launcher.popen.wait(timeout=30) == 0, launcher.log_tail()
        _, alive = psutil.wait_procs(started, timeout=10)
        assert alive == [], [p.pid for p in alive]
    finally:
        launcher.stop()
