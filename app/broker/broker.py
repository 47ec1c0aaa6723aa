"""Synchronous publish/subscribe: handlers run in the publisher's thread and database transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.broker.topics import Topic, canonical

Handler = Callable[[Topic, Any], None]


class NoHandlerError(LookupError):
    """A topic was published that no handler subscribes to (a wiring error, never silent)."""


class Broker:
    """Topic → handlers. One handler may serve many topics, and a topic may have many handlers.

    ``publish`` calls each handler in subscription order, in the caller's thread, so whatever a
    handler writes joins the caller's transaction: it commits or rolls back with the event
    itself. A handler that raises aborts the publish and the caller's transaction.
    """

    def __init__(self) -> None:
        self._handlers: dict[Topic, list[Handler]] = {}

    def subscribe(self, topic: Topic | str, handler: Handler) -> None:
        """Add ``handler`` to ``topic``. Subscribing the same handler twice to a topic is an error."""
        key = canonical(str(topic))
        handlers = self._handlers.setdefault(key, [])
        if handler in handlers:
            raise ValueError(f"{_name(handler)} already subscribes to {key}")
        handlers.append(handler)

    def handlers(self, topic: Topic | str) -> tuple[Handler, ...]:
        return tuple(self._handlers.get(canonical(str(topic)), ()))

    def publish(self, topic: Topic | str, event: Any) -> None:
        """Run every handler of ``topic`` with ``(topic, event)``; raise NoHandlerError if there is none."""
        key = canonical(str(topic))
        handlers = self._handlers.get(key)
        if not handlers:
            raise NoHandlerError(f"no handler subscribes to topic {key}")
        for handler in list(handlers):
            handler(key, event)


def _name(handler: Handler) -> str:
    return getattr(handler, "__qualname__", repr(handler))
