"""The clock Dockhook reads for delivery decisions: real UTC time, replaceable by tests (a boundary we own)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from app.models.base import utcnow

_source: Callable[[], datetime] = utcnow


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
