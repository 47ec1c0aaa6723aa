"""The worker's reconnect backoff: doubles while Redis keeps failing, starts over after a healthy loop."""

from __future__ import annotations

from worker import HEALTHY_RUN, RECONNECT_MAX, RECONNECT_MIN, reconnect_wait


def test_backoff_doubles_up_to_its_cap_while_redis_keeps_failing() -> None:
    backoff, waits = RECONNECT_MIN, []
    for _ in range(8):
        wait, backoff = reconnect_wait(backoff, ran_for=0.1)
        waits.append(wait)
    assert waits[:4] == [RECONNECT_MIN, RECONNECT_MIN * 2, RECONNECT_MIN * 4, RECONNECT_MIN * 8]
    assert waits[-1] == RECONNECT_MAX


def test_a_loop_that_ran_healthy_starts_the_backoff_over() -> None:
    wait, after = reconnect_wait(RECONNECT_MAX, ran_for=HEALTHY_RUN + 1)
    assert (wait, after) == (RECONNECT_MIN, RECONNECT_MIN * 2)
    assert reconnect_wait(RECONNECT_MAX, ran_for=HEALTHY_RUN - 1)[0] == RECONNECT_MAX
