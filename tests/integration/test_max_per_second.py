"""A target's max_per_second holds with two real worker processes running, and a paced target's backlog does not
hold the workers: other targets' deliveries go out meanwhile (the paced target's jobs wait in its own lane, at most
PER_TARGET sends at a time, or are rescheduled for their slot: jobs.dispatch, jobs.pacing)."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from app import queue
from tests.integration.test_delivery import add_policy, attempts, jobs, push
from tests.support import processes, replay
from tests.support.sinks import Sink

PACED = 6
PUSHES = 2  # two fan-outs: two RQ jobs, one for each worker


@pytest.fixture
def other_sink() -> Iterator[Sink]:
    server = Sink()
    yield server
    server.close()


def test_max_per_second_holds_across_two_workers_without_holding_them(
    make_app: Callable[..., Flask], database_url: str, redis_db: str, sink: Sink, other_sink: Sink, tmp_path: Path
) -> None:
    app = make_app(notify_token=replay.TOKEN, redis_url=redis_db, retry_schedule=())
    for index in range(PACED // PUSHES):
        add_policy(app, [{"address": sink.url, "max_per_second": 1}], name=f"paced-{index}")
    add_policy(app, [{"address": other_sink.url}], name="unpaced")
    env = processes.clean_env(DATABASE_URL=database_url, REDIS_URL=redis_db, DOCKHOOK_RETRY_SCHEDULE="none")
    python, flask = processes.VENV_BIN / "python", processes.VENV_BIN / "flask"
    started = [
        processes.start(
            f"worker-{n}", [str(python), "worker.py", "--name", f"paced-{n}"], tmp_path, env=env, cwd=processes.ROOT
        )
        for n in (1, 2)
    ]
    started.append(
        processes.start(
            "sweeper",
            [str(flask), "--app", "wsgi", "hooks", "sweep", "--every", "0.5"],
            tmp_path,
            env=env,
            cwd=processes.ROOT,
        )
    )
    try:
        processes.wait_until(
            lambda: len([b for b in queue.heartbeats(redis_db) if b.kind == "worker"]) >= 2,
            timeout=30,
            what="two workers beating",
            processes=started,
        )
        time.sleep(1.0)  # both worker loops listening
        push(app)  # fans out: three paced jobs first, then the unpaced one
        second = json.loads(replay.deliveries("push_oci_alpine_3.19")[-1].body)
        second["events"][0].update(id="second-push")
        second["events"][0]["target"]["tag"] = "second"
        answer = app.test_client().post(
            "/service/notifications",
            data=json.dumps(second),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {replay.TOKEN}"},
        )
        assert answer.status_code == 200 and answer.get_json()["recorded"] == 1
        paced = sorted(sink.wait_for(PACED, timeout=40), key=lambda r: r.at)
        unpaced = other_sink.wait_for(PUSHES, timeout=5)
    finally:
        worker_logs = [p.log_tail(200) for p in started[:2]]
        logs = "\n".join(p.log_tail(60) for p in started)
        for process in started:
            process.stop()
    assert all("deliver hook jobs" in log for log in worker_logs), "one worker took both fan-outs:\n" + logs
    assert len(paced) == PACED, logs
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(paced)]
    assert min(gaps) >= 0.9, (gaps, logs)
    assert len(unpaced) == PUSHES
    assert max(r.at for r in unpaced) < paced[2].at, "the unpaced target waited behind the paced backlog"
    done = [j for j in jobs(app) if j.target["address"] == sink.url]
    assert {j.status for j in done} == {"success"}
    assert all(len(attempts(app, j.id)) == j.attempt_count == 1 for j in done), "a deferral is not an attempt"
