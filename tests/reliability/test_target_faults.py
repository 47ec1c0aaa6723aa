"""Webhook targets that misbehave: down for a while (connection refused), overloaded (429 + Retry-After),
and gone for good (410). Retries heal the first two; the third fails fast and disables the target."""

from __future__ import annotations

import itertools
import time
from datetime import datetime

from tests.reliability.conftest import Scenario
from tests.reliability.harness import SwitchableSink, wait_for
from tests.support.sinks import Received, Reply


def test_target_down_for_seconds_then_back_gets_everything(scenario: Scenario) -> None:
    target = scenario.sink(switchable=True)
    assert isinstance(target, SwitchableSink)
    stack = scenario.stack(workers=2)
    stack.create_policy([target.url])
    sender = scenario.sender(stack, count=80, rate=20, within=40)
    sender.start()

    time.sleep(1.0)
    target.go_down()
    down_from = time.monotonic()
    time.sleep(3.0)
    target.come_up()  # same port
    fault_end = time.monotonic()
    sender.join(timeout=45)

    result, _, attempts = scenario.verify(
        "target_down",
        stack,
        sender,
        [target],
        fault_end=fault_end,
        notes={"target_down_s": round(fault_end - down_from, 1)},
    )
    failed = [a for a in attempts if a.outcome == "retry"]
    result.notes["failed_attempts"] = len(failed)
    assert failed, "no delivery failed while the target was down"
    assert {a.error_class for a in failed} <= {
        "connection_refused",
        "connection_reset",
        "connection_error",
        "read_error",
    }


# After a 429 Dockhook waits at least DOCKHOOK_RETRY_OVERLOAD_MIN (2 s in this suite, 60 s by default),
# and Retry-After within [scheduled, 2 x scheduled].
OVERLOAD_FOR = 1.0
THROTTLED_AT_LEAST = 3


def test_target_answering_429_then_200_gets_everything_and_retries_wait(scenario: Scenario) -> None:
    target = scenario.sink()
    overloaded_until = time.monotonic() + 1e9
    refused = 0

    def respond(_: Received) -> Reply:
        nonlocal refused
        # Overloaded for OVERLOAD_FOR seconds, and for its first THROTTLED_AT_LEAST requests whenever they come:
        # on a loaded machine the first deliveries may arrive after the window.
        if time.monotonic() < overloaded_until or refused < THROTTLED_AT_LEAST:
            refused += 1
            return Reply(status=429, body=b"slow down", headers={"Retry-After": "1"})
        return Reply()

    target.respond = respond
    stack = scenario.stack(workers=2)
    stack.create_policy([target.url])
    sender = scenario.sender(stack, count=30, rate=15, within=30)
    overloaded_until = time.monotonic() + OVERLOAD_FOR
    sender.start()
    sender.join(timeout=35)
    fault_end = max(overloaded_until, sender.finished_at)

    result, jobs, _ = scenario.verify(
        "target_429",
        stack,
        sender,
        [target],
        fault_end=fault_end,
        drain_timeout=40,
    )
    # Read the attempts as an operator would: GET /api/v2.0/hook-jobs/{uuid}.
    gaps = []
    throttled = 0
    for job in jobs:
        if job.attempt_count < 2:
            continue
        attempts = sorted(stack.hook_job(job.uuid)["attempts"], key=lambda a: a["number"])
        if not any(a["status_code"] == 429 for a in attempts):
            continue
        throttled += 1
        assert attempts[-1]["status_code"] == 200 and attempts[-1]["outcome"] == "success", attempts[-1]
        for earlier, later in itertools.pairwise(attempts):
            if earlier["status_code"] == 429:
                assert earlier["outcome"] == "retry", earlier
                gaps.append(_seconds(later["started_at"]) - _seconds(earlier["started_at"]))
    result.notes.update(throttled_jobs=throttled, min_retry_gap_s=round(min(gaps), 1) if gaps else None)
    assert throttled > 0, "no job was answered 429"
    assert min(gaps) >= 2.0, f"a retry after a 429 came sooner than the 2 s overload minimum: {sorted(gaps)[:5]}"


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def test_target_answering_410_is_disabled_after_one_attempt_each(scenario: Scenario) -> None:
    healthy, gone = scenario.sink(), scenario.sink()
    gone.respond = lambda _: Reply(status=410, body=b"gone")
    stack = scenario.stack(workers=2)
    policy_id = stack.create_policy([healthy.url, gone.url])
    first_wave = 30

    def disabled() -> bool:
        return bool(stack.policy(policy_id)["targets"][1]["disabled"])

    def after_event(index: int) -> None:
        if index == first_wave - 1:  # the rest of the stream comes once the target is seen disabled
            wait_for(disabled, timeout=15, what="the 410 target disabled in the policy")

    sender = scenario.sender(stack, count=first_wave + 20, rate=20, within=40, on_sent=after_event)
    sender.start()
    sender.join(timeout=45)

    # Every hook job is committed before its event is answered 2xx: the count is final once the sender is done.
    gone_count = sum(1 for j in stack.jobs() if j.target_index == 1)
    result, jobs, attempts = scenario.verify(
        "target_410",
        stack,
        sender,
        [healthy, gone],
        expected_jobs=len(sender.stats.acked) + gone_count,
        all_success=False,
    )
    later_events = set(sender.ids[first_wave:])
    event_ids = {e.id: e.registry_event_id for e in stack.events()}
    gone_jobs = [j for j in jobs if j.target_index == 1]
    result.notes.update(gone_jobs=len(gone_jobs), later_events=len(later_events))

    assert gone_jobs, "no job for the 410 target"
    assert all(j.status == "error" and j.attempt_count == 1 for j in gone_jobs), [
        (j.status, j.attempt_count) for j in gone_jobs
    ]
    gone_attempts = [a for a in attempts if a.hook_job_id in {j.id for j in gone_jobs}]
    assert all(a.status_code == 410 and a.outcome == "error" for a in gone_attempts)
    assert not [j for j in gone_jobs if event_ids[j.event_id] in later_events], "later events still target it"
    assert all(j.status == "success" for j in jobs if j.target_index == 0), "the healthy target got everything"
    target = stack.policy(policy_id)["targets"][1]
    assert target["disabled"] is True and "410" in target.get("disabled_reason", ""), target
    assert len(gone.received) == len(gone_jobs)
