"""Topic handlers (artifact events → event rows → matching policies → hook jobs) and their registration."""

from __future__ import annotations

from app.broker import Broker, Topic
from app.notification import artifact, hooks


def build_broker() -> Broker:
    """A broker with every Dockhook handler subscribed: the one place that wires topics to handlers."""
    broker = Broker()
    handle_artifact = artifact.make_handler(broker)
    for topic in artifact.TOPICS:
        broker.subscribe(topic, handle_artifact)
    broker.subscribe(Topic.HTTP, hooks.handle_http)
    broker.subscribe(Topic.SLACK, hooks.handle_slack)
    return broker
