"""`make run`'s launcher (scripts/dev.py): one command brings up Redis, gunicorn and a worker; Ctrl-C stops all.

It is secure by default: it generates a notify token, an API token and a secret key once (kept in
``<instance>/dev-credentials.env``, mode 0600), prints the tokens and a registry ``notifications:``
block, and a registry configured with that block exactly as printed gets its pushes turned into
webhooks. The tests read everything they use from the launcher's output, as a developer would.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import redis

from scripts import oci_image
from tests.e2e.conftest import REGISTRY_BIN, SKOPEO_BIN, missing_tools
from tests.support import processes, replay
from tests.support.processes import ROOT, clean_env
from tests.support.sinks import Sink

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

START_TIMEOUT = 60.0
WEBHOOK_TIMEOUT = 30.0
SKOPEO_TIMEOUT = 30
NETWORKS = ("127.0.0.0/8", "::1/128")


@dataclass
class Launched:
    """A running launcher, what its banner printed, and where it answers."""

    process: processes.Process
    base: str
    output: str
    api_token: str
    notify_token: str
    targets: str
    snippet: str

    def api(self, path: str, *, token: str | None = None, method: str = "GET", document: object = None) -> int:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        body = json.dumps(document).encode() if document is not None else None
        status, _, _ = processes.http_request(self.base + path, method=method, body=body, headers=headers)
        return status

    def final_jobs(self, project: str) -> list[dict[str, object]] | None:
        """The project's hook jobs once every one has ended, else None."""
        status, _, raw = processes.http_request(
            f"{self.base}/api/v2.0/projects/{project}/webhook/hook-jobs",
            headers={"Authorization": f"Bearer {self.api_token}"},
        )
        jobs = json.loads(raw) if status == 200 else []
        return jobs if jobs and all(j["status"] in ("success", "error", "stopped") for j in jobs) else None

    def notify(self, token: str | None) -> int:
        """POST one captured registry notification, with ``Authorization: Bearer <token>`` or none."""
        delivery = replay.deliveries("push_oci_alpine_3.19")[-1]
        headers = {k: v for k, v in delivery.request_headers().items() if k.lower() != "authorization"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        status, _, _ = processes.http_request(
            f"{self.base}/service/notifications", method="POST", body=delivery.body, headers=headers
        )
        return status

    def interrupt(self) -> None:
        """Ctrl-C: the launcher must stop everything and exit 0."""
        self.process.popen.send_signal(signal.SIGINT)
        assert self.process.popen.wait(timeout=30) == 0, self.process.log_tail()


def launch(tmp_path: Path, instance: Path, name: str = "dev", **env_values: str) -> Launched:
    """Start scripts/dev.py on a free loopback port and the test's database; wait until it answers.

    The launcher gets no DOCKHOOK_* variable but its bind (and ``env_values``): the tokens, the key and
    the allowed networks are its own doing.
    """
    port = processes.free_port()
    env = clean_env(DATABASE_URL=f"sqlite:///{tmp_path / 'dev.db'}", DOCKHOOK_BIND=f"127.0.0.1:{port}")
    for variable in [v for v in env if v.startswith("DOCKHOOK_") and v != "DOCKHOOK_BIND"]:
        del env[variable]
    env.update(env_values)
    process = processes.start(
        name, [sys.executable, "scripts/dev.py", "--instance", str(instance)], tmp_path, env=env, cwd=ROOT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        processes.wait_for_http(f"{base}/api/v2.0/openapi.json", timeout=START_TIMEOUT, process=process)
        return parse_banner(process, base)
    except BaseException:
        process.stop()
        raise


def parse_banner(process: processes.Process, base: str) -> Launched:
    output = process.log_path.read_text()

    def line(label: str) -> str:
        found = re.search(rf"^  {label} +(.+)$", output, re.MULTILINE)
        assert found, f"no {label!r} line in the banner\n{process.log_tail(60)}"
        return found.group(1).strip()

    # The registry block: "notifications:" and every indented line after it.
    block = re.search(r"^notifications:\n(?:[ ]+\S.*\n)+", output, re.MULTILINE)
    assert block, f"no notifications: block in the banner\n{process.log_tail(60)}"
    return Launched(process, base, output, line("API token"), line("notify token"), line("targets"), block.group(0))


def test_dev_launcher_runs_everything_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    # A token set in the environment wins over the generated one.
    dev = launch(tmp_path, tmp_path / "instance", DOCKHOOK_NOTIFY_TOKEN=replay.TOKEN)
    try:
        assert dev.notify_token == replay.TOKEN
        assert "notify token on (from the environment), API token on (generated)" in dev.output

        # The embedded Redis is up and the worker has registered with it.
        found = re.search(r"started Redis (\d+) on (unix://\S+)", dev.output)
        assert found, dev.process.log_tail()
        redis_pid, redis_url = int(found.group(1)), found.group(2)
        connection = redis.Redis.from_url(redis_url)
        processes.wait_until(
            lambda: connection.scard("rq:workers") == 1, timeout=30, what="an RQ worker", processes=[dev.process]
        )
        children = psutil.Process(dev.process.pid).children(recursive=True)
        # gunicorn master + workers, the RQ worker, the sweeper
        cmdlines = [" ".join(c.cmdline()) for c in children]
        assert len(children) >= 4, cmdlines
        assert any("worker.py" in c for c in cmdlines) and any("hooks sweep" in c for c in cmdlines), cmdlines
        started = [*children, psutil.Process(redis_pid)]

        # Migrations ran: a real notification is recorded.
        assert dev.notify(replay.TOKEN) == 200
        status, _, body = processes.http_request(
            f"{dev.base}/api/v2.0/projects/library/repositories",
            headers={"Authorization": f"Bearer {dev.api_token}"},
        )
        assert status == 200
        assert [(r["name"], r["push_count"]) for r in json.loads(body)] == [("library/alpine", 1)]

        # Ctrl-C: the launcher, its children and the Redis server it started all exit.
        dev.interrupt()
        _, alive = psutil.wait_procs(started, timeout=10)
        assert alive == [], [p.pid for p in alive]
    finally:
        dev.process.stop()


def test_dev_launcher_generates_tokens_once_prints_them_and_they_work(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    dev = launch(tmp_path, instance)
    try:
        api_token, notify_token = dev.api_token, dev.notify_token
        assert len(api_token) >= 32 and len(notify_token) >= 32 and api_token != notify_token
        assert "notify token on (generated), API token on (generated), secret key generated" in dev.output

        assert dev.api("/api/v2.0/projects") == 401
        assert dev.api("/api/v2.0/projects", token=notify_token) == 401
        assert dev.api("/api/v2.0/projects", token=api_token) == 200
        # The admin account made on the first run: its password printed once, working with HTTP Basic.
        admin = re.search(r"^  admin account admin / (\S+)", dev.output, re.MULTILINE)
        assert admin, dev.output
        basic = "Basic " + base64.b64encode(f"admin:{admin.group(1)}".encode()).decode()
        status, _, _ = processes.http_request(f"{dev.base}/api/v2.0/users/current", headers={"Authorization": basic})
        assert status == 200
        assert dev.notify(None) == 401
        assert dev.notify(api_token) == 401
        assert dev.notify(notify_token) == 200

        # The example curl carries the API token; the networks it allowed are said twice: when set, and in the banner.
        assert f"curl -H 'Authorization: Bearer {api_token}' {dev.base}/api/v2.0/projects" in dev.output
        assert all(network in dev.targets for network in NETWORKS), dev.targets
        assert "DOCKHOOK_ALLOWED_TARGET_NETWORKS is unset: allowing 127.0.0.0/8,::1/128" in dev.output

        credentials = instance / "dev-credentials.env"
        assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
        stored = dict(
            line.split("=", 1) for line in credentials.read_text().splitlines() if line and not line.startswith("#")
        )
        assert stored["DOCKHOOK_API_TOKEN"] == api_token and stored["DOCKHOOK_NOTIFY_TOKEN"] == notify_token
        assert stored["DOCKHOOK_SECRET_KEYS"] not in dev.output, "the secret key is not printed"
        dev.interrupt()
    finally:
        dev.process.stop()

    # A second run reuses all three: the same tokens, and the key that opens the database's secrets
    # (gunicorn refuses to start with another one).
    again = launch(tmp_path, instance, name="dev-again")
    try:
        assert (again.api_token, again.notify_token) == (api_token, notify_token)
        assert "(from dev-credentials.env)" in again.output and "secret key from dev-credentials.env" in again.output
        assert again.api("/api/v2.0/projects", token=api_token) == 200
        assert "admin account admin (exists" in again.output and admin.group(1) not in again.output
        assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
        again.interrupt()
    finally:
        again.process.stop()


REGISTRY_BASE_CONFIG = """\
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: {root}
http:
  addr: 127.0.0.1:{port}
"""


def skopeo(*args: str) -> None:
    argv = [shutil.which(SKOPEO_BIN) or SKOPEO_BIN, *args]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=SKOPEO_TIMEOUT, env=clean_env())
    assert result.returncode == 0, f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"


def test_a_registry_configured_with_the_printed_snippet_gets_its_push_to_a_webhook(tmp_path: Path, sink: Sink) -> None:
    missing = missing_tools()
    if missing:  # under CI a skip here is a failure (tests/conftest.py)
        pytest.skip(f"end-to-end test needs {' and '.join(missing)} on PATH (apt-get install docker-registry skopeo)")

    dev = launch(tmp_path, tmp_path / "instance")
    registry: processes.Process | None = None
    try:
        # The snippet as printed: the receiver's URL and the notify token, nothing else to fill in.
        assert f"url: {dev.base}/service/notifications\n" in dev.snippet, dev.snippet
        assert f'Authorization: ["Bearer {dev.notify_token}"]\n' in dev.snippet, dev.snippet

        # A policy on library, made with the printed API token, pointing at a sink on loopback
        # (which the launcher's allowed networks let deliveries reach).
        assert (
            dev.api("/api/v2.0/projects", token=dev.api_token, method="POST", document={"project_name": "library"})
            == 201
        )
        policy = {
            "name": "pushes",
            "event_types": ["PUSH_ARTIFACT"],
            "targets": [{"type": "http", "address": sink.url, "skip_cert_verify": False}],
            "enabled": True,
        }
        path = "/api/v2.0/projects/library/webhook/policies"
        assert dev.api(path, token=dev.api_token, method="POST", document=policy) == 201

        port = processes.free_port()
        config = tmp_path / "registry-config.yml"
        config.write_text(REGISTRY_BASE_CONFIG.format(root=tmp_path / "registry-data", port=port) + dev.snippet)
        registry = processes.start(
            "registry", [shutil.which(REGISTRY_BIN) or REGISTRY_BIN, "serve", str(config)], tmp_path, env=clean_env()
        )
        processes.wait_for_http(f"http://127.0.0.1:{port}/v2/", timeout=20, process=registry)

        layout = tmp_path / "layout"
        digest = oci_image.build_layout(layout, "1.0")
        skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:1.0", f"docker://127.0.0.1:{port}/library/e2e:1.0")

        got = sink.wait_for(1, timeout=WEBHOOK_TIMEOUT)
        assert got, f"no webhook within {WEBHOOK_TIMEOUT} s\n{dev.process.log_tail(60)}\n{registry.log_tail(30)}"
        # Every hook job the push made has ended (the API says so): nothing else can follow.
        deadline = time.monotonic() + WEBHOOK_TIMEOUT
        while (jobs := dev.final_jobs("library")) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert jobs is not None and [job["status"] for job in jobs] == ["success"], jobs
        (webhook,) = sink.received
        payload = json.loads(webhook.body)
        assert payload["type"] == "PUSH_ARTIFACT"
        assert payload["event_data"]["repository"]["repo_full_name"] == "library/e2e"
        assert [(r["tag"], r["digest"]) for r in payload["event_data"]["resources"]] == [("1.0", digest)]
        assert webhook.headers["webhook-id"]
    finally:
        # The registry first, so it sends nothing to a stopped Dockhook.
        if registry is not None:
            registry.stop()
        dev.process.stop()


# Ctrl-C must be quick and quiet: the launcher's own budget, on a busy 2-core machine too.
STOP_BUDGET = 3.0
# What a clean run may leave in its instance directory: the credentials, Redis' data and its log.
INSTANCE_FILES = {"dev-credentials.env", "redis.db", "redis.log"}
ERROR_MARKERS = ("Traceback", " ERROR ", " CRITICAL ", "SIGKILL", "Exception")


def metric(text: str, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def test_ctrl_c_after_registry_traffic_on_keep_alive_connections_stops_within_3_s_cleanly(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    instance = tmp_path / "instance"
    # TMPDIR: whatever the launcher and its children make with tempfile lands here, so leftovers can be seen.
    dev = launch(tmp_path, instance, TMPDIR=str(scratch))
    started: list[psutil.Process] = []
    connections: list[http.client.HTTPConnection] = []
    try:
        started = psutil.Process(dev.process.pid).children(recursive=True)
        for line in ("  web ", "  workers ", "  dashboard ", "  health ", "  metrics ", "  API docs "):
            assert line in dev.output, f"the banner has no {line.strip()!r} line\n{dev.output}"
        api = {"Authorization": f"Bearer {dev.api_token}"}

        # The workers and the sweeper beat: health says every component is healthy.
        def healthy() -> bool:
            status, _, body = processes.http_request(f"{dev.base}/api/v2.0/health")
            return status == 200 and json.loads(body)["status"] == "healthy"

        processes.wait_until(healthy, timeout=30, what="a healthy Dockhook", processes=[dev.process])

        # Registry traffic as the registry sends it: several envelopes on each of a few kept-alive connections.
        delivery = replay.deliveries("push_oci_alpine_3.19")[-1]
        headers = {k: v for k, v in delivery.request_headers().items() if k.lower() != "authorization"}
        headers["Authorization"] = f"Bearer {dev.notify_token}"
        port = int(dev.base.rsplit(":", 1)[1])
        sent = 0
        for _ in range(3):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connections.append(connection)
            for _ in range(3):
                connection.request("POST", "/service/notifications", body=delivery.body, headers=headers)
                answer = connection.getresponse()
                answer.read()
                assert answer.status == 200 and answer.getheader("Connection", "").lower() != "close"
                sent += 1

        # /metrics adds up every gunicorn worker's counts (multi-process mode, set up by the launcher).
        status, _, body = processes.http_request(f"{dev.base}/metrics", headers=api)
        assert status == 200
        text = body.decode()
        assert metric(text, "dockhook_notifications_total", code="200") == sent
        assert metric(text, "dockhook_registry_events_total", outcome="recorded") == 1
        assert metric(text, "dockhook_registry_events_total", outcome="duplicate") == sent - 1
        assert metric(text, "dockhook_processes_alive", kind="worker") == 1
        assert metric(text, "dockhook_processes_alive", kind="sweeper") == 1

        # Ctrl-C, with the connections still open.
        begun = time.monotonic()
        dev.process.popen.send_signal(signal.SIGINT)
        code = dev.process.popen.wait(timeout=30)
        took = time.monotonic() - begun
        log = dev.process.log_path.read_text()
        assert code == 0, dev.process.log_tail(60)
        assert took < STOP_BUDGET, f"stopped in {took:.1f} s\n{dev.process.log_tail(60)}"
        _, alive = psutil.wait_procs(started, timeout=5)
        assert alive == [], [p.cmdline() for p in alive]
        errors = [line for line in log.splitlines() if any(marker in line for marker in ERROR_MARKERS)]
        assert errors == [], "\n".join(errors)
        assert "alembic" not in log, "no Alembic set-up lines at start"
        assert log.rstrip().endswith("dev: stopped")
        assert sorted(p.name for p in scratch.iterdir()) == [], "temporary files left behind"
        assert {p.name for p in instance.iterdir()} <= INSTANCE_FILES, sorted(p.name for p in instance.iterdir())
    finally:
        for connection in connections:
            connection.close()
        dev.process.stop()
        for child in started:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
