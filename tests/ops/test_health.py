"""Health: /healthz, /readyz (503 while the database or Redis is unreachable, 200 again once it is back),
Harbor's /api/v2.0/ping and /api/v2.0/health, and the workers' and the sweeper's heartbeats."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from sqlalchemy.engine import make_url

from app import queue
from tests.support import redis_server
from tests.support.tcp_proxy import TcpProxy

TOKEN = "t" * 40


def test_healthz_and_ping_answer_without_credentials(make_app: Callable[..., Flask]) -> None:
    client = make_app(api_token=TOKEN).test_client()
    response = client.get("/healthz")
    assert (response.status_code, response.json) == (200, {"status": "ok"})
    ping = client.get("/api/v2.0/ping")
    assert (ping.status_code, ping.text, ping.mimetype) == (200, "Pong", "text/plain")
    # The rest of /api/ still needs the token.
    assert client.get("/api/v2.0/projects").status_code == 401


def test_ready_and_healthy_with_a_worker_and_a_sweeper_beating(make_app: Callable[..., Flask], redis_db: str) -> None:
    client = make_app(api_token=TOKEN, redis_url=redis_db).test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json
    assert ready.json["status"] == "ready"
    assert ready.json["checks"]["database"]["ok"] and ready.json["checks"]["redis"]["ok"]
    # No process beats yet: reported, but readiness does not depend on it.
    assert ready.json["processes"]["worker"] == {
        "ok": False,
        "alive": 0,
        "error": "no worker has sent a heartbeat in the last 30 s",
    }
    harbor = client.get("/api/v2.0/health").json
    assert harbor["status"] == "unhealthy"
    assert {c["name"]: c["status"] for c in harbor["components"]} == {
        "core": "healthy",
        "database": "healthy",
        "redis": "healthy",
        "worker": "unhealthy",
        "sweeper": "unhealthy",
    }

    queue.beat(redis_db, "worker", "host-a:1", 30)
    queue.beat(redis_db, "worker", "host-b:2", 30)
    queue.beat(redis_db, "sweeper", "host-a:3", 30)
    harbor = client.get("/api/v2.0/health").json
    assert harbor == {
        "status": "healthy",
        "components": [
            {"name": "core", "status": "healthy"},
            {"name": "database", "status": "healthy"},
            {"name": "redis", "status": "healthy"},
            {"name": "worker", "status": "healthy"},
            {"name": "sweeper", "status": "healthy"},
        ],
    }
    assert client.get("/readyz").json["processes"]["worker"] == {"ok": True, "alive": 2}

    # A beat that is not renewed expires: the sweeper stopped.
    queue.beat(redis_db, "sweeper", "host-a:3", 0.2)
    time.sleep(0.4)
    sweeper = client.get("/api/v2.0/health").json["components"][-1]
    assert sweeper["status"] == "unhealthy" and "no sweeper" in sweeper["error"]


def _start_redis(port: int, directory: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [redis_server.binary(), "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            if redis.Redis(port=port).ping():
                return process
        except redis.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.05)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[int, list[subprocess.Popen[bytes]]]]:
    """A port and the redis-server processes the test started on it (stopped by PID afterwards)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    started: list[subprocess.Popen[bytes]] = []
    yield port, started
    for process in started:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


def test_readiness_is_503_while_redis_is_stopped_and_200_once_it_is_back(
    make_app: Callable[..., Flask], own_redis: tuple[int, list[subprocess.Popen[bytes]]], tmp_path: Path
) -> None:
    port, started = own_redis
    started.append(_start_redis(port, tmp_path))
    client = make_app(redis_url=f"redis://127.0.0.1:{port}/0").test_client()
    assert client.get("/readyz").status_code == 200

    started[0].terminate()
    started[0].wait(timeout=10)
    down = client.get("/readyz")
    assert down.status_code == 503
    assert down.json["status"] == "unready"
    assert down.json["checks"]["database"] == {"ok": True, "latency_ms": down.json["checks"]["database"]["latency_ms"]}
    assert down.json["checks"]["redis"]["ok"] is False
    assert (
        "Connection refused" in down.json["checks"]["redis"]["error"]
        or "connect" in down.json["checks"]["redis"]["error"].lower()
    ), down.json
    redis_component = client.get("/api/v2.0/health").json["components"][2]
    assert redis_component["name"] == "redis" and redis_component["status"] == "unhealthy"

    started.append(_start_redis(port, tmp_path))
    assert client.get("/readyz").status_code == 200


def test_readiness_is_503_while_the_database_is_unreachable_and_200_once_it_is_back(
    make_app: Callable[..., Flask], database_url: str, redis_db: str
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("a SQLite file cannot become unreachable: the PostgreSQL leg covers this")
    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    try:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        client = make_app(database_url=proxied, redis_url=redis_db).test_client()
        assert client.get("/readyz").status_code == 200

        proxy.down()
        started = time.monotonic()
        down = client.get("/readyz")
        assert down.status_code == 503, down.json
        assert time.monotonic() - started < 5
        assert down.json["checks"]["database"]["ok"] is False and down.json["checks"]["database"]["error"]
        assert down.json["checks"]["redis"]["ok"] is True
        assert client.get("/api/v2.0/health").json["components"][1]["status"] == "unhealthy"

        proxy.up()
        assert client.get("/readyz").status_code == 200
    finally:
        proxy.close()
