"""The registry re-sends events (its answer timed out, or it restarted mid-batch): the same event id arrives
two or three times, some copies at the same moment. Each event is recorded once and makes one hook job."""

from __future__ import annotations

from tests.reliability.conftest import Scenario
from tests.reliability.harness import receipts

COPIES = 3


def test_the_same_event_sent_several_times_is_recorded_and_delivered_once(scenario: Scenario) -> None:
    target = scenario.sink()
    stack = scenario.stack(workers=2)
    stack.create_policy([target.url])
    # Every event 3 times in all: every other one as 3 simultaneous POSTs, the others one after another.
    sender = scenario.sender(stack, count=50, rate=15, copies=COPIES, concurrent_every=2, within=40)
    sender.start()
    sender.join(timeout=45)

    result, jobs, _ = scenario.verify(
        "duplicate_events",
        stack,
        sender,
        [target],
    )
    stats = sender.stats
    answered = stats.posts - sum(stats.refused.values())
    result.notes.update(copies=COPIES, answered_2xx=answered, answered_duplicate=stats.duplicates)
    assert answered == COPIES * result.events, "every copy is answered 2xx (the registry would re-send otherwise)"
    assert stats.recorded == result.events, f"recorded {stats.recorded} times for {result.events} events"
    assert stats.duplicates == (COPIES - 1) * result.events
    seen = receipts([target])
    assert all(job.attempt_count == 1 and seen[job.uuid] == 1 for job in jobs), "no fault: one delivery per job"
    assert result.duplicates == result.dup_after_2xx == 0
