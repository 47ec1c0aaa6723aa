"""What to do after an attempt: succeed, retry later (and when), or give up. Pure: no database, no clock.

Modelled on Svix: a fixed schedule with ±20 % jitter, at least 60 s after a 429 or a timeout,
``Retry-After`` honoured within [scheduled, 2 × scheduled]. 5xx, 408, 429, timeouts, connection,
DNS and TLS errors can heal and are retried; any other answer fails at once; 410 Gone also
disables the target.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Literal

JITTER = 0.2
OVERLOAD_MINIMUM = 60.0
RETRYABLE_STATUS = frozenset({408, 429})
RETRYABLE_ERRORS = frozenset(
    {
        "connect_timeout",
        "read_timeout",
        "connection_refused",
        "connection_reset",
        "connection_error",
        "dns_error",
        "tls_error",
        "read_error",
        "worker_lost",
    }
)
TIMEOUTS = frozenset({"connect_timeout", "read_timeout"})


@dataclass(frozen=True)
class Decision:
    action: Literal["success", "retry", "fail"]
    delay: float = 0.0
    disable_target: bool = False
    reason: str = ""
    # False when the attempt finished too late to change the job (its lease was taken over, or it was stopped).
    applied: bool = True


def decide(
    *,
    status_code: int | None,
    error_class: str,
    attempt: int,
    max_attempts: int,
    schedule: tuple[int, ...],
    manual: bool = False,
    retry_after: str | None = None,
    now: datetime | None = None,
    rng: random.Random | None = None,
    overload_minimum: float = OVERLOAD_MINIMUM,
) -> Decision:
    """Decide after attempt number ``attempt`` (1-based) of a hook job allowed ``max_attempts`` in its series.

    ``max_attempts`` is the job's own (fixed when it was made): the one count the API shows and this
    decision uses. ``schedule`` gives the delays; past its end its last delay repeats. A manual
    redelivery never starts a retry series: it succeeds or fails on its own.
    ``overload_minimum`` is the least delay after a 429 or a timeout (DOCKHOOK_RETRY_OVERLOAD_MIN).
    """
    if status_code is not None and 200 <= status_code < 300 and not error_class:
        return Decision("success", reason="delivered")
    what = f"HTTP {status_code}" if status_code is not None else error_class
    if status_code == 410:
        return Decision("fail", disable_target=True, reason="HTTP 410 Gone: target disabled")
    if not retryable(status_code, error_class):
        return Decision("fail", reason=f"{what}: not retryable")
    if manual:
        return Decision("fail", reason=f"{what}: manual redelivery failed")
    if attempt >= max_attempts:
        return Decision("fail", reason=f"{what}: gave up after {attempt} attempt{'s' if attempt > 1 else ''}")
    if not schedule:
        return Decision("fail", reason=f"{what}: retries are off (DOCKHOOK_RETRY_SCHEDULE)")
    scheduled = schedule[min(attempt, len(schedule)) - 1] * (rng or random).uniform(1 - JITTER, 1 + JITTER)
    if status_code == 429 or error_class in TIMEOUTS:
        scheduled = max(scheduled, overload_minimum)
    delay = scheduled
    asked = _seconds(retry_after, now) if retry_after else None
    if asked is not None:
        delay = min(max(asked, scheduled), 2 * scheduled)
    return Decision("retry", delay=delay, reason=f"{what}: retry {attempt + 1} of {max_attempts}")


def retryable(status_code: int | None, error_class: str) -> bool:
    """5xx, 408 and 429; network errors; and an answer whose body broke off (read_error), whatever its status."""
    if status_code is not None and (status_code >= 500 or status_code in RETRYABLE_STATUS):
        return True
    if error_class == "read_error":
        return True
    return status_code is None and error_class in RETRYABLE_ERRORS


def _seconds(value: str, now: datetime | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date (relative to ``now``)."""
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None or now is None:
        return None
    return max(0.0, (when - now).total_seconds())
