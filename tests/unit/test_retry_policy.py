"""The retry decision: what heals is retried on the schedule with jitter; what cannot fails at once."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from app.config import DEFAULT_SCHEDULE, ConfigError, Settings, parse_schedule
from app.services.retries import decide
from tests.support.settings import SECRET_KEY

KEYS = {"DOCKHOOK_SECRET_KEYS": SECRET_KEY}

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def after(attempt: int, status: int | None = None, error: str = "", **kw: object):  # type: ignore[no-untyped-def]
    kw.setdefault("max_attempts", 1 + len(DEFAULT_SCHEDULE))
    return decide(status_code=status, error_class=error, attempt=attempt, schedule=DEFAULT_SCHEDULE, now=NOW, **kw)


def test_2xx_is_success() -> None:
    assert after(1, 204).action == "success"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, "http_status"),
        (502, "http_status"),
        (503, "http_status"),
        (408, "http_status"),
        (429, "http_status"),
        (None, "connect_timeout"),
        (None, "read_timeout"),
        (None, "connection_refused"),
        (None, "connection_reset"),
        (None, "dns_error"),
        (None, "tls_error"),
        (None, "worker_lost"),
        (None, "read_error"),
        (404, "read_error"),
        (503, "read_error"),
    ],
)
def test_failures_that_can_heal_are_retried(status: int | None, error: str) -> None:
    assert after(1, status, error).action == "retry"


@pytest.mark.parametrize(
    ("status", "error"), [(400, "http_status"), (401, "http_status"), (404, "http_status"), (302, "redirect")]
)
def test_other_answers_fail_at_once(status: int, error: str) -> None:
    decision = after(1, status, error)
    assert (decision.action, decision.disable_target) == ("fail", False)
    assert "not retryable" in decision.reason


def test_410_gone_fails_and_disables_the_target() -> None:
    decision = after(1, 410, "http_status")
    assert (decision.action, decision.disable_target) == ("fail", True)


def test_delays_follow_the_schedule_within_20_percent_jitter() -> None:
    rng = random.Random(7)
    for attempt, base in enumerate(DEFAULT_SCHEDULE, start=1):
        delays = [after(attempt, 503, "http_status", rng=rng).delay for _ in range(200)]
        assert min(delays) >= base * 0.8 and max(delays) <= base * 1.2, attempt
        assert max(delays) - min(delays) > base * 0.2, "jitter is applied"


def test_a_2xx_whose_body_could_not_be_read_is_success() -> None:
    # The sender records no error class for it: the target accepted the webhook.
    assert after(1, 200, "").action == "success"


def test_the_jobs_own_max_attempts_decides_not_the_current_schedule() -> None:
    """A job made under an 8-attempt schedule keeps 8 after the schedule shrinks, and 2 stays 2 when it grows."""
    short = (5, 5)
    decision = decide(status_code=503, error_class="http_status", attempt=5, max_attempts=8, schedule=short, now=NOW)
    assert decision.action == "retry" and decision.reason.endswith("retry 6 of 8")
    assert 4 <= decision.delay <= 6, "past the schedule's end its last delay repeats"
    grown = decide(
        status_code=503, error_class="http_status", attempt=2, max_attempts=2, schedule=DEFAULT_SCHEDULE, now=NOW
    )
    assert grown.action == "fail" and "gave up after 2 attempts" in grown.reason
    off = decide(status_code=503, error_class="http_status", attempt=1, max_attempts=8, schedule=(), now=NOW)
    assert off.action == "fail" and "DOCKHOOK_RETRY_SCHEDULE" in off.reason


def test_schedule_exhausted_gives_up() -> None:
    last = len(DEFAULT_SCHEDULE) + 1
    decision = after(last, 503, "http_status")
    assert decision.action == "fail" and f"gave up after {last} attempts" in decision.reason


def test_429_and_timeouts_wait_at_least_60_seconds() -> None:
    assert after(1, 429, "http_status").delay >= 60
    assert after(1, None, "read_timeout").delay >= 60
    assert after(1, 503, "http_status", rng=random.Random(1)).delay < 10


@pytest.mark.parametrize(
    ("retry_after", "low", "high"),
    [
        ("120", 300 * 0.8, 300 * 1.2),  # below the scheduled delay: the schedule wins
        ("450", 450, 450),  # inside [scheduled, 2 × scheduled]: honoured
        ("100000", 2 * 300 * 0.8, 2 * 300 * 1.2),  # beyond: capped at twice the scheduled delay
        ("Sun, 29 Nov 2026 12:07:30 GMT", 450, 450),  # an HTTP date, 450 s from now
        ("soon", 300 * 0.8, 300 * 1.2),  # unreadable: ignored
    ],
)
def test_retry_after_is_honoured_within_scheduled_and_twice_scheduled(
    retry_after: str, low: float, high: float
) -> None:
    decision = after(2, 503, "http_status", retry_after=retry_after)
    assert low <= decision.delay <= high


def test_a_manual_redelivery_never_starts_a_retry_series() -> None:
    decision = after(3, 503, "http_status", manual=True)
    assert decision.action == "fail" and "manual" in decision.reason


def test_schedule_setting_parses_units_and_rejects_nonsense() -> None:
    assert parse_schedule("5s, 5m,30m,2h,1d,7") == (5, 300, 1800, 7200, 86400, 7)
    assert Settings.from_env({**KEYS, "DOCKHOOK_RETRY_SCHEDULE": "none"}).retry_schedule == ()
    assert Settings.from_env(KEYS).retry_schedule == DEFAULT_SCHEDULE
    with pytest.raises(ConfigError, match="DOCKHOOK_RETRY_SCHEDULE"):
        Settings.from_env({**KEYS, "DOCKHOOK_RETRY_SCHEDULE": "5s,soon"})


def test_the_overload_minimum_is_a_setting() -> None:
    assert Settings.from_env(KEYS).retry_overload_minimum == 60.0
    assert Settings.from_env({**KEYS, "DOCKHOOK_RETRY_OVERLOAD_MIN": "2"}).retry_overload_minimum == 2.0
    decision = decide(
        status_code=429,
        error_class="http_status",
        attempt=1,
        max_attempts=2,
        schedule=(1,),
        retry_after="1",
        now=NOW,
        overload_minimum=2.0,
    )
    assert decision.delay == 2.0
    with pytest.raises(ConfigError, match="DOCKHOOK_RETRY_OVERLOAD_MIN"):
        Settings.from_env({**KEYS, "DOCKHOOK_RETRY_OVERLOAD_MIN": "0"})
