"""Recover is one service operation: every failed job of a policy in a window, in one update, none failing the rest."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import redis
from flask import Flask
from sqlalchemy import update

from app import clock, queue
from app.extensions import db
from app.models import HookJob, HookJobStatus
from app.services import hook_jobs
from tests.integration.test_delivery import add_policy, jobs, push, work
from tests.support import redis_server, replay
from tests.support.sinks import Reply, Sink

POLICIES = "/api/v2.0/projects/library/webhook/policies"


@pytest.fixture
def own_redis() -> Iterator[str]:
    """A redis-server of this test's own: its command counts are server-wide, so another client of a shared server
    (another test run, say) would add its own."""
    with redis_server.own_server() as url:
        yield url


def test_recover_redelivers_the_failed_jobs_skips_what_changed_and_what_has_no_target(
    make_app: Callable[..., Flask], own_redis: str, sink: Sink
) -> None:
    redis_db = own_redis
    sink.respond = lambda _: Reply(status=503)
    app = make_app(notify_token=replay.TOKEN, redis_url=redis_db, retry_schedule=())
    policy_id = add_policy(app, [{"address": f"{sink.url}/{name}"} for name in ("a", "b", "d", "c")])
    push(app)
    work(app, redis_db)
    a, b, d, c = jobs(app)
    assert [j.status for j in (a, b, d, c)] == ["error"] * 4
    client = app.test_client()
    location = f"{POLICIES}/{policy_id}"
    shown = client.get(location).get_json()
    shown["targets"] = shown["targets"][:3]  # c's target goes: it has nothing to be sent with
    assert client.put(location, json=shown).status_code == 200
    with app.app_context():  # b was redelivered by someone else meanwhile: not an error any more
        db.session.execute(update(HookJob).where(HookJob.id == b.id).values(status=HookJobStatus.RUNNING))
        db.session.commit()

    since = (clock.now() - timedelta(hours=1)).isoformat()
    server = redis.Redis.from_url(redis_db)
    server.config_resetstat()
    response = client.post(f"{location}/recover", json={"since": since})
    assert response.status_code == 202, response.get_json()
    assert response.get_json() == {"redelivered": 2, "hook_jobs": [a.uuid, d.uuid], "remaining": 0}
    # One enqueue for the lot: a single MULTI/EXEC pipeline, not one per job.
    assert server.info("commandstats")["cmdstat_exec"]["calls"] == 1
    assert queue.queued_hook_jobs(redis_db, "hooks") == [a.uuid, d.uuid]
    after = {j.uuid: (j.status, j.trigger) for j in jobs(app)}
    assert after == {
        a.uuid: ("pending", "manual"),
        b.uuid: ("running", "auto"),
        d.uuid: ("pending", "manual"),
        c.uuid: ("error", "auto"),
    }


def test_recover_is_bounded_per_call_and_says_how_many_remain(
    make_app: Callable[..., Flask], redis_db: str, sink: Sink
) -> None:
    sink.respond = lambda _: Reply(status=503)
    app = make_app(notify_token=replay.TOKEN, redis_url=redis_db, retry_schedule=())
    policy_id = add_policy(app, [{"address": f"{sink.url}/{name}"} for name in ("a", "b", "c")])
    push(app)
    work(app, redis_db)
    a, b, c = jobs(app)
    since = clock.now() - timedelta(hours=1)
    with app.app_context():
        first = hook_jobs.recover(policy_id, since, None, redis_db, 60, limit=2)
        second = hook_jobs.recover(policy_id, since, None, redis_db, 60, limit=2)
        third = hook_jobs.recover(policy_id, since, None, redis_db, 60, limit=2)
    assert first == ([a.uuid, b.uuid], 1)
    assert second == ([c.uuid], 0)
    assert third == ([], 0)
    until_before_since = {"since": since.isoformat(), "until": (since - timedelta(seconds=1)).isoformat()}
    refused = app.test_client().post(f"{POLICIES}/{policy_id}/recover", json=until_before_since)
    assert refused.status_code == 400 and "until" in refused.get_json()["errors"][0]["message"]
