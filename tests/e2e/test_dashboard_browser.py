"""The deliveries dashboard in a real Chromium, against the real stack: gunicorn, an RQ worker, docker-registry,
skopeo and a target on loopback. A push through the registry shows up; a failing target's attempts are visible
with its answer; redeliver works from the page. With DOCKHOOK_SCREENSHOTS=<dir> the pages are saved there
(docs/ holds the ones the README shows)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from scripts import oci_image
from tests.e2e.conftest import SKOPEO_BIN, Dockhook, Registry, missing_tools
from tests.support import processes
from tests.support.browser import chromium_page
from tests.support.processes import Process, clean_env
from tests.support.sinks import Reply, Sink

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

TOKEN = "dashboard-e2e-token-" + "x" * 24
WAIT_MS = 20_000


@pytest.fixture
def dockhook_settings() -> dict[str, str]:
    # One attempt, no retries: the failure is final at once and the page can be read without a sweeper.
    return {"DOCKHOOK_API_TOKEN": TOKEN, "DOCKHOOK_RETRY_SCHEDULE": "none"}


def api(dockhook: Dockhook, method: str, path: str, document: Any = None) -> tuple[int, Any]:
    status, _, body = processes.http_request(
        f"{dockhook.url}{path}",
        method=method,
        body=json.dumps(document).encode() if document is not None else None,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    return status, json.loads(body) if body else None


def screenshot(page: Any, name: str) -> None:
    directory = os.environ.get("DOCKHOOK_SCREENSHOTS")
    if directory:
        page.screenshot(path=str(Path(directory) / f"dashboard-{name}.png"), full_page=True)


def test_a_push_and_a_failing_target_show_up_and_redeliver_works_from_the_page(
    dockhook: Dockhook, registry: Registry, worker: Process, sink: Sink, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    missing = missing_tools()
    if missing:  # under CI a skip here is a failure (tests/conftest.py)
        pytest.skip(f"needs {' and '.join(missing)} on PATH (apt-get install docker-registry skopeo)")
    assert api(dockhook, "POST", "/api/v2.0/projects", {"project_name": "library"})[0] == 201
    policy = {
        "name": "ci-hooks",
        "event_types": ["PUSH_ARTIFACT"],
        "targets": [{"type": "http", "address": f"{sink.url}?token=target-secret", "auth_header": "Bearer hdr-secret"}],
        "enabled": True,
    }
    assert api(dockhook, "POST", "/api/v2.0/projects/library/webhook/policies", policy)[0] == 201
    sink.respond = lambda _: Reply(status=503, body=b"maintenance: back soon")
    # A system-wide policy (every project's events) delivering to a target of its own, which answers 200.
    audit = Sink()
    request.addfinalizer(audit.close)
    everywhere = {
        "name": "audit-everywhere",
        "event_types": ["PUSH_ARTIFACT"],
        "targets": [{"type": "http", "address": f"{audit.url}/audit?key=audit-secret"}],
    }
    assert api(dockhook, "POST", "/api/v2.0/webhook/policies", everywhere)[0] == 201

    layout = tmp_path / "layout"
    oci_image.build_layout(layout, "1.0")
    argv = [shutil.which(SKOPEO_BIN) or SKOPEO_BIN, "copy", "--dest-tls-verify=false", f"oci:{layout}:1.0"]
    argv.append(f"docker://{registry.host}/library/web:1.0")
    pushed = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=clean_env())
    assert pushed.returncode == 0, pushed.stderr

    def final_job() -> dict[str, Any] | None:
        status, rows = api(dockhook, "GET", "/api/v2.0/projects/library/webhook/hook-jobs")
        return rows[0] if status == 200 and rows and rows[0]["status"] == "error" else None

    job = processes.wait_until(final_job, timeout=30, what="the failed hook job", processes=[dockhook.process, worker])
    assert len(audit.wait_for(1, timeout=20)) == 1, "the system-wide policy's delivery"

    with chromium_page() as (page, traffic):
        page.goto(f"{dockhook.url}/")
        page.wait_for_selector("#password")
        screenshot(page, "sign-in")
        page.fill("#password", "not-the-token")
        page.click("button[type=submit]")
        assert page.locator(".error").inner_text() == "That name and password do not sign in."
        page.fill("#password", TOKEN)
        page.click("button[type=submit]")

        page.wait_for_selector("h1:text('Projects')", timeout=WAIT_MS)
        row = page.locator("tr", has=page.locator("a", has_text="library"))
        assert "error 1" in row.inner_text()
        system_row = page.locator("tr.system")
        deadline = time.monotonic() + 20
        while "success 1" not in system_row.inner_text() and time.monotonic() < deadline:
            time.sleep(0.5)  # the worker records the audit delivery's outcome just after the target answered
            page.reload()
        assert "success 1" in system_row.inner_text()
        screenshot(page, "projects")

        page.click("a:text('System-wide policies')")
        page.wait_for_selector("h1:text('System-wide policies')")
        assert "audit-everywhere" in page.locator("table.policies").inner_text()
        assert "key=******" in page.locator("table.policies").inner_text()
        assert page.locator("table.jobs tbody tr").count() == 1
        assert "success" in page.locator("table.jobs tbody tr").inner_text()
        assert "audit-secret" not in page.content()
        screenshot(page, "system")
        page.click("a:text('Projects')")
        page.wait_for_selector("h1:text('Projects')")

        page.click("a:text('library')")
        page.wait_for_selector("table.jobs")
        assert "ci-hooks" in page.locator("table.policies").inner_text()
        assert "token=******" in page.locator("table.policies").inner_text()
        assert page.locator("table.jobs tbody tr").count() == 1
        page.check("input[name=status][value=success]")
        page.click("form.filters button")
        page.wait_for_selector("text=No hook job matches.")
        page.uncheck("input[name=status][value=success]")
        page.check("input[name=status][value=error]")
        page.click("form.filters button")
        page.wait_for_selector(f"a:has-text('{job['uuid']}')")
        screenshot(page, "project")

        page.click(f"a:has-text('{job['uuid']}')")
        page.wait_for_selector("#job-status")
        assert page.inner_text("#job-status") == "error"
        attempts = page.locator("table.attempts").inner_text()
        assert "503" in attempts and "maintenance: back soon" in attempts
        assert "library/web" in page.inner_text("pre.payload")

        sink.respond = lambda _: Reply(status=200)
        page.click("button:text('Redeliver')")
        page.wait_for_selector("text=Redelivery queued")
        deadline = time.monotonic() + 20
        while page.inner_text("#job-status") != "success" and time.monotonic() < deadline:
            time.sleep(0.5)
            page.reload()
        assert page.inner_text("#job-status") == "success"
        assert "(manual)" in page.locator("table.attempts").inner_text()
        screenshot(page, "job")
        content = page.content()

    assert "target-secret" not in content and "hdr-secret" not in content
    assert traffic.off_loopback == [], traffic.off_loopback
    assert [code for code, _ in traffic.failed if code >= 500] == [], traffic.failed
    assert len(sink.received) == 2
