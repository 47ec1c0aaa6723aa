"""SIGKILL RQ workers in the middle of deliveries: the lease expires, the sweeper records ``worker_lost`` and
retries, the target may see a job twice (same ``webhook-id``), and no webhook is lost."""

from __future__ import annotations

import time

from jobs import dispatch
from tests.reliability.conftest import Scenario
from tests.reliability.harness import slow, wait_for

KILLS = 3


def test_sigkill_workers_mid_delivery_loses_nothing(scenario: Scenario) -> None:
    target = scenario.sink()
    target.respond = slow(0.2, 0.4)  # slowish: a kill lands while the target holds the request
    stack = scenario.stack(workers=4)
    stack.create_policy([target.url])
    sender = scenario.sender(stack, count=70, rate=20, within=40)
    sender.start()

    kills = []
    for _ in range(KILLS):
        time.sleep(0.8)
        victim = wait_for(
            lambda: stack.sending_worker(target), timeout=10, what="a worker in the middle of a send", interval=0.02
        )
        in_flight = len(target.received)
        stack.kill(victim)  # the stack's supervisor starts a replacement
        kills.append((victim.name, in_flight))
    fault_end = time.monotonic()
    sender.join(timeout=45)

    result, _, attempts = scenario.verify(
        "sigkill_worker",
        stack,
        sender,
        [target],
        fault_end=fault_end,
        notes={"kills": len(kills), "workers": 4},
    )
    lost = [a for a in attempts if a.error_class == "worker_lost"]
    assert lost, f"no worker_lost attempt after {len(kills)} kills of workers in the middle of a send: {kills}"
    assert all(a.outcome == "retry" for a in lost)
    # A worker sends several jobs at once (jobs/dispatch.py): a kill loses at most what it had claimed and not
    # recorded, PER_TARGET runners' chunks for the one target; each becomes a worker_lost attempt and a retry.
    assert result.worker_lost <= len(kills) * dispatch.PER_TARGET * dispatch.CHUNK
