"""gunicorn (deploy/gunicorn.conf.py) refuses to listen beyond loopback unless both tokens are set and long.

The check reads the sockets gunicorn actually bound, so ``-b`` on the command line cannot slip past
it. Binding 0.0.0.0 is not traffic: these tests only ever connect to 127.0.0.1.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.support import databases, processes
from tests.support import settings as test_settings
from tests.support.processes import ROOT, VENV_BIN, clean_env, migrate

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

GUNICORN = [str(VENV_BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "wsgi:app"]
# A refusing master exits within seconds (it imports the app once, in a child, to check).
REFUSE_TIMEOUT = 20.0
START_TIMEOUT = 20.0
REFUSED = 78  # EX_CONFIG
LONG = "n" * 32
SHORT = "s" * 31


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = databases.sqlite_url(tmp_path)
    migrate(url, tmp_path)
    return url


def run_until_exit(name: str, tmp_path: Path, env: dict[str, str], *extra: str) -> tuple[int, str, float]:
    """Start gunicorn, wait for it to exit on its own; return its status, its log and how long it ran."""
    started = time.monotonic()
    process = processes.start(name, [*GUNICORN, *extra], tmp_path, env=env, cwd=ROOT)
    try:
        status = process.popen.wait(timeout=REFUSE_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.stop()
        raise AssertionError(f"{name} still running after {REFUSE_TIMEOUT} s\n{process.log_tail()}") from None
    return status, process.log_path.read_text(), time.monotonic() - started


@pytest.mark.parametrize(
    ("tokens", "named"),
    [
        ({}, ["DOCKHOOK_NOTIFY_TOKEN", "DOCKHOOK_API_TOKEN"]),
        ({"DOCKHOOK_NOTIFY_TOKEN": LONG, "DOCKHOOK_API_TOKEN": SHORT}, ["DOCKHOOK_API_TOKEN"]),
        ({"DOCKHOOK_NOTIFY_TOKEN": SHORT, "DOCKHOOK_API_TOKEN": LONG}, ["DOCKHOOK_NOTIFY_TOKEN"]),
    ],
    ids=["no-tokens", "31-char-api-token", "31-char-notify-token"],
)
def test_gunicorn_refuses_a_wildcard_bind_without_long_tokens(
    tmp_path: Path, database_url: str, tokens: dict[str, str], named: list[str]
) -> None:
    port = processes.free_port()
    env = clean_env(DATABASE_URL=database_url, DOCKHOOK_BIND=f"0.0.0.0:{port}", **tokens)
    status, log, took = run_until_exit("gunicorn", tmp_path, env)
    assert status == REFUSED, log
    assert took < REFUSE_TIMEOUT
    refusal = next((line for line in log.splitlines() if "refusing to listen on 0.0.0.0" in line), None)
    assert refusal is not None, log
    for name in named:
        assert name in refusal, refusal
    for name in {"DOCKHOOK_NOTIFY_TOKEN", "DOCKHOOK_API_TOKEN"} - set(named):
        assert name not in refusal, f"{name} is long enough: {refusal}"
    for value in tokens.values():
        assert value not in log, "a token was logged"
    assert "Booting worker" not in log, "no worker may start"


def test_a_command_line_bind_cannot_slip_past_the_check(tmp_path: Path, database_url: str) -> None:
    # DOCKHOOK_BIND says loopback; -b adds a wildcard listener the check must see.
    env = clean_env(DATABASE_URL=database_url, DOCKHOOK_BIND=f"127.0.0.1:{processes.free_port()}")
    status, log, _ = run_until_exit("gunicorn", tmp_path, env, "-b", f"0.0.0.0:{processes.free_port()}")
    assert status == REFUSED, log
    assert "refusing to listen on 0.0.0.0" in log, log


def test_gunicorn_serves_a_wildcard_bind_with_long_tokens(tmp_path: Path, database_url: str) -> None:
    port = processes.free_port()
    env = clean_env(
        DATABASE_URL=database_url,
        DOCKHOOK_BIND=f"0.0.0.0:{port}",
        DOCKHOOK_NOTIFY_TOKEN=LONG,
        DOCKHOOK_API_TOKEN="a" * 32,
    )
    process = processes.start("gunicorn", GUNICORN, tmp_path, env=env, cwd=ROOT)
    try:
        base = f"http://127.0.0.1:{port}"
        processes.wait_for_http(f"{base}/api/v2.0/openapi.json", timeout=START_TIMEOUT, process=process)
        assert processes.http_get(f"{base}/api/v2.0/projects")[0] == 401
        status, _, _ = processes.http_request(
            f"{base}/api/v2.0/projects", headers={"Authorization": f"Bearer {'a' * 32}"}
        )
        assert status == 200
    finally:
        assert process.stop() == 0, process.log_tail()


def test_gunicorn_refuses_settings_it_cannot_run_with(tmp_path: Path, database_url: str) -> None:
    env = clean_env(DATABASE_URL=database_url, DOCKHOOK_BIND=f"127.0.0.1:{processes.free_port()}")
    del env["DOCKHOOK_SECRET_KEYS"]
    status, log, _ = run_until_exit("gunicorn", tmp_path, env)
    assert status == REFUSED, log
    assert "configuration error: DOCKHOOK_SECRET_KEYS is not set" in log, log


def test_gunicorn_refuses_secret_keys_that_cannot_read_the_database(tmp_path: Path, database_url: str) -> None:
    # A first start stores the key-check value under the tests' key; a start with another key only must stop.
    port = processes.free_port()
    env = clean_env(DATABASE_URL=database_url, DOCKHOOK_BIND=f"127.0.0.1:{port}")
    first = processes.start("gunicorn-first", GUNICORN, tmp_path, env=env, cwd=ROOT)
    try:
        processes.wait_for_http(f"http://127.0.0.1:{port}/api/v2.0/openapi.json", timeout=START_TIMEOUT, process=first)
    finally:
        first.stop()
    env["DOCKHOOK_SECRET_KEYS"] = test_settings.NEW_SECRET_KEY
    status, log, _ = run_until_exit("gunicorn", tmp_path, env)
    assert status == REFUSED, log
    assert "configuration error: DOCKHOOK_SECRET_KEYS cannot decrypt the secrets in this database" in log, log
    assert test_settings.NEW_SECRET_KEY not in log and test_settings.SECRET_KEY not in log, "a key was logged"


def test_gunicorn_refuses_a_database_without_the_schema(tmp_path: Path) -> None:
    env = clean_env(DATABASE_URL=databases.sqlite_url(tmp_path), DOCKHOOK_BIND=f"127.0.0.1:{processes.free_port()}")
    status, log, _ = run_until_exit("gunicorn", tmp_path, env)
    assert status == REFUSED, log
    assert "configuration error: the database has no Dockhook schema yet" in log, log
