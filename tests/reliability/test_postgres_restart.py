"""Restart PostgreSQL mid-run (a cluster of the test's own): while it is down the receiver answers 503 and the
registry re-sends; workers and the sweeper ride it out; nothing is lost and nothing is recorded twice."""

from __future__ import annotations

import time

from tests.reliability.conftest import Scenario
from tests.reliability.harness import PostgresCluster, slow

DOWN_FOR = 2.0


def test_postgres_restart_mid_run_loses_and_doubles_nothing(
    scenario: Scenario, postgres_cluster: PostgresCluster
) -> None:
    target = scenario.sink()
    target.respond = slow(0.02, 0.08)
    stack = scenario.stack(workers=2, database_url=postgres_cluster.url)
    stack.create_policy([target.url])
    sender = scenario.sender(stack, count=100, rate=25, within=45)
    sender.start()

    time.sleep(1.5)
    down_from = time.monotonic()
    postgres_cluster.stop()  # fast shutdown: every connection is cut
    time.sleep(DOWN_FOR)
    postgres_cluster.start()
    fault_end = time.monotonic()
    sender.join(timeout=50)

    result, _, _ = scenario.verify(
        "postgres_restart",
        stack,
        sender,
        [target],
        fault_end=fault_end,
        notes={"postgres_down_s": round(fault_end - down_from, 1)},
    )
    assert sender.stats.refused["503"] > 0, f"the receiver never answered 503 while PostgreSQL was down: {result}"
