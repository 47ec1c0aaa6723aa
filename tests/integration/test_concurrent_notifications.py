"""Concurrent deliveries: the registry re-sends while the first request is still running (timeout), and
several registries (or gunicorn threads) write the same new project and repository at once."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

from flask import Flask

from tests.support import replay
from tests.support.state import recorded

THREADS = 8


def post_all(app: Flask, bodies: list[bytes]) -> list[int]:
    barrier = threading.Barrier(len(bodies))
    headers = {
        "Content-Type": "application/vnd.docker.distribution.events.v1+json",
        "Authorization": f"Bearer {replay.TOKEN}",
    }

    def post(body: bytes) -> int:
        client = app.test_client()
        barrier.wait()
        return client.post("/service/notifications", data=body, headers=headers).status_code

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(post, bodies))


def test_simultaneous_resends_of_one_event_record_it_once(app: Flask) -> None:
    body = replay.deliveries("push_oci_alpine_3.19")[-1].body
    assert post_all(app, [body] * THREADS) == [200] * THREADS
    state = recorded(app)
    assert len(state.access_logs) == 1
    assert [e[0] for e in state.events] == ["PUSH_ARTIFACT"]
    assert state.repositories == {"library/alpine": (1, 0)}


def test_simultaneous_distinct_pulls_of_a_new_repository_all_count(app: Flask) -> None:
    template = json.loads(replay.deliveries("pull_inspect_raw_alpine_3.19")[0].body)
    bodies = []
    for i in range(THREADS):
        envelope = json.loads(json.dumps(template))
        envelope["events"][0]["id"] = f"pull-{i}"
        envelope["events"][0]["target"]["repository"] = "fresh/new-repo"
        bodies.append(json.dumps(envelope).encode())
    assert post_all(app, bodies) == [200] * THREADS
    state = recorded(app)
    assert state.projects == ["fresh"]
    assert state.repositories == {"fresh/new-repo": (0, THREADS)}
    assert len(state.events) == THREADS
