"""Handler registration: the one place that says which handler serves which topic."""

from __future__ import annotations

from app.broker.broker import Broker
from app.broker.handlers import artifact


def build_broker() -> Broker:
    """A broker with every Dockhook handler subscribed."""
    broker = Broker()
    for topic in artifact.TOPICS:
        broker.subscribe(topic, artifact.handle_artifact_event)
    return broker
