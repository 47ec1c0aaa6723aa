"""Batched, concurrent delivery (jobs/dispatch.py): one RQ job per fan-out, every hook job still its own row,
claim, attempt and webhook-id; per-target lanes keep a slow target from holding up the others."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from flask import Flask
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry
from sqlalchemy import event as sa_event
from sqlalchemy import select

from app import queue
from app.extensions import current_settings, db
from app.models import HookAttempt, HookJob
from app.services import hook_jobs
from jobs import dispatch
from jobs.sweep import sweep_once
from tests.integration.test_delivery import add_policy, jobs, work
from tests.support import redis_server, replay
from tests.support.clock import FakeClock
from tests.support.sinks import Reply, Sink


@pytest.fixture
def app(make_app: Callable[..., Flask], redis_db: str) -> Flask:
    return make_app(
        notify_token=replay.TOKEN,
        redis_url=redis_db,
        http_read_timeout=2.0,
        http_connect_timeout=2.0,
        retry_schedule=(),
    )


@pytest.fixture
def slow_sink() -> Iterator[Sink]:
    server = Sink()
    server.respond = lambda _request: Reply(delay=3.0)  # after the 2 s read timeout
    yield server
    server.close()


def push_events(app: Flask, count: int) -> None:
    """``count`` manifest pushes of library/alpine (the captured one, each with a new event id and tag)."""
    last = replay.deliveries("push_oci_alpine_3.19")[-1]
    client = app.test_client()
    for number in range(count):
        document = json.loads(last.body)
        document["events"][0]["id"] = str(uuid.uuid4())
        document["events"][0]["target"]["tag"] = f"t{number}"
        response = client.post(last.path, data=json.dumps(document), headers=last.request_headers())
        assert response.status_code == 200, response.get_data(as_text=True)


def test_one_rq_job_carries_a_fan_out_and_each_hook_job_keeps_its_row_claim_and_attempt(
    app: Flask, redis_db: str, sink: Sink
) -> None:
    for name in ("a", "b", "c"):
        add_policy(app, [{"address": sink.url}, {"address": sink.url + "?two"}], name=name)
    push_events(app, 1)
    created = jobs(app)
    assert len(created) == 6
    connection = redis.Redis.from_url(redis_db)
    assert len(Queue("hooks", connection=connection)) == 1, "one RQ job for the event's 6 hook jobs"
    assert queue.queued_hook_jobs(redis_db, "hooks") == [j.uuid for j in created]

    work(app, redis_db)

    received = sink.wait_for(6)
    assert sorted(r.headers["webhook-id"] for r in received) == sorted(j.uuid for j in created)
    after = jobs(app)
    assert [(j.status, j.attempt_count) for j in after] == [("success", 1)] * 6
    with app.app_context():
        attempts = list(db.session.scalars(select(HookAttempt.hook_job_id)))
    assert sorted(attempts) == sorted(j.id for j in created), "one attempt row per hook job"
    assert connection.hlen(queue.BATCH_OF) == 0, "the worker forgot the batch's members"


def test_the_sweeper_sees_every_member_of_a_waiting_batch_and_enqueues_none_again(
    app: Flask, redis_db: str, sink: Sink, fake_clock: FakeClock
) -> None:
    add_policy(app, [{"address": sink.url}, {"address": sink.url + "?two"}, {"address": sink.url + "?three"}])
    push_events(app, 1)
    assert len(jobs(app)) == 3
    fake_clock.advance_to(fake_clock.now + timedelta(seconds=60))  # well past the sweep grace
    with app.app_context():
        stats = sweep_once(current_settings())
        db.session.remove()
    assert (stats.enqueued, stats.waiting) == (0, 3)
    assert len(queue.queued_hook_jobs(redis_db, "hooks")) == 3


def test_stopping_some_of_a_batch_leaves_the_rest_queued_and_stopping_all_cancels_it(
    app: Flask, redis_db: str, sink: Sink
) -> None:
    add_policy(app, [{"address": sink.url}, {"address": sink.url + "?two"}])
    push_events(app, 1)
    first, second = jobs(app)
    with app.app_context():
        assert hook_jobs.stop(db.session.get(HookJob, first.id), "test", redis_db)
    assert len(Queue("hooks", connection=redis.Redis.from_url(redis_db))) == 1
    work(app, redis_db)
    assert [r.headers["webhook-id"] for r in sink.wait_for(1)] == [second.uuid]
    assert [j.status for j in jobs(app)] == ["stopped", "success"]

    push_events(app, 1)
    third, fourth = jobs(app)[2:]
    with app.app_context():
        for job in (third, fourth):
            assert hook_jobs.stop(db.session.get(HookJob, job.id), "test", redis_db)
    # Each stop discarded one member: the batch stays (its claims will skip both) ...
    assert len(Queue("hooks", connection=redis.Redis.from_url(redis_db))) == 1
    # ... and discarding all its members at once (as disabling a policy does) cancels it.
    queue.discard(redis_db, [third.uuid, fourth.uuid])
    assert len(Queue("hooks", connection=redis.Redis.from_url(redis_db))) == 0
    work(app, redis_db)
    assert len(sink.received) == 1


def test_a_batch_is_claimed_in_one_statement(app: Flask, redis_db: str, sink: Sink) -> None:
    for name in ("a", "b", "c"):
        add_policy(app, [{"address": sink.url}], name=name)
    push_events(app, 1)
    ids = [j.id for j in jobs(app)]
    with app.app_context():
        updates: list[str] = []

        def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            if statement.lstrip().upper().startswith("UPDATE HOOK_JOBS"):
                updates.append(statement)

        sa_event.listen(db.engine, "before_cursor_execute", count)
        try:
            claimed = hook_jobs.claim_many(ids, lease_seconds=60)
        finally:
            sa_event.remove(db.engine, "before_cursor_execute", count)
        assert [j.id for j in claimed] == ids and {j.attempt_count for j in claimed} == {1}
        assert len(updates) == 1
        assert hook_jobs.claim_many(ids, lease_seconds=60) == [], "claimed jobs cannot be claimed again"
        db.session.remove()


def test_a_slow_target_does_not_hold_up_a_healthy_one(app: Flask, redis_db: str, sink: Sink, slow_sink: Sink) -> None:
    """Each event fans out to a target answering after the read timeout and a healthy one, in one RQ job. With
    one worker, every healthy delivery arrives before the first slow send has even timed out."""
    add_policy(app, [{"address": slow_sink.url}], name="slow")
    add_policy(app, [{"address": sink.url}], name="healthy")
    push_events(app, 12)
    began = time.monotonic()
    work(app, redis_db)  # burst: returns once everything routed is sent and recorded
    healthy = sink.wait_for(12, timeout=1)
    assert len(healthy) == 12
    latest = max(r.at for r in healthy) - began
    assert latest < 2.0, f"the healthy target waited for the slow one: last delivery after {latest:.2f} s"
    by_target = {}
    for job in jobs(app):
        by_target.setdefault(job.target["address"], []).append(job)
    assert {j.status for j in by_target[sink.url]} == {"success"}
    # Each slow job was sent (and timed out) or set aside once its lane was recognised slow: never claimed, left
    # pending for the sweeper.
    slow = [(j.status, j.attempt_count) for j in by_target[slow_sink.url]]
    assert set(slow) <= {("error", 1), ("pending", 0)}
    # At most PER_TARGET sends to the slow target at a time: its requests came in waves, not all at once.
    arrivals = sorted(r.at - began for r in slow_sink.received)
    assert len(arrivals) == slow.count(("error", 1)) > dispatch.PER_TARGET
    assert sum(1 for at in arrivals if at < 1.5) <= dispatch.PER_TARGET


def test_a_slow_lane_sets_jobs_aside_unclaimed_for_the_sweeper(app: Flask, redis_db: str, slow_sink: Sink) -> None:
    add_policy(app, [{"address": slow_sink.url}], name="slow")
    push_events(app, 10)
    created = jobs(app)
    key = queue.target_key(slow_sink.url)
    items = [dispatch.Item(j.id, j.uuid, key) for j in created]
    dispatcher = dispatch.Dispatcher(app)
    try:
        assert dispatcher.route(items[:4]) == 0
        # Once the four sends have begun (on a loaded machine their claims can take a while), they are slower than
        # the slow mark slow_after seconds later: still in flight, or timed out after the 2 s read timeout.
        assert len(slow_sink.wait_for(4, timeout=10)) == 4
        time.sleep(dispatcher.slow_after + 0.3)
        aside = dispatcher.route(items[4:])
        assert aside == 6 - dispatch.PER_TARGET, "a slow lane keeps PER_TARGET jobs waiting, no more"
    finally:
        dispatcher.close()
    after = {j.id: j for j in jobs(app)}
    set_aside = [after[i.id] for i in items[4 + dispatch.PER_TARGET :]]
    assert [(j.status, j.attempt_count) for j in set_aside] == [("pending", 0)] * aside, "never claimed"
    assert {after[i.id].status for i in items[: 4 + dispatch.PER_TARGET]} == {"error"}


def test_the_main_loop_never_waits_on_a_lane_turning_slow(
    app: Flask, redis_db: str, sink: Sink, slow_sink: Sink
) -> None:
    """More of a slow target's jobs than a lane keeps waiting are routed one RQ job at a time, before the lane can be
    recognised slow, then a healthy target's: routing holds them all without waiting for the slow lane, the
    healthy jobs all arrive before the slow lane is recognised slow, and once it is, its surplus is set aside
    (never claimed: left pending for the sweeper) with no further routing to trigger it."""
    add_policy(app, [{"address": slow_sink.url}], name="slow")
    add_policy(app, [{"address": sink.url}], name="healthy")
    push_events(app, 20)
    created = jobs(app)
    slow_key, healthy_key = queue.target_key(slow_sink.url), queue.target_key(sink.url)
    slow = [dispatch.Item(j.id, j.uuid, slow_key) for j in created if j.target["address"] == slow_sink.url]
    healthy = [dispatch.Item(j.id, j.uuid, healthy_key) for j in created if j.target["address"] == sink.url]
    assert len(slow) == len(healthy) == 20 > dispatch.PER_TARGET + dispatch.LANE_BACKLOG
    dispatcher = dispatch.Dispatcher(app)
    try:
        # As the worker's main loop routes them: one RQ job each, the slow target's backlog first.
        aside = sum(dispatcher.route([item]) for item in slow + healthy)
        assert (aside, dispatcher.set_aside) == (0, 0), "routing set nothing aside: it did not wait for the slow lane"

        arrived = sink.wait_for(20, timeout=10)
        assert sorted(r.headers["webhook-id"] for r in arrived) == sorted(i.uuid for i in healthy)
        first_slow = min(r.at for r in slow_sink.wait_for(1, timeout=10))
        # The slow lane is recognised slow slow_after seconds after its first send began (before it arrived).
        assert max(r.at for r in arrived) < first_slow + dispatcher.slow_after

        deadline = time.monotonic() + 10
        while not dispatcher.set_aside and time.monotonic() < deadline:
            time.sleep(0.05)
        set_aside = dispatcher.set_aside
        assert set_aside > 0, "the slow lane's surplus was set aside once it was recognised slow"
    finally:
        dispatcher.close()
    after = {j.id: j for j in jobs(app)}
    states = [(after[i.id].status, after[i.id].attempt_count) for i in slow]
    assert states.count(("pending", 0)) == set_aside, "set aside: never claimed, pending for the sweeper"
    assert set(states) == {("pending", 0), ("error", 1)}
    # What the slow lane kept: at most PER_TARGET sends in flight and PER_TARGET waiting, claimed one at a time.
    assert len(slow) - set_aside <= 2 * dispatch.PER_TARGET
    assert len(slow_sink.received) == len(slow) - set_aside
    assert {after[i.id].status for i in healthy} == {"success"}


def test_a_lane_turning_slow_holds_at_most_lane_hold_jobs_and_sets_more_aside_without_waiting(
    app: Flask, redis_db: str, slow_sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past LANE_HOLD jobs waiting, with every one of its PER_TARGET sends in flight and none ended, a lane that is
    not yet recognised slow sets more jobs aside rather than make the main loop wait; once it is slow, its
    surplus over PER_TARGET waiting goes too."""
    monkeypatch.setattr(dispatch, "LANE_HOLD", dispatch.LANE_BACKLOG + 2)
    add_policy(app, [{"address": slow_sink.url}], name="slow")
    push_events(app, 20)
    key = queue.target_key(slow_sink.url)
    items = [dispatch.Item(j.id, j.uuid, key) for j in jobs(app)]
    dispatcher = dispatch.Dispatcher(app)
    try:
        aside = sum(dispatcher.route([item]) for item in items)
        # PER_TARGET claimed one at a time and in flight, LANE_HOLD waiting: the rest set aside before the lane was
        # recognised slow (after it, only PER_TARGET would have stayed waiting).
        assert aside == dispatcher.set_aside == len(items) - dispatch.PER_TARGET - dispatch.LANE_HOLD
        deadline = time.monotonic() + 10
        while dispatcher.set_aside == aside and time.monotonic() < deadline:
            time.sleep(0.05)
        assert dispatcher.set_aside == len(items) - 2 * dispatch.PER_TARGET
    finally:
        dispatcher.close()
    states = [(j.status, j.attempt_count) for j in jobs(app)]
    assert states.count(("error", 1)) == 2 * dispatch.PER_TARGET == len(slow_sink.received)
    assert states.count(("pending", 0)) == len(items) - 2 * dispatch.PER_TARGET


def test_a_known_fast_targets_new_lane_claims_in_chunks_at_once(app: Flask, redis_db: str, sink: Sink) -> None:
    """A lane ends whenever it runs empty; the target's last send time outlives it, so the next fan-out to a target
    known to be fast is claimed in chunks right away (an unknown target is claimed one job at a time)."""
    add_policy(app, [{"address": sink.url}], name="fast")
    push_events(app, 9)
    key = queue.target_key(sink.url)
    first, *rest = [dispatch.Item(j.id, j.uuid, key) for j in jobs(app)]
    claims: list[str] = []
    with app.app_context():
        engine = db.engine

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().startswith("UPDATE hook_jobs") and "RETURNING" in statement:
            claims.append(statement)

    dispatcher = dispatch.Dispatcher(app)
    try:
        dispatcher.route([first])
        assert dispatcher.drain(timeout=10)
        deadline = time.monotonic() + 10
        while key in dispatcher._lanes:  # its runner saw it empty and ended it
            assert time.monotonic() < deadline
            time.sleep(0.01)
        sa_event.listen(engine, "before_cursor_execute", count)
        try:
            dispatcher.route(rest)  # one RQ job's fan-out of 8
            assert dispatcher.drain(timeout=10)
        finally:
            sa_event.remove(engine, "before_cursor_execute", count)
    finally:
        dispatcher.close()
    assert len(sink.wait_for(9, timeout=10)) == 9
    assert len(claims) <= 2, f"{len(claims)} claims for 8 jobs of a target known to be fast"


@pytest.fixture
def own_redis() -> Iterator[str]:
    """A redis-server of this test's own: the commands it counts are this test's alone."""
    with redis_server.own_server(tcp=True) as url:
        yield url


def test_the_worker_takes_delivery_batches_with_a_few_redis_commands_and_leaves_none_of_them_in_redis(
    make_app: Callable[..., Flask], own_redis: str, sink: Sink
) -> None:
    """RQ's lifecycle around a job costs about 58 Redis commands; a delivery batch only routes its hook jobs to the
    lanes, so the worker (app/queue.py ``Worker``) calls it as soon as it is off its queue and deletes it."""
    app = make_app(notify_token=replay.TOKEN, redis_url=own_redis, retry_schedule=())
    add_policy(app, [{"address": sink.url}])
    push_events(app, 20)
    connection = redis.Redis.from_url(own_redis)
    assert len(Queue("hooks", connection=connection)) == 20, "one RQ job per notification"
    connection.config_resetstat()

    work(app, own_redis)

    assert len(sink.wait_for(20)) == 20
    assert [(j.status, j.attempt_count) for j in jobs(app)] == [("success", 1)] * 20
    stats = connection.info("commandstats")
    commands = sum(int(v["calls"]) for name, v in stats.items() if name not in ("cmdstat_info", "cmdstat_config"))
    # Measured: 1,234 with RQ's whole lifecycle around each job, 250 with the lean path (the worker's start and stop
    # included).
    assert commands < 20 * 20, f"{commands} Redis commands for 20 RQ jobs"
    kept = {key.decode() for key in connection.scan_iter("rq:*")}
    assert not {key for key in kept if key.startswith(("rq:job:", "rq:execution", "rq:results:"))}, kept
    assert all(not connection.zcard(key) for key in kept if key.startswith(("rq:wip:", "rq:finished:", "rq:failed:")))


def test_a_delivery_batch_that_raises_is_failed_by_rq_as_any_job(app: Flask, redis_db: str) -> None:
    connection = redis.Redis.from_url(redis_db)
    hooks = Queue("hooks", connection=connection)
    hooks.enqueue(queue.DELIVER_BATCH, [["not-an-id", "uuid", "key"]], job_id="broken", result_ttl=0)
    work(app, redis_db)
    assert FailedJobRegistry("hooks", connection=connection).get_job_ids() == ["broken"]
    assert Job.fetch("broken", connection=connection).get_status() == JobStatus.FAILED


def test_a_job_routed_while_its_lane_runs_empty_and_ends_goes_to_the_targets_next_lane(
    app: Flask, redis_db: str, sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The main loop waits at a draining lane that has LANE_BACKLOG jobs waiting. Should the lane's runners send
    them all and end it meanwhile, the job goes to the target's next lane, never into the ended one, where no
    runner would take it (make bench found one: a hook job left pending for ever, and a runner failing on a lane
    gone from under it)."""
    monkeypatch.setattr(dispatch.Lane, "draining", lambda _lane, _now: True)
    add_policy(app, [{"address": sink.url}], name="fast")
    push_events(app, dispatch.LANE_BACKLOG + 1)
    key = queue.target_key(sink.url)
    items = [dispatch.Item(j.id, j.uuid, key) for j in jobs(app)]
    dispatcher = dispatch.Dispatcher(app)
    real = dispatcher._cond
    waited: list[int] = []

    class TheLaneEndsWhileTheMainLoopWaits:
        """The dispatcher's condition, except that the main loop's first wait lasts until the lane has ended."""

        def __enter__(self) -> bool:
            return real.__enter__()

        def __exit__(self, *exc: object) -> None:
            real.__exit__(*exc)

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def wait(self, timeout: float | None = None) -> bool:
            if threading.current_thread() is not threading.main_thread() or waited:
                return real.wait(timeout)
            waited.append(len(dispatcher._lanes[key].waiting))
            real.release()
            try:
                deadline = time.monotonic() + 10
                while key in dispatcher._lanes and time.monotonic() < deadline:
                    time.sleep(0.005)
            finally:
                real.acquire()
            return True

    dispatcher._cond = TheLaneEndsWhileTheMainLoopWaits()  # type: ignore[assignment]
    try:
        assert dispatcher.route(items) == 0
        assert waited == [dispatch.LANE_BACKLOG], "the main loop waited at the lane, LANE_BACKLOG jobs in it"
        assert dispatcher.drain(timeout=10), "the job routed after the wait was taken and recorded"
    finally:
        dispatcher.close()
    assert sorted(r.headers["webhook-id"] for r in sink.wait_for(len(items))) == sorted(i.uuid for i in items)
    assert [(j.status, j.attempt_count) for j in jobs(app)] == [("success", 1)] * len(items)


def stop_mid_batch(*_items: object) -> str:
    """An RQ job standing in for a delivery batch: SIGTERM arrives while it routes (as systemd's stop can)."""
    os.kill(os.getpid(), signal.SIGTERM)
    return "routed"


def test_sigterm_while_a_batch_routes_stops_the_worker_after_the_batch(
    redis_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warm shutdown, as RQ gives any job it runs: the batch ends, the worker takes no further job. (Its lean path
    writes no busy state to Redis; were the worker idle in RQ's eyes, the signal would raise in the middle of the
    batch, fail it, and the worker would go on working.)"""
    monkeypatch.setattr(queue.Worker, "LEAN", frozenset({f"{__name__}.stop_mid_batch"}))
    connection = redis.Redis.from_url(redis_db)
    hooks = Queue("hooks", connection=connection)
    first = hooks.enqueue(stop_mid_batch, [[1, "a", "k"]], result_ttl=0)
    second = hooks.enqueue(stop_mid_batch, [[2, "b", "k"]], result_ttl=0)
    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        queue.new_worker(redis_db, None).work(burst=True)
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])
    assert not connection.exists(first.key), "the batch ended as a lean one does: its hash deleted, not failed"
    assert FailedJobRegistry("hooks", connection=connection).get_job_ids() == []
    assert hooks.job_ids == [second.id], "the worker stopped after the batch"


@pytest.mark.parametrize("sends_began_ago", [0.0, 1.0])
def test_a_lane_holding_lane_hold_jobs_sets_more_aside_only_once_its_sends_have_been_in_flight_a_while(
    app: Flask, sends_began_ago: float
) -> None:
    """A new lane fills up to LANE_HOLD before any of its sends ends (the main loop does not wait at a lane that
    may be turning slow). Its first sends having just begun says nothing of the target: the main loop waits for
    them (here one ends 10 ms later, and the job is taken); sends in flight for longer than PATIENCE mean the
    target holds them, and the job is set aside at once. (make bench found a backlog's first jobs to a fast
    target set aside, left for the sweeper.)"""
    dispatcher = dispatch.Dispatcher(app)
    key = "target"
    try:
        with dispatcher._cond:
            lane = dispatcher._lane(key)
            lane.waiting.extend(dispatch.Item(n, f"uuid-{n}", key) for n in range(dispatch.LANE_HOLD))
            began = time.monotonic() - sends_began_ago
            lane.sending.update({thread: began for thread in range(dispatch.PER_TARGET)})

        def first_send_ends() -> None:
            time.sleep(0.01)
            with dispatcher._cond:
                lane.sending.pop(0)
                lane.last_took = lane.progressed_at = time.monotonic()
                lane.waiting.popleft()
                dispatcher._cond.notify_all()

        ends = threading.Thread(target=first_send_ends)
        ends.start()
        with dispatcher._cond:
            admitted = dispatcher._admit(key)
        ends.join()
        with dispatcher._cond:
            lane.waiting.clear()  # not routed for real: nothing to send
            lane.sending.clear()
    finally:
        dispatcher.close()
    assert admitted is (lane if sends_began_ago == 0 else None)
