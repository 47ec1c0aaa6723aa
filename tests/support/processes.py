"""Real processes for end-to-end tests: free ports, start with a log file, wait for HTTP, stop by PID.

Every helper acts only on processes started through :func:`start`; nothing here looks processes
up by name. Each process gets its own session (so its process group id is its PID) and writes
stdout and stderr to one log file, whose tail goes into failure messages.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from tests.support import settings as test_settings

T = TypeVar("T")

# Talk to 127.0.0.1 directly, whatever *_proxy variables the environment has.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def clean_env(**values: str) -> dict[str, str]:
    """The current environment without Dockhook's own variables, plus the tests' secret key and loopback
    networks (tests/support/settings.py), plus ``values``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DOCKHOOK_") and k not in ("DATABASE_URL", "REDIS_URL", "TEST_DATABASE_URL")
    }
    env.update(test_settings.ENV)
    env.update(values)
    return env


def migrate(database_url: str, log_dir: Path) -> None:
    """``flask --app wsgi db upgrade`` in a subprocess, as an operator runs it."""
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


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the kernel's pick; tiny race until it is bound)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a text file, or a note that it is missing."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Process:
    """A process this test run started, with its log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        return f"--- {self.name} (pid {self.pid}) log tail: {self.log_path} ---\n{tail(self.log_path, lines)}"

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the process; SIGKILL it (and its own process group) if it has not exited after ``timeout``."""
        if self.popen.poll() is not None:
            return self.popen.returncode
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        # The group was created for this process (start_new_session), so it holds only its children.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        return self.popen.wait(timeout=timeout)


def start(
    name: str,
    argv: Sequence[str],
    log_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Process:
    """Start ``argv`` in a new session with stdout and stderr appended to ``log_dir/<name>.log``."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    return Process(name, popen, log_path)


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """GET ``url`` without any proxy; return the status and body (an HTTP error status is returned, not raised)."""
    try:
        with _DIRECT.open(url, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def http_request(
    url: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, dict[str, str], bytes]:
    """One request to ``url`` without any proxy; return status, headers (lower-case names) and body.

    An HTTP error status is returned, not raised.
    """
    request = urllib.request.Request(url, data=body, headers=dict(headers or {}), method=method)
    try:
        with _DIRECT.open(request, timeout=timeout) as response:
            return int(response.status), {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def wait_until(
    check: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    processes: Sequence[Process] = (),
    describe: Callable[[], object] | None = None,
    interval: float = 0.1,
) -> T:
    """Call ``check`` until it returns something other than None or False; return that.

    Fails after ``timeout`` seconds, or as soon as one of ``processes`` has exited, naming ``what``,
    what ``describe()`` says about the current state, and the log tails of ``processes``.
    """
    deadline = time.monotonic() + timeout
    while True:
        for process in processes:
            if not process.running():
                raise AssertionError(
                    f"{process.name} exited with status {process.popen.returncode} while waiting for {what}\n"
                    f"{process.log_tail()}"
                )
        value = check()
        if value is not None and value is not False:
            return value
        if time.monotonic() >= deadline:
            state = f" (now: {describe()!r})" if describe is not None else ""
            logs = "".join(f"\n{p.log_tail()}" for p in processes)
            raise AssertionError(f"{what}: not within {timeout} s{state}{logs}")
        time.sleep(interval)


def wait_for_http(url: str, *, timeout: float = 20.0, status: int = 200, process: Process | None = None) -> None:
    """Poll ``url`` until it answers ``status``; fail early if ``process`` exits, and after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        if process is not None and not process.running():
            raise AssertionError(
                f"{process.name} exited with status {process.popen.returncode} before {url} answered\n"
                f"{process.log_tail()}"
            )
        try:
            got, body = http_get(url, timeout=2.0)
            if got == status:
                return
            last = f"status {got}: {body[:200]!r}"
        except (OSError, urllib.error.URLError) as exc:
            last = repr(exc)
        if time.monotonic() >= deadline:
            logs = f"\n{process.log_tail()}" if process is not None else ""
            raise AssertionError(f"{url} did not answer {status} within {timeout} s (last: {last}){logs}")
        time.sleep(0.1)
