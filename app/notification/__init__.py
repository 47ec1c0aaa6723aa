"""Topic handlers (artifact and published events → event rows → matching policies → hook jobs) and their
registration."""

from __future__ import annotations

from collections.abc import Iterable

from app.broker import Broker, Topic
from app.broker.topics import DELIVERY_TOPICS, EVENT_TYPES
from app.notification import artifact, hooks, published, target_disabled


class CatalogueError(RuntimeError):
    """An event type is offered to policies but nothing handles it: it would be accepted and never fire."""


def build_broker() -> Broker:
    """A broker with every Dockhook handler subscribed: the one place that wires topics to handlers.

    Raises CatalogueError when an offered event type (or a delivery topic) has no handler.
    """
    broker = Broker()
    handle_artifact = artifact.make_handler(broker)
    for topic in artifact.TOPICS:
        broker.subscribe(topic, handle_artifact)
    broker.subscribe(Topic.WEBHOOK_TARGET_DISABLED, target_disabled.make_handler(broker))
    handle_published = published.make_handler(broker)
    for topic in published.TOPICS:
        broker.subscribe(topic, handle_published)
    broker.subscribe(Topic.HTTP, hooks.handle_http)
    broker.subscribe(Topic.SLACK, hooks.handle_slack)
    for chat in (Topic.TEAMS, Topic.MATTERMOST, Topic.DISCORD, Topic.GOOGLECHAT):
        broker.subscribe(chat, hooks.handle_chat)
    check_catalogue(broker, (*EVENT_TYPES, *DELIVERY_TOPICS))
    return broker


def check_catalogue(broker: Broker, offered: Iterable[Topic]) -> None:
    """Every offered topic has a handler, or CatalogueError names those that have none."""
    missing = [str(topic) for topic in offered if not broker.handlers(topic)]
    if missing:
        raise CatalogueError(f"event types offered to policies have no handler: {', '.join(missing)}")
