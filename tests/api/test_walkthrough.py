"""The README's five-minute walk-through stays true: its policy JSON is accepted by the API as written, and
``scripts/sink.py`` prints what it receives and answers as told."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

from flask import Flask

from tests.support import processes
from tests.support.processes import ROOT

TOKEN = "w" * 40


def readme_policy() -> dict[str, object]:
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"<!-- walkthrough: policy\.json[^>]*-->\n```json\n(.*?)\n```", readme, re.DOTALL)
    assert found, "the README has no walk-through policy.json block"
    document: dict[str, object] = json.loads(found.group(1))
    return document


def test_the_readme_policy_is_created_as_written(make_app: Callable[..., Flask]) -> None:
    client = make_app(api_token=TOKEN).test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post("/api/v2.0/projects", json={"project_name": "library"}, headers=auth).status_code == 201
    created = client.post("/api/v2.0/projects/library/webhook/policies", json=readme_policy(), headers=auth)
    assert created.status_code == 201, created.json
    (policy,) = client.get("/api/v2.0/projects/library/webhook/policies", headers=auth).json
    assert policy["name"] == "to-the-sink"
    assert policy["event_types"] == ["PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT"]
    assert policy["targets"][0]["address"] == "http://127.0.0.1:9000"
    assert "a-token-the-target-checks" not in json.dumps(policy), "the auth header is shown masked"


def test_the_sink_prints_each_webhook_and_answers_as_told(tmp_path: Path) -> None:
    port = processes.free_port()
    sink = processes.start(
        "sink", [sys.executable, "scripts/sink.py", "--port", str(port), "--status", "503"], tmp_path, cwd=ROOT
    )
    try:
        processes.wait_until(
            lambda: "listening" in sink.log_path.read_text(), timeout=10, what="the sink", processes=[sink]
        )
        payload = {
            "type": "PUSH_ARTIFACT",
            "event_data": {"repository": {"repo_full_name": "library/alpine"}, "resources": [{"tag": "3.19"}]},
        }
        status, _, _ = processes.http_request(
            f"http://127.0.0.1:{port}/",
            method="POST",
            body=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json", "webhook-id": "msg_1"},
        )
        assert status == 503
        processes.wait_until(
            lambda: "sink: webhook msg_1: PUSH_ARTIFACT library/alpine:3.19" in sink.log_path.read_text(),
            timeout=10,
            what="the sink's line",
            processes=[sink],
        )
    finally:
        sink.stop()
