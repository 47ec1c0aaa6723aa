"""Notifications that arrive together share one transaction (the receiver's group commit), and each still gets
its own answer: what it recorded, what was a duplicate, what it published; the hook jobs of all are committed and
then enqueued. The first transaction is held open here so that the others arrive while it runs (as under load)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis
from flask import Flask
from rq import Queue
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from app import queue
from app.broker import Topic
from app.extensions import current_broker, db
from app.models import AccessLog, Event, HookJob
from app.registry import views
from app.registry.group_commit import GroupCommit
from app.services.errors import DatabaseUnavailable
from app.services.registry_events import Envelope
from tests.integration.test_delivery import add_policy
from tests.support import replay

WAIT = 20.0
HEADERS = {
    "Content-Type": "application/vnd.docker.distribution.events.v1+json",
    "Authorization": f"Bearer {replay.TOKEN}",
}


def push(event_id: str, tag: str) -> bytes:
    envelope = json.loads(replay.deliveries("push_oci_alpine_3.19")[-1].body)
    envelope["events"][0]["id"] = event_id
    envelope["events"][0]["target"]["tag"] = tag
    return json.dumps(envelope).encode()


class Held:
    """The receiver's own group recording, with its first transaction held open until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.groups: list[int] = []

    def __call__(self, envelopes: Sequence[Envelope]) -> list[Any]:
        self.groups.append(len(envelopes))
        if len(self.groups) == 1:
            self.entered.set()
            assert self.release.wait(WAIT)
        return views._record_group(envelopes)


def send_during_first(
    app: Flask, held: Held, send: Callable[[str, bytes], None], later: list[tuple[str, bytes]]
) -> list[threading.Thread]:
    """Send "first" (its transaction held open), then each of ``later`` once the one before waits in the queue (so
    their order is known); the threads, the first one first, still running until ``held`` is released."""
    first = threading.Thread(target=send, args=("first", push("event-first", "v1")))
    first.start()
    assert held.entered.wait(WAIT)
    grouping = app.extensions["dockhook.group_commit"]
    threads = [first]
    for name, body in later:
        thread = threading.Thread(target=send, args=(name, body))
        thread.start()
        threads.append(thread)
        deadline = time.monotonic() + WAIT
        while len(grouping._queue) < len(threads) - 1:
            assert time.monotonic() < deadline
            time.sleep(0.005)
    return threads


def test_notifications_arriving_during_a_transaction_are_committed_together_each_with_its_answer(
    make_app: Callable[..., Flask], redis_db: str
) -> None:
    app = make_app(notify_token=replay.TOKEN, redis_url=redis_db)
    add_policy(app, [{"address": "http://127.0.0.1:9/hook"}])
    held = Held()
    app.extensions["dockhook.group_commit"] = GroupCommit(held, shared_errors=(DatabaseUnavailable,))
    commits: list[int] = []
    with app.app_context():
        engine = db.engine

    def count(_conn: Any) -> None:
        commits.append(1)

    answers: dict[str, Any] = {}

    def send(name: str, body: bytes) -> None:
        response = app.test_client().post("/service/notifications", data=body, headers=HEADERS)
        answers[name] = (response.status_code, response.get_json())

    later = [
        ("second", push("event-second", "v2")),
        ("resend", push("event-second", "v2")),  # the same event again, in its own envelope, same group
        ("third", push("event-third", "v3")),
    ]
    threads = send_during_first(app, held, send, later)
    sa_event.listen(engine, "commit", count)
    try:
        held.release.set()
        for thread in threads:
            thread.join(WAIT)
    finally:
        sa_event.remove(engine, "commit", count)

    assert held.groups == [1, 3]
    assert len(commits) == 2  # the first notification's transaction, then one for the three that came meanwhile
    recorded = {"received": 1, "recorded": 1, "duplicates": 0, "ignored": 0, "published": ["PUSH_ARTIFACT"]}
    assert answers["first"] == (200, recorded)
    assert answers["second"] == (200, recorded)
    assert answers["resend"] == (200, {**recorded, "recorded": 0, "duplicates": 1, "published": []})
    assert answers["third"] == (200, recorded)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AccessLog)) == 3
        jobs = db.session.scalars(select(HookJob.uuid).order_by(HookJob.id)).all()
    assert len(jobs) == 3
    connection = redis.Redis.from_url(redis_db)
    try:
        waiting = queue.queued_hook_jobs(redis_db, queue.HOOKS)
        assert sorted(waiting) == sorted(jobs)
        # The group's two hook jobs went to Redis together: one RQ job carries both.
        assert len(Queue(queue.HOOKS, connection=connection).get_job_ids()) == 2
    finally:
        connection.close()


def test_a_lone_notification_is_not_kept_waiting_for_company(app: Flask) -> None:
    grouping: GroupCommit[Envelope, Any] | None = app.extensions.get("dockhook.group_commit")
    assert grouping is None  # made on first use
    response = app.test_client().post("/service/notifications", data=push("event-alone", "v1"), headers=HEADERS)
    assert response.status_code == 200 and response.get_json()["recorded"] == 1
    grouping = app.extensions["dockhook.group_commit"]
    assert (grouping.groups, grouping.grouped) == (1, 0)


class HandlerBug(Exception):
    pass


def test_a_group_that_fails_is_recorded_again_envelope_by_envelope_with_nothing_of_the_failed_attempt(
    make_app: Callable[..., Flask], redis_db: str
) -> None:
    """A bug in a topic handler fails the group's transaction midway: each envelope is then recorded alone, on a
    clean session. Only the one that hits the bug fails; nothing the failed attempt had written or added is
    committed with the others."""
    app = make_app(notify_token=replay.TOKEN, redis_url=redis_db)
    add_policy(app, [{"address": "http://127.0.0.1:9/hook"}])

    def buggy(_topic: str, event: Any) -> None:
        if event.repository.endswith("boom"):
            raise HandlerBug("a handler's bug")

    with app.app_context():
        current_broker().subscribe(Topic.PUSH_ARTIFACT, buggy)  # after the artifact handler: its rows are added
    held = Held()
    app.extensions["dockhook.group_commit"] = GroupCommit(held, shared_errors=(DatabaseUnavailable,))
    answers: dict[str, Any] = {}

    def send(name: str, body: bytes) -> None:
        try:
            response = app.test_client().post("/service/notifications", data=body, headers=HEADERS)
            answers[name] = (response.status_code, response.get_json()["recorded"])
        except HandlerBug as exc:  # TESTING: Flask lets the exception through to the client
            answers[name] = exc

    boom = json.loads(push("event-boom", "v1"))
    boom["events"][0]["target"]["repository"] = "library/boom"
    later = [
        ("ok-1", push("event-ok-1", "v2")),
        ("boom", json.dumps(boom).encode()),
        ("ok-2", push("event-ok-2", "v3")),
    ]
    threads = send_during_first(app, held, send, later)
    held.release.set()
    for thread in threads:
        thread.join(WAIT)

    assert held.groups == [1, 3, 1, 1, 1], "the failed group of three, then each of its envelopes alone"
    assert answers["first"] == answers["ok-1"] == answers["ok-2"] == (200, 1)
    assert isinstance(answers["boom"], HandlerBug)
    with app.app_context():
        logged = db.session.scalars(select(AccessLog.registry_event_id)).all()
        events = db.session.scalars(select(Event.registry_event_id)).all()
        hooked = db.session.scalar(select(func.count()).select_from(HookJob))
    assert sorted(logged) == sorted(events) == ["event-first", "event-ok-1", "event-ok-2"]
    assert hooked == 3
