"""Turn-taking between workers: at most one send per interval per key (Slack's one message a second)."""

from __future__ import annotations

import time

from app import queue


def wait_turn(url: str, key: str, interval: float, deadline: float) -> bool:
    """Take the one slot per ``interval`` seconds for ``key``, waiting until ``deadline`` (time.monotonic()).

    Returns False if the slot did not come in time (the caller sends anyway rather than lose the attempt).
    """
    while True:
        pause = queue.take_turn(url, key, interval)
        if not pause:
            return True
        if time.monotonic() + pause > deadline:
            return False
        time.sleep(pause)
