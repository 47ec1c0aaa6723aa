"""A hook job's attempt budget is its own: shown the same before and after a redelivery, and used by the decision."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from jobs.deliver import deliver
from tests.integration.test_delivery import add_policy, jobs, push, work
from tests.support import replay
from tests.support.sinks import Reply, Sink


def test_max_attempts_is_the_same_before_and_after_a_redelivery(
    make_app: Callable[..., Flask], redis_db: str, sink: Sink
) -> None:
    app = make_app(notify_token=replay.TOKEN, redis_url=redis_db)  # the default schedule: 8 attempts
    add_policy(app, [{"address": sink.url}])
    push(app)
    work(app, redis_db)
    (job,) = jobs(app)
    client = app.test_client()
    before = client.get(f"/api/v2.0/hook-jobs/{job.uuid}").get_json()
    assert (before["status"], before["attempt_count"], before["max_attempts"]) == ("success", 1, 8)
    assert client.post(f"/api/v2.0/hook-jobs/{job.uuid}/redeliver").status_code == 202
    work(app, redis_db)
    after = client.get(f"/api/v2.0/hook-jobs/{job.uuid}").get_json()
    assert (after["status"], after["attempt_count"], after["max_attempts"]) == ("success", 2, 8)
    assert [a["manual"] for a in after["attempts"]] == [False, True]


def test_a_job_keeps_retrying_on_its_own_budget_when_the_schedule_shrinks(
    make_app: Callable[..., Flask], redis_db: str, sink: Sink
) -> None:
    sink.respond = lambda _: Reply(status=503)
    made = make_app(notify_token=replay.TOKEN, redis_url=redis_db, retry_schedule=(1, 1, 1))
    add_policy(made, [{"address": sink.url}])
    push(made)
    (job,) = jobs(made)
    assert job.max_attempts == 4
    # The operator turns retries down to one; jobs already made keep the budget they were made with.
    shrunk = make_app(notify_token=replay.TOKEN, redis_url=redis_db, retry_schedule=(1,))
    work(shrunk, redis_db)  # attempt 1: 503, retried
    with shrunk.app_context():
        assert deliver(job.id) == "retry", "attempt 2 of 4 is retried whatever the current schedule says"
    (after,) = jobs(shrunk)
    assert (after.status, after.attempt_count, after.max_attempts) == ("scheduled", 2, 4)
