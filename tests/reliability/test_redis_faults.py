"""Redis is only transport (DESIGN §2.1): emptying it or restarting it mid-run loses no hook job, because the
sweeper re-enqueues from the database what Redis forgot."""

from __future__ import annotations

import time

from tests.reliability.conftest import Scenario
from tests.reliability.harness import DRAIN_TIMEOUT, receipts, slow, wait_for


def test_flushall_mid_run_loses_nothing(scenario: Scenario) -> None:
    target = scenario.sink()
    # Slower than the stream (1 worker x 4 concurrent sends to one target (jobs/dispatch.py PER_TARGET) at
    # 0.7-0.9 s each: ~5 deliveries/s, against 25 events/s or what a loaded machine's receiver answers, 10/s or
    # more): a backlog is always waiting in Redis when FLUSHALL throws it away (a worker holds at most
    # PER_TARGET sending and LANE_BACKLOG waiting per target; the rest stays in Redis).
    target.respond = slow(0.7, 0.9)
    stack = scenario.stack(workers=1)
    stack.create_policy([target.url])
    sender = scenario.sender(stack, count=100, rate=25, within=40)
    sender.start()

    flushed_at = []
    for _ in range(2):
        time.sleep(1.5)
        stack.redis.flushall()
        flushed_at.append(round(time.monotonic() - sender.started_at, 1))
    fault_end = time.monotonic()
    sender.join(timeout=45)

    result, _, _ = scenario.verify(
        "redis_flushall",
        stack,
        sender,
        [target],
        fault_end=fault_end,
        notes={"flushes": len(flushed_at)},
    )
    assert result.notes["swept_enqueued"] > 0, "FLUSHALL dropped a backlog: the sweeper must have re-enqueued it"


def test_redis_restart_mid_run_loses_nothing(scenario: Scenario) -> None:
    target = scenario.sink()
    target.respond = slow(0.02, 0.08)
    stack = scenario.stack(workers=2)
    stack.create_policy([target.url])
    sender = scenario.sender(stack, count=100, rate=25, within=40)
    sender.start()

    time.sleep(1.5)
    stack.redis.stop()  # SIGTERM; nothing is persisted, so it comes back empty
    down_from = time.monotonic()
    time.sleep(2.0)
    stack.redis.start()  # same port
    fault_end = time.monotonic()
    sender.join(timeout=45)

    result, _, _ = scenario.verify(
        "redis_restart",
        stack,
        sender,
        [target],
        fault_end=fault_end,
        notes={"redis_down_s": round(fault_end - down_from, 1)},
    )
    assert result.notes["swept_enqueued"] > 0, "jobs created while Redis was down are enqueued by the sweeper"


def test_a_busy_worker_survives_a_redis_restart(scenario: Scenario) -> None:
    target = scenario.sink()
    target.respond = slow(1.5, 1.5)  # the job is still in hand when Redis stops, and ends while it is down
    stack = scenario.stack(workers=1)
    stack.create_policy([target.url])
    sender = scenario.sender(stack, count=3, rate=10, within=20)
    sender.start()

    def in_hand() -> str | None:
        """The webhook-id the one worker is delivering now: its POST reached the target under a second ago, and
        the target holds it for 1.5 s. (The worker's RQ loop is not busy meanwhile: it only routes hook jobs to
        the dispatcher's send threads, so RQ's own "busy" state cannot tell.)"""
        if not target.received or time.monotonic() - target.received[-1].at > 1.0:
            return None
        return target.received[-1].headers["webhook-id"]

    busy_with = wait_for(in_hand, timeout=10, what="the worker busy with a delivery", interval=0.02)
    stack.redis.stop()
    time.sleep(2.5)  # the fault: Redis down while that delivery ends (not a wait for a condition)
    stack.redis.start()
    restarted_at = time.monotonic()
    sender.join(timeout=20)
    assert not stack.worker_exits, f"workers exited: {stack.worker_exits}"

    # Every event's webhook reaches the target: the one in hand when Redis stopped, and the ones the
    # restart made Redis forget (the sweeper enqueues them again).
    def all_received() -> bool:
        jobs = stack.jobs()
        return len(jobs) == 3 and all(receipts([target])[job.uuid] >= 1 for job in jobs)

    wait_for(all_received, timeout=DRAIN_TIMEOUT, what="a webhook of each of the 3 hook jobs at the target")
    result, jobs, attempts = scenario.verify(
        "redis_restart_busy_worker", stack, sender, [target], fault_end=restarted_at, expected_jobs=3
    )
    (job,) = [j for j in jobs if j.uuid == busy_with]
    outcome = [(a.number, a.status_code, a.error_class) for a in attempts if a.hook_job_id == job.id]
    assert (job.status, job.attempt_count, outcome) == ("success", 1, [(1, 200, "")]), (
        "the delivery that ended while Redis was down was recorded once, as a success, and not sent again"
    )
    assert receipts([target])[busy_with] == 1
    assert result.worker_lost == 0, "no worker was lost: the busy one reconnected"
