"""A large envelope under real gunicorn: answered first, its hook jobs on the queue right after the answer.

The receiver enqueues more than ``INLINE_ENQUEUE`` hook jobs after its answer is sent (RQ costs about 0.2 ms of
CPU per job, which a backed-up registry must not wait for). Only a real server closes the response and so runs
that step: no worker and no sweeper run here, so the jobs can reach Redis no other way.
"""

from __future__ import annotations

import json
import uuid

import pytest
import redis
from rq import Queue

from app.queue import HOOKS, queued_hook_jobs
from app.registry.views import INLINE_ENQUEUE
from tests.e2e.conftest import Dockhook
from tests.support import processes, replay

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

EVENTS = 30
TARGETS = 10


@pytest.fixture
def dockhook_settings() -> dict[str, str]:
    return {"DOCKHOOK_NOTIFY_TOKEN": replay.TOKEN}


def test_more_jobs_than_the_inline_limit_reach_the_queue_after_the_answer(dockhook: Dockhook) -> None:
    assert EVENTS * TARGETS > INLINE_ENQUEUE
    dockhook.create_project("library")
    dockhook.create_policy("library", "wide", [{"address": f"http://127.0.0.1:9/hook-{n}"} for n in range(TARGETS)])
    manifest = replay.deliveries("push_oci_alpine_3.19")[-1]
    template = json.loads(manifest.body)["events"][0]
    events = [
        {**template, "id": str(uuid.uuid4()), "target": {**template["target"], "tag": f"t{n}"}} for n in range(EVENTS)
    ]

    status, _, body = processes.http_request(
        dockhook.url + manifest.path,
        method="POST",
        body=json.dumps({"events": events}).encode(),
        headers=manifest.request_headers(),
    )
    assert status == 200, body[:500]
    assert json.loads(body)["recorded"] == EVENTS

    connection = redis.Redis.from_url(dockhook.redis_url)
    try:
        hooks = Queue(HOOKS, connection=connection)
        # An RQ job carries up to app.queue.BATCH hook jobs: count the hook jobs, not the RQ jobs.
        processes.wait_until(
            lambda: len(queued_hook_jobs(dockhook.redis_url, HOOKS)) == EVENTS * TARGETS,
            timeout=10,
            what=f"{EVENTS * TARGETS} deliveries on the {HOOKS} queue",
            processes=[dockhook.process],
            describe=lambda: hooks.count,
        )
        queued = set(queued_hook_jobs(dockhook.redis_url, HOOKS))
    finally:
        connection.close()
    jobs = dockhook.hook_jobs("library")
    assert len(jobs) == 100  # one page of the API's list; every one of them is on the queue
    assert {job["uuid"] for job in jobs} <= queued
