"""Endpoint health through the real stack (receiver, RQ worker, loopback sinks) on a clock the test moves: the
health shown per target, and a target failing past DOCKHOOK_DISABLE_AFTER disabled, with its event delivered."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event as sa_event
from sqlalchemy import select

from app.extensions import db
from app.models import Event, HookJob, TargetAttemptHour, TargetHealth
from app.services import hook_jobs
from app.services.hook_jobs import AttemptResult
from app.services.target_health import target_key
from jobs import deliver
from tests.integration.test_delivery import add_policy, attempts, hook_app, jobs, push, work
from tests.support import replay
from tests.support.clock import FakeClock
from tests.support.sinks import Reply, Sink

__all__ = ["hook_app"]  # the fixture, shared with test_delivery

V2 = "/api/v2.0/projects/library/webhook/policies"
HOUR = 3600.0


@pytest.fixture
def alerts() -> Iterator[Sink]:
    server = Sink()
    yield server
    server.close()


def answer(sink: Sink, *statuses: int) -> None:
    """The sink answers these statuses in turn, then the last one for ever."""
    queue = list(statuses)

    def respond(_: Any) -> Reply:
        return Reply(status=queue.pop(0) if len(queue) > 1 else queue[0])

    sink.respond = respond


def redeliver(app: Flask, redis_url: str, job_id: int) -> None:
    """One more attempt of an ended job (a manual redelivery), worked by a burst RQ worker."""
    with app.app_context():
        job = db.session.get(HookJob, job_id)
        assert job is not None
        hook_jobs.redeliver(job, redis_url, 60)
    work(app, redis_url)


def shown_target(app: Flask, policy_id: int) -> dict[str, Any]:
    response = app.test_client().get(f"{V2}/{policy_id}")
    assert response.status_code == 200
    (target,) = response.get_json()["targets"]
    return dict(target)


def moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def test_health_shows_last_success_last_failure_consecutive_failures_and_the_24h_success_rate(
    hook_app: Flask, redis_db: str, sink: Sink, fake_clock: FakeClock
) -> None:
    answer(sink, 200, 500, 503, 200)
    policy_id = add_policy(hook_app, [{"address": sink.url}])
    push(hook_app)
    work(hook_app, redis_db)
    (job,) = jobs(hook_app)
    succeeded = fake_clock.now
    fake_clock.advance(HOUR)
    redeliver(hook_app, redis_db, job.id)
    first_failure = fake_clock.now
    fake_clock.advance(HOUR)
    redeliver(hook_app, redis_db, job.id)
    assert [a.status_code for a in attempts(hook_app, job.id)] == [200, 500, 503]

    health = shown_target(hook_app, policy_id)["health"]
    assert moment(health.pop("last_success")) == succeeded
    assert moment(health.pop("last_failure")) == fake_clock.now
    assert moment(health.pop("failing_since")) == first_failure
    assert health == {"consecutive_failures": 2, "attempts_24h": 3, "success_rate_24h": 0.3333}

    fake_clock.advance(25 * HOUR)
    later = shown_target(hook_app, policy_id)["health"]
    assert (later["attempts_24h"], later["success_rate_24h"]) == (0, None), "the rate covers the last 24 hours"
    assert moment(later["last_success"]) == succeeded

    redeliver(hook_app, redis_db, job.id)  # a success ends the run of failures
    healed = shown_target(hook_app, policy_id)["health"]
    assert (healed["consecutive_failures"], healed["failing_since"]) == (0, None)
    assert (healed["attempts_24h"], healed["success_rate_24h"]) == (1, 1.0)
    assert moment(healed["last_success"]) == fake_clock.now


def test_a_target_failing_for_the_window_with_ten_attempts_is_disabled_and_the_event_delivered(
    hook_app: Flask,
    redis_db: str,
    sink: Sink,
    alerts: Sink,
    fake_clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    answer(sink, 500)
    failing = add_policy(hook_app, [{"address": f"{sink.url}?token=t0k3n"}], name="failing")
    operator = add_policy(
        hook_app, [{"address": alerts.url}], name="operator", event_types=("WEBHOOK_TARGET_DISABLED",)
    )
    push(hook_app)
    work(hook_app, redis_db)
    (job,) = jobs(hook_app)
    started = fake_clock.now
    # Ten attempts in a row 13 hours apart: the tenth is 117 h after the first, inside the 5-day window.
    for _ in range(9):
        fake_clock.advance(13 * HOUR)
        redeliver(hook_app, redis_db, job.id)
    assert len(attempts(hook_app, job.id)) == 10
    assert shown_target(hook_app, failing)["disabled"] is False, "ten failures, but not yet for 5 days"
    assert alerts.received == []

    fake_clock.advance(13 * HOUR)  # 130 h: every attempt failed for more than 5 days
    redeliver(hook_app, redis_db, job.id)
    target = shown_target(hook_app, failing)
    assert target["disabled"] is True
    reason = (
        f"every attempt failed since {started.isoformat()} (11 attempts in a row); "
        f"disabled at {fake_clock.now.isoformat()}"
    )
    assert target["disabled_reason"] == reason
    assert target["health"]["consecutive_failures"] == 11
    assert any("disabled" in r.getMessage() and "t0k3n" not in r.getMessage() for r in caplog.records)

    # The disable event's hook job is enqueued once the attempt is recorded (by the worker's recorder thread,
    # possibly after this burst worker found its queue empty): one more burst delivers it.
    work(hook_app, redis_db)
    (alert,) = alerts.wait_for(1)
    assert json.loads(alert.body) == {
        "type": "WEBHOOK_TARGET_DISABLED",
        "occur_at": int(fake_clock.now.timestamp()),
        "operator": "dockhook",
        "event_data": {
            "policy": {"id": failing, "name": "failing", "project_id": jobs(hook_app)[0].project_id},
            "target": {"index": 0, "type": "http", "address": f"{sink.url}?token=******"},
            "reason": reason,
            "failing_since": int(started.timestamp()),
            "consecutive_failures": 11,
        },
    }
    alert_job = next(j for j in jobs(hook_app) if j.event_type == "WEBHOOK_TARGET_DISABLED")
    assert (alert_job.policy_id, alert_job.status) == (operator, "success")

    # A PUT re-enables it, and the window starts again: the next failure does not disable it at once.
    client = hook_app.test_client()
    shown = client.get(f"{V2}/{failing}").get_json()
    assert client.put(f"{V2}/{failing}", json=shown).status_code == 200
    assert shown_target(hook_app, failing)["disabled"] is False
    fake_clock.advance(HOUR)
    redeliver(hook_app, redis_db, job.id)
    assert shown_target(hook_app, failing)["disabled"] is False
    assert len(alerts.received) == 1


def test_failures_days_apart_but_fewer_than_ten_do_not_disable(
    hook_app: Flask, redis_db: str, sink: Sink, fake_clock: FakeClock
) -> None:
    answer(sink, 500)
    policy_id = add_policy(hook_app, [{"address": sink.url}])
    push(hook_app)
    work(hook_app, redis_db)
    (job,) = jobs(hook_app)
    for _ in range(3):
        fake_clock.advance(3 * 24 * HOUR)
        redeliver(hook_app, redis_db, job.id)
    target = shown_target(hook_app, policy_id)
    assert (target["disabled"], target["health"]["consecutive_failures"]) == (False, 4)
    assert fake_clock.now - moment(target["health"]["failing_since"]) >= timedelta(days=9)  # type: ignore[operator]


def fail_ten_times_in_90_seconds(app: Flask, redis_url: str, fake_clock: FakeClock) -> None:
    """The captured push's one hook job (its target answering 500) attempted 10 times, 10 s apart."""
    push(app)
    work(app, redis_url)
    (job,) = jobs(app)
    for _ in range(9):
        fake_clock.advance(10)
        redeliver(app, redis_url, job.id)


def test_the_window_is_the_setting_and_the_event_is_recorded_without_a_subscriber(
    make_app: Callable[..., Flask], redis_db: str, sink: Sink, fake_clock: FakeClock
) -> None:
    app = make_app(notify_token=replay.TOKEN, redis_url=redis_db, retry_schedule=(), disable_after=60)
    answer(sink, 500)
    policy_id = add_policy(app, [{"address": sink.url}])
    fail_ten_times_in_90_seconds(app, redis_db, fake_clock)
    assert shown_target(app, policy_id)["disabled"] is True, "10 failures over 90 s, past a 60 s window"
    with app.app_context():
        (event,) = db.session.scalars(select(Event).where(Event.type == "WEBHOOK_TARGET_DISABLED")).all()
        assert (event.operator, event.data["policy"]["id"], event.data["consecutive_failures"]) == (
            "dockhook",
            policy_id,
            10,
        )
    assert [j.event_type for j in jobs(app)] == ["PUSH_ARTIFACT"], "nobody subscribes: no hook job"


def test_a_system_wide_policys_target_disabled_is_an_event_of_no_project_for_the_system_wide_subscribers(
    make_app: Callable[..., Flask], redis_db: str, sink: Sink, alerts: Sink, fake_clock: FakeClock
) -> None:
    app = make_app(
        notify_token=replay.TOKEN, api_token="t" * 40, redis_url=redis_db, retry_schedule=(), disable_after=60
    )
    api = app.test_client()
    auth = {"Authorization": "Bearer " + "t" * 40}
    answer(sink, 500)

    def system_policy(name: str, address: str, event_type: str) -> int:
        body = {"name": name, "targets": [{"type": "http", "address": address}], "event_types": [event_type]}
        created = api.post("/api/v2.0/webhook/policies", json=body, headers=auth)
        assert created.status_code == 201, created.text
        return int(created.headers["Location"].rsplit("/", 1)[1])

    failing = system_policy("everywhere", f"{sink.url}?token=t0k3n", "PUSH_ARTIFACT")
    watcher = system_policy("operators", alerts.url, "WEBHOOK_TARGET_DISABLED")
    add_policy(
        app, [{"address": alerts.url + "/project"}], name="library-alerts", event_types=("WEBHOOK_TARGET_DISABLED",)
    )
    fail_ten_times_in_90_seconds(app, redis_db, fake_clock)
    shown = api.get(f"/api/v2.0/webhook/policies/{failing}", headers=auth).get_json()
    assert shown["targets"][0]["disabled"] is True
    with app.app_context():
        (event,) = db.session.scalars(select(Event).where(Event.type == "WEBHOOK_TARGET_DISABLED")).all()
        assert (event.project_id, event.data["policy"]["project_id"]) == (None, None)
    work(app, redis_db)
    (alert,) = alerts.wait_for(1)
    assert not alert.path.endswith("/project"), "the system-wide subscriber only: an event of no project"
    data = json.loads(alert.body)["event_data"]
    assert (data["policy"], data["target"]["address"]) == (
        {"id": failing, "name": "everywhere", "project_id": None},
        f"{sink.url}?token=******",
    )
    (alert_job,) = [j for j in jobs(app) if j.event_type == "WEBHOOK_TARGET_DISABLED"]
    assert (alert_job.policy_id, alert_job.project_id, alert_job.status) == (watcher, None, "success")


def test_a_group_of_attempts_counts_for_health_in_one_short_transaction_per_target_in_order(
    hook_app: Flask, sink: Sink, fake_clock: FakeClock
) -> None:
    """The recorder saves a group of outcomes in one transaction; their health goes in one more, a few statements
    per target whatever the group's size (so SQLite's only write lock is held briefly: one transaction per
    group holding every attempt's own upserts, 00ffc48, made P1 on SQLite fall by a third)."""
    add_policy(hook_app, [{"address": f"{sink.url}/a"}, {"address": f"{sink.url}/b"}, {"address": f"{sink.url}/a"}])
    push(hook_app)
    made = jobs(hook_app)
    assert [j.target["address"].rsplit("/", 1)[1] for j in made] == ["a", "b", "a"]

    def answer(status: int) -> AttemptResult:
        return AttemptResult(started_at=fake_clock.now, duration_ms=3, status_code=status)

    with hook_app.app_context():
        settings = hook_app.extensions["dockhook.settings"]
        claimed = deliver.claim_many([j.id for j in made], settings)
        commits: list[object] = []

        def committed(connection: object) -> None:
            commits.append(connection)

        sa_event.listen(db.engine, "commit", committed)
        try:
            # a: a success, then a failure (the order they were recorded in); b: a failure.
            reports = deliver.record_group(
                [(claimed[0], answer(200)), (claimed[1], answer(500)), (claimed[2], answer(502))], settings
            )
        finally:
            sa_event.remove(db.engine, "commit", committed)
        assert reports == ["success", "fail", "fail"]
        assert len(commits) == 2, "the outcomes' commit, then one short health transaction for the group"
        rows = {
            row.target_key: (row.consecutive_failures, row.last_success_at is not None)
            for row in db.session.scalars(select(TargetHealth))
        }
        assert rows == {target_key(made[0].target): (1, True), target_key(made[1].target): (1, False)}


def test_a_group_applies_its_attempts_to_the_run_of_failures_in_order(
    hook_app: Flask, sink: Sink, fake_clock: FakeClock
) -> None:
    """Within a group a success resets the run and each later failure adds one; a group of failures adds to the
    stored run and keeps when it began; the hour's counts add the group's attempts and successes."""
    fake_clock.now = fake_clock.now.replace(minute=10)  # the three groups fall in one hour
    add_policy(hook_app, [{"address": f"{sink.url}/a"}] * 7)
    push(hook_app)
    made = jobs(hook_app)
    key = target_key(made[0].target)

    def answer(status: int) -> AttemptResult:
        return AttemptResult(started_at=fake_clock.now, duration_ms=3, status_code=status)

    def health() -> tuple[int, datetime | None, bool, bool]:
        row = db.session.get(TargetHealth, (made[0].policy_id, key))
        assert row is not None
        db.session.expire(row)
        return (
            row.consecutive_failures,
            row.failing_since,
            row.last_success_at is not None,
            row.last_failure_at is not None,
        )

    with hook_app.app_context():
        settings = hook_app.extensions["dockhook.settings"]
        claimed = deliver.claim_many([j.id for j in made], settings)
        assert len(claimed) == 7
        began = fake_clock.now
        deliver.record_group([(claimed[0], answer(500)), (claimed[1], answer(503))], settings)
        assert health() == (2, began, False, True)
        fake_clock.advance(60)
        deliver.record_group([(claimed[2], answer(502))], settings)
        assert health() == (3, began, False, True), "a group of failures adds to the run and keeps its start"
        fake_clock.advance(60)
        deliver.record_group(
            [
                (claimed[3], answer(500)),
                (claimed[4], answer(200)),
                (claimed[5], answer(500)),
                (claimed[6], answer(504)),
            ],
            settings,
        )
        assert health() == (2, fake_clock.now, True, True), "the success reset the run; the two after it count"
        hours = db.session.execute(
            select(TargetAttemptHour.attempts, TargetAttemptHour.successes).where(TargetAttemptHour.target_key == key)
        ).all()
        assert [tuple(row) for row in hours] == [(7, 1)]
