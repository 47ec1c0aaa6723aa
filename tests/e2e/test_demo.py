"""``make demo`` (scripts/demo.py): Dockhook, a demo target and a registry; an image pushed; where to look printed.

The test reads everything from the demo's output, as its user would: the delivery it names is a success in the
API, the target printed the webhook, the registry it names takes another push that becomes another webhook, and
Ctrl-C stops every process it started and leaves no temporary file.
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.e2e.conftest import missing_tools
from tests.support import processes
from tests.support.processes import ROOT, clean_env

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

READY_TIMEOUT = 150.0
WEBHOOK_TIMEOUT = 30.0
SINK_LINE = re.compile(r"^sink: webhook (\S+): (\S+) (\S+)$", re.MULTILINE)


def line(output: str, label: str) -> str:
    """The value on the line ``  <label>  <value>`` (the label padded by at least two spaces)."""
    found = re.search(rf"^  {label}  +(.+)$", output, re.MULTILINE)
    assert found, f"no {label!r} line in the demo's output\n{output[-3000:]}"
    return found.group(1).strip()


def test_demo_pushes_an_image_through_a_registry_and_says_where_to_look(tmp_path: Path) -> None:
    missing = missing_tools()
    if missing:  # under CI a skip here is a failure (tests/conftest.py)
        pytest.skip(f"the demo needs {' and '.join(missing)} on PATH (apt-get install docker-registry skopeo)")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    port = processes.free_port()
    base = f"http://127.0.0.1:{port}"
    # No database named: the demo makes its own SQLite one in its instance directory. TMPDIR: what it (and what it
    # starts) makes with tempfile lands here, so that leftovers can be seen.
    env = clean_env(DOCKHOOK_BIND=f"127.0.0.1:{port}", TMPDIR=str(scratch))
    for variable in [v for v in env if v.startswith("DOCKHOOK_") and v != "DOCKHOOK_BIND"]:
        del env[variable]
    instance = tmp_path / "instance"
    demo = processes.start(
        "demo", [sys.executable, "scripts/demo.py", "--instance", str(instance)], tmp_path, env=env, cwd=ROOT
    )
    started: list[psutil.Process] = []
    try:
        processes.wait_until(
            lambda: "Ctrl-C stops everything.\n" in demo.log_path.read_text(),
            timeout=READY_TIMEOUT,
            what="the demo's where-to-look block",
            processes=[demo],
        )
        started = psutil.Process(demo.pid).children(recursive=True)
        output = demo.log_path.read_text()
        banner, _, block = output.partition("Where to look:\n")
        assert block, output[-3000:]
        assert (instance / "dockhook.db").exists(), "the demo keeps its own database in its instance directory"

        # The delivery it names: a success, in the API, for the image it pushed.
        api_token = line(banner, "API token")
        uuid = line(block, "the delivery").split()[0].rsplit("/hook-jobs/", 1)[1]
        assert line(block, "the delivery").startswith(f"{base}/hook-jobs/{uuid} ")
        assert line(block, "dashboard").startswith(f"{base}/projects/demo ")
        status, _, body = processes.http_request(
            f"{base}/api/v2.0/hook-jobs/{uuid}", headers={"Authorization": f"Bearer {api_token}"}
        )
        assert status == 200, body
        job = json.loads(body)
        assert (job["status"], job["event_type"], job["attempt_count"]) == ("success", "PUSH_ARTIFACT", 1)
        # The curl it prints works as printed.
        curl = shlex.split(line(block, "API"))
        assert curl[:2] == ["curl", "-H"] and curl[2] == f"Authorization: Bearer {api_token}", curl
        status, _, body = processes.http_request(curl[3], headers={"Authorization": f"Bearer {api_token}"})
        assert status == 200 and [j["uuid"] for j in json.loads(body)] == [uuid]

        # The demo target printed the webhook, with the job's webhook-id.
        assert SINK_LINE.findall(output) == [(uuid, "PUSH_ARTIFACT", "demo/hello:1.0")], output[-3000:]

        # The registry it names takes another push (the printed skopeo command), which becomes another webhook.
        skopeo = re.search(r"^ +(skopeo copy .+)$", block, re.MULTILINE)
        assert skopeo, output[-3000:]
        pushed = subprocess.run(shlex.split(skopeo.group(1)), capture_output=True, text=True, timeout=60)
        assert pushed.returncode == 0, pushed.stderr
        processes.wait_until(
            lambda: len(SINK_LINE.findall(demo.log_path.read_text())) == 2,
            timeout=WEBHOOK_TIMEOUT,
            what="the second push's webhook",
            processes=[demo],
        )
        assert SINK_LINE.findall(demo.log_path.read_text())[1][1:] == ("PUSH_ARTIFACT", "demo/another:1.0")

        # Ctrl-C: everything it started stops, and its temporary directory (registry storage, image) is gone.
        demo.popen.send_signal(signal.SIGINT)
        assert demo.popen.wait(timeout=30) == 0, demo.log_tail(60)
        _, alive = psutil.wait_procs(started, timeout=10)
        assert alive == [], [p.cmdline() for p in alive]
        log = demo.log_path.read_text()
        assert log.rstrip().endswith("demo: stopped"), demo.log_tail()
        assert "Traceback" not in log, demo.log_tail(60)
        assert sorted(p.name for p in scratch.iterdir()) == [], "temporary files left behind"
    finally:
        demo.stop()
        for child in started:
            if child.is_running():
                child.kill()


def test_demo_without_a_registry_says_what_to_install(tmp_path: Path) -> None:
    # A PATH with neither docker-registry nor skopeo on it.
    env = clean_env(PATH=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "scripts/demo.py", "--instance", str(tmp_path / "instance")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "needs docker-registry and skopeo" in result.stderr and "apt-get install" in result.stderr
    assert not (tmp_path / "instance").exists(), "nothing is started or made"
