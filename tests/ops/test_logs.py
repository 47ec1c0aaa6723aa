"""Logs: DOCKHOOK_LOG_FORMAT=json writes one JSON object per line, carrying the request id, the registry event
ids and the hook job uuid where they apply, and never a secret; the default text carries the same ids."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from app import logs
from app.config import ConfigError, Settings
from tests.integration.test_delivery import add_policy, jobs, push, work
from tests.support import replay
from tests.support import settings as test_settings
from tests.support.processes import ROOT, clean_env
from tests.support.sinks import Sink

AUTH_HEADER = "Bearer header-secret-4c1d7e"
SIGNING_SECRET = "whsec_" + "c2lnbmluZy1zZWNyZXQtZm9yLWxvZy10ZXN0cw=="


@pytest.fixture
def captured() -> Iterator[Callable[[str], io.StringIO]]:
    """Attach Dockhook's handler (in a format) to the root logger at INFO for the test; detach afterwards."""
    root = logging.getLogger()
    attached: list[logging.Handler] = []
    level = root.level

    def attach(fmt: str) -> io.StringIO:
        stream = io.StringIO()
        handler = logs.handler(fmt, stream)
        root.addHandler(handler)
        attached.append(handler)
        root.setLevel(logging.INFO)
        return stream

    yield attach
    for handler in attached:
        root.removeHandler(handler)
    root.setLevel(level)


def manifest_event_id() -> str:
    delivery = replay.deliveries("push_oci_alpine_3.19")[-1]
    (event,) = json.loads(delivery.body)["events"]
    return str(event["id"])


def test_json_lines_carry_request_id_event_ids_and_hook_job_and_no_secret(
    make_app: Callable[..., Flask], redis_db: str, sink: Sink, captured: Callable[[str], io.StringIO]
) -> None:
    app = make_app(notify_token=replay.TOKEN, redis_url=redis_db, retry_schedule=())
    add_policy(app, [{"address": sink.url, "auth_header": AUTH_HEADER, "secret": SIGNING_SECRET}])
    stream = captured("json")
    push(app)
    work(app, redis_db)
    (job,) = jobs(app)
    assert job.status == "success"

    text = stream.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]  # every line is one JSON object
    assert lines and all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    (received,) = [line for line in lines if line["message"].startswith("notification:")]
    assert received["registry_event_ids"] == [manifest_event_id()]
    assert len(received["request_id"]) == 32
    delivered = [line for line in lines if line["message"].startswith(f"hook job {job.id} ")]
    assert delivered and all(line["hook_job"] == job.uuid for line in delivered), delivered
    assert "request_id" not in delivered[0], "a delivery runs outside any request"
    for secret in (AUTH_HEADER, "header-secret-4c1d7e", SIGNING_SECRET, replay.TOKEN, test_settings.SECRET_KEY):
        assert secret not in text


def test_a_plain_client_request_id_is_kept_and_sent_back_a_hostile_one_is_replaced(
    make_app: Callable[..., Flask], captured: Callable[[str], io.StringIO]
) -> None:
    client = make_app().test_client()
    kept = client.get("/healthz", headers={"X-Request-Id": "lb-7f3a.9"})
    assert kept.headers["X-Request-Id"] == "lb-7f3a.9"
    replaced = client.get("/healthz", headers={"X-Request-Id": "x\u2028evil log line"})
    assert replaced.headers["X-Request-Id"] != "x\u2028evil log line" and len(replaced.headers["X-Request-Id"]) == 32
    assert client.get("/healthz").headers["X-Request-Id"] != replaced.headers["X-Request-Id"]


def test_text_lines_name_the_ids_in_brackets(
    make_app: Callable[..., Flask], captured: Callable[[str], io.StringIO]
) -> None:
    app = make_app(notify_token=replay.TOKEN)
    stream = captured("text")
    push(app)
    (line,) = [line for line in stream.getvalue().splitlines() if "notification:" in line]
    assert "[request_id=" in line and f"registry_event_ids={manifest_event_id()}]" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_log_settings_are_validated() -> None:
    env = {
        "DOCKHOOK_SECRET_KEYS": test_settings.SECRET_KEY,
        "DOCKHOOK_LOG_FORMAT": "JSON",
        "DOCKHOOK_LOG_LEVEL": "debug",
    }
    settings = Settings.from_env(env)
    assert (settings.log_format, settings.log_level) == ("json", "DEBUG")
    with pytest.raises(ConfigError, match="DOCKHOOK_LOG_FORMAT='xml' is not one of text, json"):
        Settings.from_env({**env, "DOCKHOOK_LOG_FORMAT": "xml"})


def test_a_worker_process_logs_only_json_lines_and_no_alembic_noise(
    make_app: Callable[..., Flask], database_url: str, redis_db: str, sink: Sink, tmp_path: Path
) -> None:
    app = make_app(notify_token=replay.TOKEN, redis_url=redis_db, retry_schedule=())
    add_policy(app, [{"address": sink.url, "auth_header": AUTH_HEADER, "secret": SIGNING_SECRET}])
    push(app)
    (job,) = jobs(app)
    result = subprocess.run(
        [sys.executable, "worker.py", "--burst"],
        cwd=ROOT,
        env=clean_env(DATABASE_URL=database_url, REDIS_URL=redis_db, DOCKHOOK_LOG_FORMAT="json"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    lines = [json.loads(line) for line in output.splitlines()]
    assert not [line for line in lines if line["logger"].startswith("alembic")], output
    assert any(line.get("hook_job") == job.uuid and "-> success" in line["message"] for line in lines), output
    assert AUTH_HEADER not in output and SIGNING_SECRET not in output
