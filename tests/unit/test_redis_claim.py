"""The test session flushes only a Redis database it claimed: empty at session start (or on its own server),
then marked as the session's (tests/support/redis_server.py, the ``redis_url``/``redis_db`` fixtures).

A real redis-server of the test's own; nothing here touches REDIS_URL's server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests import conftest
from tests.support import redis_server
from tests.support.redis_server import MARKER, NotOurs

pytest_plugins = ["pytester"]


@pytest.fixture
def server() -> Iterator[str]:
    """A redis-server of this test on a loopback port (its database 0's URL)."""
    with redis_server.own_server(tcp=True) as url:
        yield url


def db(url: str, number: int) -> str:
    return url.rsplit("/", 1)[0] + f"/{number}"


def keys(url: str) -> dict[bytes, bytes | None]:
    connection = redis.Redis.from_url(url)
    try:
        return {k: connection.get(k) for k in connection.scan_iter()}
    finally:
        connection.close()


def put(url: str, key: str, value: str) -> None:
    connection = redis.Redis.from_url(url)
    try:
        connection.set(key, value)
    finally:
        connection.close()


def test_an_empty_database_is_claimed_flushed_between_tests_and_left_empty(server: str) -> None:
    fresh = db(server, 15)  # as CI names it on a fresh machine, while database 0 holds someone's data
    put(server, "app:data", "precious")
    token = redis_server.claim(fresh)
    try:
        assert keys(fresh) == {MARKER.encode(): token.encode()}
        put(fresh, "rq:queue:hooks", "a test's job")
        redis_server.flush(fresh)
        assert keys(fresh) == {MARKER.encode(): token.encode()}, "flushed, and still the session's"
    finally:
        redis_server.release(fresh)
    assert keys(fresh) == {}, "left as found"
    assert keys(server) == {b"app:data": b"precious"}, "another database of the server is never touched"
    with pytest.raises(NotOurs, match="did not claim"):
        redis_server.flush(fresh)


def test_a_database_holding_keys_is_refused_and_left_untouched(server: str) -> None:
    put(server, "app:data", "precious")
    with pytest.raises(NotOurs, match=r"not empty \(1 keys, e\.g\. \['app:data'\]\)"):
        redis_server.claim(server)
    assert keys(server) == {b"app:data": b"precious"}, "no marker left behind either"
    with pytest.raises(NotOurs, match="did not claim"):
        redis_server.flush(server)
    assert keys(server) == {b"app:data": b"precious"}


def test_a_database_another_session_claimed_is_refused(server: str) -> None:
    put(server, MARKER, "4242-another-session")
    with pytest.raises(NotOurs, match="not empty"):
        redis_server.claim(server)
    assert keys(server) == {MARKER.encode(): b"4242-another-session"}


def test_a_claimed_database_that_lost_the_marker_is_not_flushed(server: str) -> None:
    redis_server.claim(server)
    try:
        connection = redis.Redis.from_url(server)
        connection.flushdb()  # someone outside the session empties it ...
        connection.set("app:data", "precious")  # ... and uses it
        connection.close()
        with pytest.raises(NotOurs, match="no longer carries this test session's marker"):
            redis_server.flush(server)
        assert keys(server) == {b"app:data": b"precious"}
    finally:
        with pytest.raises(NotOurs):
            redis_server.release(server)
    assert keys(server) == {b"app:data": b"precious"}


SUITE = """
import redis

from tests.support.redis_server import MARKER


def test_uses_redis(redis_db):
    connection = redis.Redis.from_url(redis_db)
    assert connection.exists(MARKER), "the session's marker"
    connection.set("rq:queue:hooks", "a test's job")
    connection.close()
"""


def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, url: str) -> pytest.RunResult:
    """A tiny suite using ``redis_db``, with REDIS_URL=``url`` and the fixtures of tests/conftest.py."""
    monkeypatch.setenv("REDIS_URL", url)
    # The inner session is no xdist worker, even when this test runs in one (it would take a database below url's).
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    pytester.makepyfile(test_tiny=SUITE)
    return pytester.runpytest("-p", "no:cacheprovider", plugins=[conftest])


def test_the_session_refuses_a_redis_url_whose_database_holds_keys(
    server: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(server, "app:data", "precious")
    result = run(pytester, monkeypatch, server)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*refusing to use redis://127.0.0.1:*/0 for tests: the database is not empty*"])
    assert keys(server) == {b"app:data": b"precious"}


def test_the_session_uses_an_empty_redis_url_database_and_leaves_it_empty(
    server: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = db(server, 15)
    put(server, "app:data", "precious")
    result = run(pytester, monkeypatch, fresh)
    result.assert_outcomes(passed=1)
    assert keys(fresh) == {}
    assert keys(server) == {b"app:data": b"precious"}


@pytest.mark.parametrize(
    ("url", "worker", "expected"),
    [
        ("redis://127.0.0.1:6379/15", "", "redis://127.0.0.1:6379/15"),
        ("redis://127.0.0.1:6379/15", "gw0", "redis://127.0.0.1:6379/15"),
        ("redis://127.0.0.1:6379/15", "gw1", "redis://127.0.0.1:6379/14"),
        ("redis://:pw@127.0.0.1:6379/15", "gw3", "redis://:pw@127.0.0.1:6379/12"),
        ("unix:///run/redis.sock?db=5", "gw2", "unix:///run/redis.sock?db=3"),
        ("redis://127.0.0.1:6379", "gw0", "redis://127.0.0.1:6379/0"),
    ],
)
def test_each_xdist_worker_takes_a_database_of_its_own(url: str, worker: str, expected: str) -> None:
    assert redis_server.for_worker(url, worker) == expected


def test_a_worker_beyond_database_zero_is_refused_with_the_fix() -> None:
    with pytest.raises(redis_server.NotOurs, match=r"would need database -1.*TEST_WORKERS"):
        redis_server.for_worker("redis://127.0.0.1:6379/1", "gw2")
