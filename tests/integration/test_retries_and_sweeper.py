"""Retries on the schedule, the sweeper (lost, due and abandoned jobs), stop/redeliver, retention — with a real
Redis, real RQ workers and loopback targets, and an injected clock so hours pass in milliseconds."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
import redis
from flask import Flask
from sqlalchemy import select

from app import queue
from app.config import DEFAULT_SCHEDULE
from app.extensions import current_settings, db
from app.models import Event, HookAttempt, HookJob, RejectedNotification, WebhookPolicy
from app.services import hook_jobs
from jobs.sweep import purge, sweep_once
from tests.integration.test_delivery import add_policy, attempts, jobs, push, work
from tests.support import redis_server, replay
from tests.support.clock import FakeClock
from tests.support.sinks import Reply, Sink

SCHEDULE = DEFAULT_SCHEDULE  # Svix's, as Dockhook's default
# How long a thread of a test may take before the test fails.
JOIN_TIMEOUT = 30.0


@pytest.fixture
def retry_app(make_app: Callable[..., Flask], redis_db: str) -> Flask:
    return make_app(
        notify_token=replay.TOKEN,
        redis_url=redis_db,
        retry_schedule=SCHEDULE,
        http_read_timeout=1.0,
        job_timeout=30,
        sweep_grace=10,
    )


def sweep(app: Flask) -> object:
    with app.app_context():
        try:
            return sweep_once(current_settings())
        finally:
            db.session.remove()


def queued(redis_url: str, name: str) -> list[str]:
    """The hook jobs waiting on queue ``name`` (an RQ job may carry several: app.queue.BATCH)."""
    return queue.queued_hook_jobs(redis_url, name)


def test_a_failing_target_is_retried_on_the_schedule_until_it_gives_up(
    retry_app: Flask, redis_db: str, sink: Sink, fake_clock: FakeClock
) -> None:
    sink.respond = lambda _: Reply(status=503)
    add_policy(retry_app, [{"address": sink.url}])
    push(retry_app)
    work(retry_app, redis_db)
    for _ in SCHEDULE:
        (job,) = jobs(retry_app)
        assert job.status == "scheduled" and job.next_attempt_at is not None
        assert queued(redis_db, "hooks-retry") == [], "a retry waits in the database, not in Redis"
        fake_clock.advance_to(job.next_attempt_at)
        sweep(retry_app)
        assert queued(redis_db, "hooks-retry") == [job.uuid]
        work(retry_app, redis_db)

    (job,) = jobs(retry_app)
    assert (job.status, job.attempt_count, job.max_attempts) == ("error", 8, 8)
    assert job.final_reason == "HTTP 503: gave up after 8 attempts"
    times = [a.started_at for a in sorted(attempts(retry_app, job.id), key=lambda a: a.number)]
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(times)]
    assert len(gaps) == len(SCHEDULE)
    for gap, base in zip(gaps, SCHEDULE, strict=True):
        assert base * 0.8 <= gap <= base * 1.2 + 1, (gaps, SCHEDULE)
    webhook_ids = {r.headers["webhook-id"] for r in sink.received}
    assert len(sink.received) == 8 and webhook_ids == {job.uuid}, "every try carries the same webhook-id"


def test_429_with_retry_after_is_honoured_and_a_later_success_ends_it(
    retry_app: Flask, redis_db: str, sink: Sink, fake_clock: FakeClock
) -> None:
    answers = iter([Reply(status=429, headers={"Retry-After": "100"}), Reply(status=200)])
    sink.respond = lambda _: next(answers)
    add_policy(retry_app, [{"address": sink.url}])
    push(retry_app)
    work(retry_app, redis_db)
    (job,) = jobs(retry_app)
    (first,) = attempts(retry_app, job.id)
    assert (first.status_code, first.outcome) == (429, "retry")
    assert job.next_attempt_at is not None
    assert (job.next_attempt_at - first.started_at).total_seconds() == pytest.approx(100, abs=1)
    fake_clock.advance_to(job.next_attempt_at)
    sweep(retry_app)
    work(retry_app, redis_db)
    (job,) = jobs(retry_app)
    assert (job.status, job.attempt_count) == ("success", 2)


def test_410_gone_fails_at_once_and_disables_that_target(
    retry_app: Flask, redis_db: str, sink: Sink, fake_clock: FakeClock
) -> None:
    other = Sink()
    try:
        sink.respond = lambda _: Reply(status=410)
        policy_id = add_policy(retry_app, [{"address": sink.url}, {"address": other.url}])
        push(retry_app)
        work(retry_app, redis_db)
        gone, fine = jobs(retry_app)
        assert (gone.status, gone.attempt_count, fine.status) == ("error", 1, "success")
        with retry_app.app_context():
            targets = db.session.get(WebhookPolicy, policy_id).targets  # type: ignore[union-attr]
        assert targets[0]["disabled"] is True and "410" in targets[0]["disabled_reason"]
        assert not targets[1].get("disabled")
        shown = retry_app.test_client().get(f"/api/v2.0/projects/library/webhook/policies/{policy_id}").get_json()
        assert [t["disabled"] for t in shown["targets"]] == [True, False]

        # The next event reaches only the target that is still enabled.
        client = retry_app.test_client()
        for delivery in replay.deliveries("push_oci_alpine_latest_second_tag"):
            assert client.post(delivery.path, data=delivery.body, headers=delivery.request_headers()).status_code == 200
        work(retry_app, redis_db)
        assert len(jobs(retry_app)) == 3 and len(sink.received) == 1 and len(other.received) == 2
    finally:
        other.close()


def test_pending_jobs_redis_lost_are_enqueued_again_after_the_grace_period(
    retry_app: Flask, redis_db: str, sink: Sink, fake_clock: FakeClock
) -> None:
    add_policy(retry_app, [{"address": sink.url}])
    push(retry_app)
    redis_server.flush(redis_db)  # Redis loses everything (but the test session's marker)
    sweep(retry_app)
    assert queued(redis_db, "hooks") == [], "inside the grace period the receiver's own enqueue may be in flight"
    fake_clock.advance_to(fake_clock.now + timedelta(seconds=11))
    sweep(retry_app)
    (job,) = jobs(retry_app)
    assert queued(redis_db, "hooks") == [job.uuid]
    sweep(retry_app)
    assert queued(redis_db, "hooks") == [job.uuid], "a job already waiting in Redis is not enqueued twice"
    work(retry_app, redis_db)
    assert jobs(retry_app)[0].status == "success" and len(sink.received) == 1


def test_a_job_taken_off_its_queue_by_a_worker_killed_before_it_started_it_is_enqueued_again(
    retry_app: Flask, redis_db: str, sink: Sink, fake_clock: FakeClock
) -> None:
    """A worker SIGKILLed between popping an RQ job off its queue and marking it started leaves the job "queued" in
    Redis but on no queue: the sweeper must not take it for waiting (it would stay pending for ever)."""
    add_policy(retry_app, [{"address": sink.url}])
    push(retry_app)
    (job,) = jobs(retry_app)
    connection = redis.Redis.from_url(redis_db)
    try:
        # What the killed worker did: the BLPOP that takes the job off the list, and nothing after it.
        assert connection.lpop(f"rq:queue:{queue.HOOKS}") == job.uuid.encode()
    finally:
        connection.close()
    fake_clock.advance_to(fake_clock.now + timedelta(seconds=retry_app.extensions["dockhook.settings"].job_timeout + 1))
    sweep(retry_app)
    assert queued(redis_db, "hooks") == [job.uuid], "the orphaned job was enqueued again"
    work(retry_app, redis_db)
    assert jobs(retry_app)[0].status == "success" and len(sink.received) == 1


def test_a_job_whose_worker_died_is_retried_after_its_lease(
    retry_app: Flask, redis_db: str, sink: Sink, fake_clock: FakeClock
) -> None:
    add_policy(retry_app, [{"address": sink.url}])
    push(retry_app)
    (job,) = jobs(retry_app)
    with retry_app.app_context():
        assert hook_jobs.claim(job.id, lease_seconds=30) is not None  # a worker took it ... and died
        db.session.remove()
    redis_server.flush(redis_db)  # Redis loses everything
    sweep(retry_app)
    assert jobs(retry_app)[0].status == "running", "the lease has not expired yet"
    fake_clock.advance_to(fake_clock.now + timedelta(seconds=31))
    sweep(retry_app)
    (job,) = jobs(retry_app)
    assert job.status == "scheduled"
    assert queued(redis_db, "hooks-retry") == [job.uuid]
    work(retry_app, redis_db)
    (job,) = jobs(retry_app)
    assert (job.status, job.attempt_count) == ("success", 2)
    lost, delivered = sorted(attempts(retry_app, job.id), key=lambda a: a.number)
    assert (lost.error_class, lost.outcome, delivered.status_code) == ("worker_lost", "retry", 200)


def test_concurrent_sweepers_enqueue_each_job_once(retry_app: Flask, redis_db: str, fake_clock: FakeClock) -> None:
    with retry_app.app_context():
        policy_id = add_policy(retry_app, [{"address": "http://127.0.0.1:9/hook"}])
        policy = db.session.get(WebhookPolicy, policy_id)
        assert policy is not None
        push(retry_app)
        (event_id,) = {j.event_id for j in jobs(retry_app)}
        event = db.session.get(Event, event_id)
        assert event is not None
        for _i in range(60):
            hook_jobs.create(
                event=event,
                project_id=policy.project_id,
                policy=policy,
                target_index=0,
                target=policy.targets[0],
                event_type="PUSH_ARTIFACT",
                payload="{}",
                content_type="application/json",
            )
        hook_jobs.seal_new()
        db.session.commit()
        hook_jobs.take_new()
        db.session.remove()
    redis_server.flush(redis_db)
    fake_clock.advance_to(fake_clock.now + timedelta(seconds=11))
    barrier = threading.Barrier(3, timeout=JOIN_TIMEOUT)
    results: dict[str, object] = {}

    def run() -> None:
        name = threading.current_thread().name
        try:
            barrier.wait()
            results[name] = sweep(retry_app)
        except BaseException as exc:  # collected: an exception in a thread must fail the test, not vanish
            results[name] = exc

    threads = [threading.Thread(target=run, name=f"sweeper-{i}") for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert [t.name for t in threads if t.is_alive()] == [], f"sweepers still running after {JOIN_TIMEOUT} s"
    failed = {name: result for name, result in results.items() if isinstance(result, BaseException)}
    assert failed == {}, f"sweepers raised: {failed!r}"
    assert sorted(results) == [t.name for t in threads], "every sweeper returned"
    ids = queued(redis_db, "hooks")
    assert len(ids) == 61 and len(set(ids)) == 61, "every pending job enqueued exactly once"
    enqueued = {name: stats.enqueued for name, stats in results.items()}  # type: ignore[attr-defined]
    assert sum(enqueued.values()) == 61, f"the sweepers' counts add up to the jobs enqueued: {enqueued}"


def test_stop_redeliver_and_recover_through_the_api(
    retry_app: Flask, redis_db: str, sink: Sink, fake_clock: FakeClock
) -> None:
    sink.respond = lambda _: Reply(status=500)
    policy_id = add_policy(retry_app, [{"address": sink.url}])
    push(retry_app)
    work(retry_app, redis_db)
    client = retry_app.test_client()
    (job,) = jobs(retry_app)
    assert job.status == "scheduled"
    assert client.post(f"/api/v2.0/hook-jobs/{job.uuid}/redeliver").status_code == 409

    stopped = client.post(f"/api/v2.0/hook-jobs/{job.uuid}/stop")
    assert stopped.status_code == 200 and stopped.get_json()["status"] == "stopped"
    assert client.post(f"/api/v2.0/hook-jobs/{job.uuid}/stop").status_code == 409
    fake_clock.advance_to(fake_clock.now + timedelta(hours=1))
    sweep(retry_app)
    work(retry_app, redis_db)
    assert len(sink.received) == 1, "a stopped job is never sent again"

    sink.respond = lambda _: Reply(status=200)
    again = client.post(f"/api/v2.0/hook-jobs/{job.uuid}/redeliver")
    assert again.status_code == 202 and again.get_json()["status"] == "pending"
    work(retry_app, redis_db)
    body = client.get(f"/api/v2.0/hook-jobs/{job.uuid}").get_json()
    assert (body["status"], body["attempt_count"]) == ("success", 2)
    assert [a["manual"] for a in body["attempts"]] == [False, True]
    assert [r.headers["webhook-id"] for r in sink.received] == [job.uuid, job.uuid]

    # recover: every failed job of the policy in the window, once more
    sink.respond = lambda _: Reply(status=404)
    push_second_tag(retry_app)
    work(retry_app, redis_db)
    failed = [j for j in jobs(retry_app) if j.status == "error"]
    assert len(failed) == 1
    sink.respond = lambda _: Reply(status=200)
    since = (failed[0].creation_time - timedelta(seconds=1)).isoformat()
    recovered = client.post(f"/api/v2.0/projects/library/webhook/policies/{policy_id}/recover", json={"since": since})
    assert recovered.status_code == 202
    assert recovered.get_json() == {"redelivered": 1, "hook_jobs": [failed[0].uuid], "remaining": 0}
    work(retry_app, redis_db)
    assert {j.status for j in jobs(retry_app)} == {"success"}
    bad = client.post(f"/api/v2.0/projects/library/webhook/policies/{policy_id}/recover", json={})
    assert bad.status_code == 400


def push_second_tag(app: Flask) -> None:
    client = app.test_client()
    for delivery in replay.deliveries("push_oci_alpine_latest_second_tag"):
        assert client.post(delivery.path, data=delivery.body, headers=delivery.request_headers()).status_code == 200


def test_disabling_or_deleting_a_policy_stops_what_it_has_not_sent(
    retry_app: Flask, redis_db: str, sink: Sink, fake_clock: FakeClock
) -> None:
    sink.respond = lambda _: Reply(status=500)
    keep = add_policy(retry_app, [{"address": sink.url}], name="to-disable")
    drop = add_policy(retry_app, [{"address": sink.url}], name="to-delete")
    push(retry_app)
    work(retry_app, redis_db)
    assert {j.status for j in jobs(retry_app)} == {"scheduled"}
    client = retry_app.test_client()
    policy = client.get(f"/api/v2.0/projects/library/webhook/policies/{keep}").get_json()
    update = {k: policy[k] for k in ("name", "description", "targets", "event_types")}
    assert (
        client.put(f"/api/v2.0/projects/library/webhook/policies/{keep}", json={**update, "enabled": False}).status_code
        == 200
    )
    assert client.delete(f"/api/v2.0/projects/library/webhook/policies/{drop}").status_code == 200
    stopped = jobs(retry_app)
    assert [(j.status, j.final_reason) for j in stopped] == [
        ("stopped", "policy disabled"),
        ("stopped", "policy deleted"),
    ]
    assert stopped[1].policy_id is None and stopped[1].policy_name == "to-delete", "history outlives the policy"
    fake_clock.advance_to(fake_clock.now + timedelta(hours=1))
    sweep(retry_app)
    work(retry_app, redis_db)
    assert len(sink.received) == 2


def test_retention_purges_old_ended_jobs_their_attempts_and_old_rejected_notifications_only(
    retry_app: Flask, redis_db: str, sink: Sink, fake_clock: FakeClock
) -> None:
    add_policy(retry_app, [{"address": sink.url}], name="a")
    add_policy(retry_app, [{"address": sink.url}], name="b")
    push(retry_app)
    work(retry_app, redis_db)
    old, recent = jobs(retry_app)
    with retry_app.app_context():
        db.session.get(HookJob, old.id).finished_at = fake_clock.now - timedelta(days=31)  # type: ignore[union-attr]
        for number, age in enumerate((31, 29)):
            db.session.add(
                RejectedNotification(
                    received_at=fake_clock.now - timedelta(days=age), dedupe_key=f"k{number}", reason="r", event="{}"
                )
            )
        db.session.commit()
        assert purge(current_settings()) == (1, 1, 1)
        assert db.session.scalars(select(HookAttempt.hook_job_id)).all() == [recent.id]
        assert db.session.scalars(select(RejectedNotification.dedupe_key)).all() == ["k1"]
        db.session.remove()
    assert [j.id for j in jobs(retry_app)] == [recent.id]


def test_harbor_task_put_stops_a_job_waiting_for_its_retry(
    retry_app: Flask, redis_db: str, sink: Sink, fake_clock: FakeClock
) -> None:
    sink.respond = lambda _: Reply(status=503)
    policy_id = add_policy(retry_app, [{"address": sink.url}])
    push(retry_app)
    work(retry_app, redis_db)
    (job,) = jobs(retry_app)
    assert job.status == "scheduled"
    client = retry_app.test_client()
    task = f"/api/v2.0/projects/library/webhook/policies/{policy_id}/executions/{job.id}/tasks/{job.id}"
    assert client.put(task, json={"status": "Running"}).status_code == 400
    stopped = client.put(task, json={"status": "Stopped"})
    assert stopped.status_code == 200 and stopped.get_json()["status"] == "Stopped"
    assert client.put(task, json={"status": "Stopped"}).status_code == 409
    fake_clock.advance_to(fake_clock.now + timedelta(hours=1))
    sweep(retry_app)
    work(retry_app, redis_db)
    assert len(sink.received) == 1 and jobs(retry_app)[0].status == "stopped"
