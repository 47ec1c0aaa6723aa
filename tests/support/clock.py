"""A clock tests drive (app.clock is a boundary we own): time moves only when the test says so."""

from __future__ import annotations

from datetime import datetime, timedelta

from app import clock


class FakeClock:
    """Starts at the machine's time; ``app.clock.replaced(fake)`` makes every "now" read it."""

    def __init__(self) -> None:
        self.now = clock.system_now()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def advance_to(self, when: datetime) -> None:
        self.now = max(self.now, when)
