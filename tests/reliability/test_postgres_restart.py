"""Restart PostgreSQL mid-run (a cluster of the test's own): while it is down the receiver answers 503 and the
registry re-sends; workers and the sweeper ride it out; nothing is lost and nothing is recorded twice."""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.reliability.harness import Figures, PostgresCluster, RegistrySender, Stack, slow, verify
from tests.support.sinks import Sink

DOWN_FOR = 2.0


def test_postgres_restart_mid_run_loses_and_doubles_nothing(
    started: float,
    postgres_cluster: PostgresCluster,
    make_stack: Callable[..., Stack],
    make_sink: Callable[..., Sink],
    make_sender: Callable[..., RegistrySender],
    figures: list[Figures],
) -> None:
    target = make_sink()
    target.respond = slow(0.02, 0.08)
    stack = make_stack(postgres_cluster.url, workers=2)
    stack.create_policy([target.url])
    sender = make_sender(stack, count=100, rate=25, deadline=time.monotonic() + 45)
    sender.start()

    time.sleep(1.5)
    down_from = time.monotonic()
    postgres_cluster.stop()  # fast shutdown: every connection is cut
    time.sleep(DOWN_FOR)
    postgres_cluster.start()
    fault_end = time.monotonic()
    sender.join(timeout=50)

    result, _, _ = verify(
        "postgres_restart",
        stack,
        sender,
        [target],
        drained_from=max(fault_end, sender.finished_at),
        started=started,
        notes={"postgres_down_s": round(fault_end - down_from, 1)},
        into=figures,
    )
    assert sender.stats.refused["503"] > 0, f"the receiver never answered 503 while PostgreSQL was down: {result}"
