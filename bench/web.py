"""P2 ingestion and P3 latency, through gunicorn with the deployment's config (deploy/gunicorn.conf.py).

P2: notifications/s of the captured manifest push (recorded, one matching policy with one target), sent by
``clients`` threads each on its own keep-alive connection, against a bare Flask JSON endpoint
(``bench.bare:app``) under the same gunicorn and the same clients; and against that endpoint made durable
(``bench.bare:durable_app``: one INSERT and one COMMIT per notification), the most any receiver that commits before
it answers can reach.

P3: notification sent → the target's 2xx, one notification at a time in order (as docker/distribution sends),
paced at ``rate`` (half the lowest of P1's one-worker rate, P2's rate and :func:`sequential_rate`); against a
bare RQ enqueue (``bench.bare.post``) → the same sink at the same rate. One worker
each (Dockhook's ``python worker.py``, RQ's SimpleWorker).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

import redis
import requests
from flask import Flask
from rq import Queue
from sqlalchemy import func, select

from app.extensions import db
from app.models import Event
from bench import bare, harness, stack, versus
from bench.versus import Run
from tests.support.sinks import Sink

INGEST_LABELS = {
    "bare_flask": "bare Flask JSON endpoint, same gunicorn",
    "bare_durable": "the same + 1 INSERT and COMMIT (durable floor)",
    "dockhook": "Dockhook receiver: push recorded, 1 policy",
}
LATENCY_LABELS = {
    "rq_enqueue": "bare RQ enqueue -> sink, 1 SimpleWorker",
    "dockhook": "notification -> target 2xx, 1 worker",
}
WARM_UP = 16
_TAG = re.compile(rb'"tag":\s*"bench-(\d+)"')


def _blast(base: str, notifications: list[harness.Notification], clients: int) -> Run:
    durations: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client(mine: list[harness.Notification]) -> None:
        session = requests.Session()
        session.trust_env = False
        for notification in mine:
            began = time.monotonic()
            response = session.post(base + harness.NOTIFY_PATH, data=notification.body, headers=notification.headers)
            took = time.monotonic() - began
            with lock:
                durations.append(took)
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")
        session.close()

    threads = [threading.Thread(target=client, args=(notifications[n::clients],)) for n in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    if failures:
        raise RuntimeError(f"{len(failures)} notifications failed, first: {failures[0]}")
    return Run(len(durations), elapsed, sorted(durations))


def ingestion(
    app: Flask,
    database_url: str,
    redis_url: str,
    sink: Sink,
    count: int,
    clients: int,
    rounds: int,
    step: Callable[[str], None],
) -> dict[str, list[Run]]:
    runs: dict[str, list[Run]] = {name: [] for name in INGEST_LABELS}
    for number in range(rounds):
        step(f"P2 round {number + 1}: {count} notifications by {clients} clients, bare Flask then Dockhook")
        harness.reset(app, redis_url)
        versus.add_policy(app, "library", [sink.url], "one")
        pushes = harness.manifest_pushes(count + WARM_UP)
        with stack.gunicorn("bench.bare:app", database_url, None) as base:
            _blast(base, pushes[:WARM_UP], clients)
            runs["bare_flask"].append(_blast(base, pushes[WARM_UP:], clients))
        bare.create_inbox(database_url)
        with stack.gunicorn("bench.bare:durable_app", database_url, None) as base:
            _blast(base, pushes[:WARM_UP], clients)
            runs["bare_durable"].append(_blast(base, pushes[WARM_UP:], clients))
        with stack.gunicorn("wsgi:app", database_url, redis_url) as base:
            _blast(base, pushes[:WARM_UP], clients)
            runs["dockhook"].append(_blast(base, pushes[WARM_UP:], clients))
        with app.app_context():
            events = db.session.scalar(select(func.count()).select_from(Event))
            db.session.remove()
        if events != count + WARM_UP:
            raise RuntimeError(f"{events} events recorded, not {count + WARM_UP}")
    return runs


def _paced(count: int, rate: float, send: Callable[[int], None]) -> dict[int, float]:
    sent: dict[int, float] = {}
    t0 = time.monotonic()
    for number in range(count):
        pause = t0 + number / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        sent[number] = time.monotonic()
        send(number)
    return sent


def _latencies(sink: Sink, sent: dict[int, float], seq: Callable[[versus.Received], int | None]) -> Run:
    deadline = time.monotonic() + 60
    while True:
        arrived: dict[int, float] = {}
        for request in versus.received_of(sink):
            number = seq(request)
            if number is not None and number in sent:
                arrived.setdefault(number, request.at - sent[number])
        if len(arrived) == len(sent):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(arrived)} of {len(sent)} deliveries reached the sink")
        time.sleep(0.05)
    return Run(len(arrived), max(sent.values()) - min(sent.values()) or 1e-6, sorted(arrived.values()))


def _latency_rq(redis_url: str, sink: Sink, rate: float, count: int) -> Run:
    connection = redis.Redis.from_url(redis_url)
    queue = Queue(stack.BARE_QUEUE, connection=connection)
    body = harness.manifest_pushes(1)[0].body
    try:
        with stack.workers("rq-simple", 1, redis_url):
            versus.clear(sink)

            def enqueue(n: int) -> None:
                queue.enqueue("bench.bare.post", sink.url, body, "application/json", {"x-seq": str(n)}, result_ttl=0)

            sent = _paced(count, rate, enqueue)
            return _latencies(sink, sent, lambda r: int(r.headers["x-seq"]) if "x-seq" in r.headers else None)
    finally:
        connection.close()


def _latency_dockhook(database_url: str, redis_url: str, sink: Sink, rate: float, count: int) -> Run:
    pushes = harness.manifest_pushes(count + WARM_UP)
    with (
        stack.gunicorn("wsgi:app", database_url, redis_url) as base,
        stack.workers("dockhook", 1, redis_url, database_url),
    ):
        session = requests.Session()
        session.trust_env = False
        for notification in pushes[-WARM_UP:]:
            session.post(base + harness.NOTIFY_PATH, data=notification.body, headers=notification.headers)
        sink.wait_for(WARM_UP, timeout=30)
        versus.clear(sink)

        def notify(n: int) -> None:
            notification = pushes[n]
            response = session.post(base + harness.NOTIFY_PATH, data=notification.body, headers=notification.headers)
            response.raise_for_status()

        sent = _paced(count, rate, notify)

        def tag(request: versus.Received) -> int | None:
            found = _TAG.search(request.body)
            return int(found.group(1)) if found else None

        try:
            return _latencies(sink, sent, tag)
        finally:
            session.close()


def sequential_rate(app: Flask, database_url: str, redis_url: str, sink: Sink, count: int = 40) -> float:
    """Notifications/s one sender gets when it sends one at a time and waits for each answer (as docker/distribution
    does): P3's ceiling, lower than P2's, where 8 senders share transactions (the receiver's group commit)."""
    harness.reset(app, redis_url)
    versus.add_policy(app, "library", [sink.url], "one")
    pushes = harness.manifest_pushes(count + WARM_UP)
    with stack.gunicorn("wsgi:app", database_url, redis_url) as base:
        session = requests.Session()
        session.trust_env = False
        try:
            for notification in pushes[:WARM_UP]:
                session.post(base + harness.NOTIFY_PATH, data=notification.body, headers=notification.headers)
            began = time.monotonic()
            for notification in pushes[WARM_UP:]:
                answer = session.post(base + harness.NOTIFY_PATH, data=notification.body, headers=notification.headers)
                answer.raise_for_status()
            return count / (time.monotonic() - began)
        finally:
            session.close()


def latency(
    app: Flask,
    database_url: str,
    redis_url: str,
    sink: Sink,
    rate: float,
    count: int,
    rounds: int,
    step: Callable[[str], None],
) -> dict[str, list[Run]]:
    runs: dict[str, list[Run]] = {name: [] for name in LATENCY_LABELS}
    for number in range(rounds):
        step(f"P3 round {number + 1}: {count} notifications at {rate:.0f}/s, bare RQ then Dockhook")
        harness.reset(app, redis_url)
        runs["rq_enqueue"].append(_latency_rq(redis_url, sink, rate, count))
        harness.reset(app, redis_url)
        versus.add_policy(app, "library", [sink.url], "one")
        runs["dockhook"].append(_latency_dockhook(database_url, redis_url, sink, rate, count))
    return runs
