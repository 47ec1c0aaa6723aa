"""The one clock: every "now" in Dockhook is read here. Real UTC time, replaceable by tests (a boundary we own).

Imports nothing from Dockhook, so every layer (models' column defaults included) can read it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime


def system_now() -> datetime:
    """The machine's time, timezone-aware UTC."""
    return datetime.now(UTC)


_source: Callable[[], datetime] = system_now


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return _source()


@contextmanager
def replaced(source: Callable[[], datetime]) -> Iterator[None]:
    """Within the block, :func:`now` returns ``source()`` (tests drive time with it)."""
    global _source
    previous, _source = _source, source
    try:
        yield
    finally:
        _source = previous
