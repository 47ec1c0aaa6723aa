"""SIGKILL RQ workers in the middle of deliveries: the lease expires, the sweeper records ``worker_lost`` and
retries, the target may see a job twice (same ``webhook-id``), and no webhook is lost."""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.reliability.harness import Figures, RegistrySender, Stack, slow, verify, wait_for
from tests.support.sinks import Sink

KILLS = 3


def test_sigkill_workers_mid_delivery_loses_nothing(
    started: float,
    database_url: str,
    make_stack: Callable[..., Stack],
    make_sink: Callable[..., Sink],
    make_sender: Callable[..., RegistrySender],
    figures: list[Figures],
) -> None:
    target = make_sink()
    target.respond = slow(0.2, 0.4)  # slowish: a kill lands while the target holds the request
    stack = make_stack(database_url, workers=4)
    stack.create_policy([target.url])
    sender = make_sender(stack, count=70, rate=20, deadline=time.monotonic() + 40)
    sender.start()

    kills = []
    for _ in range(KILLS):
        time.sleep(0.8)
        victim = wait_for(stack.busy_worker, timeout=10, what="a busy worker to kill", interval=0.02)
        in_flight = len(target.received)
        stack.kill(victim)  # the stack's supervisor starts a replacement
        kills.append((victim.name, in_flight))
    fault_end = time.monotonic()
    sender.join(timeout=45)

    result, _, attempts = verify(
        "sigkill_worker",
        stack,
        sender,
        [target],
        drained_from=max(fault_end, sender.finished_at),
        started=started,
        notes={"kills": len(kills), "workers": 4},
        into=figures,
    )
    lost = [a for a in attempts if a.error_class == "worker_lost"]
    assert lost, f"no worker_lost attempt after {len(kills)} kills of busy workers: {kills}"
    assert all(a.outcome == "retry" for a in lost)
    assert result.worker_lost <= len(kills)
