"""``make demo``: Dockhook with a registry and a webhook target, one image pushed, and where to look.

Starts ``make run``'s launcher (scripts/dev.py: Redis, gunicorn, a worker, the sweeper) on an instance of its
own (``instance/demo``: its own SQLite database, credentials and admin account), the demo target
(scripts/sink.py, printing one line per webhook) and a docker/distribution registry configured with the
``notifications:`` block the launcher prints. It then creates the project ``demo`` and a policy sending its
pushes to the target, pushes a small image with skopeo, waits until the webhook is delivered and prints where
to look: the dashboard, the API, the registry to push more to. It opens nothing.

Ctrl-C stops everything it started, the registry first; the registry's storage and the image it pushed live in
a temporary directory that is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts import oci_image  # noqa: E402

# Everything the demo calls is on loopback: never through a proxy set in the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
PROJECT, REPOSITORY, TAG, POLICY = "demo", "demo/hello", "1.0", "demo target"
START_TIMEOUT = 90.0
DELIVERY_TIMEOUT = 60.0
TOOLS = ("docker-registry", "skopeo")

REGISTRY_CONFIG = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


class DemoError(RuntimeError):
    """The demo could not be set up; the message says what to do."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--instance",
        type=Path,
        default=ROOT / "instance" / "demo",
        help="the demo's own instance directory: its database, credentials and Redis (default: instance/demo/)",
    )
    args = parser.parse_args(argv)
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        print(
            f"demo: needs {' and '.join(missing)} (Debian: apt-get install docker-registry skopeo; `make demo` "
            "installs them when it runs as root)",
            file=sys.stderr,
        )
        return 2
    args.instance.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", f"sqlite:///{args.instance.resolve() / 'dockhook.db'}")
    env.setdefault("DOCKHOOK_BIND", "127.0.0.1:8080")

    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    scratch = Path(tempfile.mkdtemp(prefix="dockhook-demo-"))
    demo = Demo(env, args.instance, scratch, stopping)
    try:
        demo.start()
        print(demo.where_to_look(), flush=True)
        while not stopping.is_set():
            exited = demo.exited()
            if exited:
                print(f"demo: {exited} exited on its own; stopping", file=sys.stderr)
                return 1
            stopping.wait(0.2)
        return 0
    except DemoError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    finally:
        demo.stop()
        shutil.rmtree(scratch, ignore_errors=True)
        print("demo: stopped", flush=True)


class Demo:
    """The parts the demo starts, in order, and what it learnt from them."""

    def __init__(self, env: dict[str, str], instance: Path, scratch: Path, stopping: threading.Event) -> None:
        self.env, self.instance, self.scratch, self.stopping = env, instance, scratch, stopping
        self.base = f"http://{env['DOCKHOOK_BIND']}"
        self.dockhook: subprocess.Popen[str] | None = None
        self.sink: subprocess.Popen[bytes] | None = None
        self.registry: subprocess.Popen[bytes] | None = None
        self.output: list[str] = []
        self.api_token = self.snippet = self.registry_address = self.sink_url = self.job = self.digest = ""

    def start(self) -> None:
        self._start_dockhook()
        self._start_sink()
        self._create_policy()
        self._start_registry()
        known = {job["uuid"] for job in self._jobs()}
        self._push()
        self.job = self._wait_delivered(known)

    # Dockhook: the launcher's output is passed through, and read for its tokens and its registry snippet.
    def _start_dockhook(self) -> None:
        argv = [sys.executable, str(ROOT / "scripts" / "dev.py"), "--instance", str(self.instance)]
        self.dockhook = subprocess.Popen(
            argv, cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, process_group=0
        )
        threading.Thread(target=self._pass_through, args=(self.dockhook,), daemon=True).start()
        self._wait(lambda: _status(f"{self.base}/readyz") == 200, START_TIMEOUT, "Dockhook to be ready")
        output = "".join(self.output)
        token = re.search(r"^  API token +(\S+)$", output, re.MULTILINE)
        snippet = re.search(r"^notifications:\n(?:[ ]+\S.*\n)+", output, re.MULTILINE)
        if token is None or snippet is None:
            raise DemoError("the launcher printed no API token or no notifications: block")
        self.api_token, self.snippet = token.group(1), snippet.group(0)

    def _pass_through(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.output.append(line)
            sys.stdout.write(line)
            sys.stdout.flush()

    def _start_sink(self) -> None:
        port = _free_port()
        self.sink_url = f"http://127.0.0.1:{port}/"
        argv = [sys.executable, str(ROOT / "scripts" / "sink.py"), "--port", str(port)]
        self.sink = subprocess.Popen(argv, cwd=ROOT, process_group=0)
        self._wait(lambda: _listening(port), 10, "the demo target to listen")

    def _create_policy(self) -> None:
        status, body = self._api("POST", "/api/v2.0/projects", {"project_name": PROJECT})
        if status not in (201, 409):
            raise DemoError(f"creating the project {PROJECT!r} answered {status}: {body}")
        policy = {
            "name": POLICY,
            "description": "made by make demo: pushes to the demo target",
            "event_types": ["PUSH_ARTIFACT", "DELETE_ARTIFACT"],
            "targets": [{"type": "http", "address": self.sink_url, "skip_cert_verify": False}],
            "enabled": True,
        }
        path = f"/api/v2.0/projects/{PROJECT}/webhook/policies"
        _, existing = self._api("GET", f"{path}?page_size=100")
        found = [p for p in existing or [] if p.get("name") == POLICY]
        if found:  # an earlier demo's policy: its target's port was another one
            status, body = self._api("PUT", f"{path}/{found[0]['id']}", policy)
            expected = 200
        else:
            status, body = self._api("POST", path, policy)
            expected = 201
        if status != expected:
            raise DemoError(f"saving the policy answered {status}: {body}")

    def _start_registry(self) -> None:
        port = _free_port()
        self.registry_address = f"127.0.0.1:{port}"
        config = self.scratch / "registry.yml"
        config.write_text(REGISTRY_CONFIG.format(root=self.scratch / "registry", port=port) + self.snippet)
        log = (self.scratch / "registry.log").open("wb")
        argv = [shutil.which("docker-registry") or "docker-registry", "serve", str(config)]
        self.registry = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, process_group=0)
        self._wait(lambda: _status(f"http://{self.registry_address}/v2/") == 200, 20, "the registry to answer")

    def _push(self) -> None:
        layout = self.scratch / "image"
        self.digest = oci_image.build_layout(layout, TAG)
        argv = [
            shutil.which("skopeo") or "skopeo",
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            f"oci:{layout}:{TAG}",
            f"docker://{self.registry_address}/{REPOSITORY}:{TAG}",
        ]
        print(f"demo: pushing {REPOSITORY}:{TAG} to the registry at {self.registry_address}", flush=True)
        pushed = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if pushed.returncode != 0:
            raise DemoError(f"skopeo could not push: {pushed.stderr.strip()}")

    def _wait_delivered(self, known: set[str]) -> str:
        """The uuid of the hook job the push made, once it has succeeded."""
        found: dict[str, Any] = {}

        def delivered() -> bool:
            new = [job for job in self._jobs() if job["uuid"] not in known]
            if new:
                found.update(new[0])
            return bool(new) and new[0]["status"] in ("success", "error", "stopped")

        self._wait(delivered, DELIVERY_TIMEOUT, "the webhook to be delivered")
        if found["status"] != "success":
            raise DemoError(f"the webhook ended {found['status']}: {found.get('last_error', '')}")
        return str(found["uuid"])

    def _jobs(self) -> list[dict[str, Any]]:
        status, jobs = self._api("GET", f"/api/v2.0/projects/{PROJECT}/webhook/hook-jobs?page_size=100")
        if status != 200:
            raise DemoError(f"listing the hook jobs answered {status}: {jobs}")
        return list(jobs)

    def where_to_look(self) -> str:
        bearer = shlex.quote(f"Authorization: Bearer {self.api_token}")
        return "\n".join(
            [
                "",
                f"demo: {REPOSITORY}:{TAG} ({self.digest}) was pushed and its webhook delivered. Where to look:",
                f"  dashboard     {self.base}/projects/{PROJECT} (sign in as admin: its password is printed above on "
                "the first run; or leave the name empty and give the API token)",
                f"  the delivery  {self.base}/hook-jobs/{self.job} (payload, attempts, the target's answer)",
                f"  API           curl -H {bearer} {self.base}/api/v2.0/projects/{PROJECT}/webhook/hook-jobs",
                f"  API docs      {self.base}/api/v2.0/docs",
                f"  demo target   {self.sink_url} prints a 'sink: webhook ...' line per delivery (above)",
                f"  registry      {self.registry_address}: push more, and watch them arrive:",
                f"                  skopeo copy --dest-tls-verify=false oci:{self.scratch / 'image'}:{TAG} "
                f"docker://{self.registry_address}/{PROJECT}/another:{TAG}",
                f"                  docker push {self.registry_address}/{PROJECT}/<name>:<tag>",
                "Ctrl-C stops everything.",
                "",
            ]
        )

    def exited(self) -> str:
        """The name of a part that has exited, or ``""``."""
        parts = (("dockhook", self.dockhook), ("the demo target", self.sink), ("the registry", self.registry))
        for name, process in parts:
            if process is not None and process.poll() is not None:
                return name
        return ""

    def stop(self) -> None:
        """The registry first (it would retry notifications to a stopped Dockhook), then the target, then Dockhook
        (its launcher stops its own parts)."""
        order = ((self.registry, signal.SIGTERM), (self.sink, signal.SIGINT), (self.dockhook, signal.SIGINT))
        for process, first in order:
            if process is None or process.poll() is not None:
                continue
            process.send_signal(first)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _api(self, method: str, path: str, document: object = None) -> tuple[int, Any]:
        data = json.dumps(document).encode() if document is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.api_token}")
        request.add_header("Content-Type", "application/json")
        try:
            with _DIRECT.open(request, timeout=10) as answer:
                status, raw = answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        return status, json.loads(raw) if raw else None

    def _wait(self, ready: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if self.stopping.is_set():
                raise DemoError("interrupted")
            if self.exited():
                raise DemoError(f"{self.exited()} exited while waiting for {what}")
            if time.monotonic() > deadline:
                raise DemoError(f"gave up waiting {timeout:.0f} s for {what}")
            time.sleep(0.2)


def _status(url: str) -> int:
    try:
        with _DIRECT.open(url, timeout=2) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


if __name__ == "__main__":
    sys.exit(main())
