"""The broker: synchronous, many handlers per topic and topics per handler, 1.x aliases, no silent drops."""

from __future__ import annotations

from typing import Any

import pytest

from app.broker import Broker, NoHandlerError, Topic, UnknownTopicError, canonical
from app.broker.topics import ALIASES, DELIVERY_TOPICS, EVENT_TYPES
from app.notification import CatalogueError, build_broker, check_catalogue


def test_publish_runs_every_handler_in_order_in_the_callers_thread() -> None:
    broker = Broker()
    calls: list[tuple[str, Topic, Any]] = []
    broker.subscribe(Topic.PUSH_ARTIFACT, lambda t, e: calls.append(("first", t, e)))
    broker.subscribe(Topic.PUSH_ARTIFACT, lambda t, e: calls.append(("second", t, e)))
    broker.publish(Topic.PUSH_ARTIFACT, {"n": 1})
    assert calls == [("first", Topic.PUSH_ARTIFACT, {"n": 1}), ("second", Topic.PUSH_ARTIFACT, {"n": 1})]


def test_one_handler_serves_many_topics() -> None:
    broker = Broker()
    seen: list[Topic] = []

    def handler(topic: Topic, _: Any) -> None:
        seen.append(topic)

    for topic in (Topic.PUSH_ARTIFACT, Topic.PULL_ARTIFACT):
        broker.subscribe(topic, handler)
    broker.publish("PULL_ARTIFACT", None)
    broker.publish(Topic.PUSH_ARTIFACT, None)
    assert seen == [Topic.PULL_ARTIFACT, Topic.PUSH_ARTIFACT]


def test_publishing_a_topic_without_handler_raises() -> None:
    with pytest.raises(NoHandlerError, match="QUOTA_WARNING"):
        Broker().publish(Topic.QUOTA_WARNING, None)


def test_a_handler_error_reaches_the_publisher() -> None:
    broker = Broker()

    def failing(_: Topic, __: Any) -> None:
        raise RuntimeError("boom")

    broker.subscribe(Topic.PUSH_ARTIFACT, failing)
    with pytest.raises(RuntimeError, match="boom"):
        broker.publish(Topic.PUSH_ARTIFACT, None)


def test_subscribing_the_same_handler_twice_is_an_error() -> None:
    broker = Broker()

    def handler(_: Topic, __: Any) -> None:
        return None

    broker.subscribe(Topic.PUSH_ARTIFACT, handler)
    with pytest.raises(ValueError, match="already subscribes"):
        broker.subscribe("pushImage", handler)


def test_harbor_1x_names_are_aliases_of_2x_topics() -> None:
    assert canonical("pushImage") is Topic.PUSH_ARTIFACT
    assert canonical("OnDeleteImage") is Topic.DELETE_ARTIFACT
    assert canonical("projectQuota") is Topic.QUOTA_EXCEED
    # Every alias names a 2.x event type (offered or not: a policy API check decides what is offered).
    assert all(canonical(alias) not in DELIVERY_TOPICS for alias in ALIASES)
    with pytest.raises(UnknownTopicError):
        canonical("pushimage")


def test_the_offered_catalogue_is_what_has_a_producer_and_start_up_checks_it() -> None:
    broker = build_broker()
    assert [str(t) for t in EVENT_TYPES] == [
        "PUSH_ARTIFACT",
        "PULL_ARTIFACT",
        "DELETE_ARTIFACT",
        "WEBHOOK_TARGET_DISABLED",
        # Their producer is the publish API (POST /api/v2.0/events).
        "SCANNING_COMPLETED",
        "SCANNING_FAILED",
        "SCANNING_STOPPED",
        "QUOTA_EXCEED",
        "QUOTA_WARNING",
        "REPLICATION",
        "TAG_RETENTION",
    ]
    check_catalogue(broker, EVENT_TYPES)  # every offered type has a handler
    with pytest.raises(CatalogueError, match="UPLOAD_CHART"):
        check_catalogue(broker, (*EVENT_TYPES, Topic.UPLOAD_CHART))


def test_alias_publish_reaches_the_canonical_topics_handlers() -> None:
    broker = Broker()
    seen: list[Topic] = []
    broker.subscribe(Topic.PULL_ARTIFACT, lambda t, _: seen.append(t))
    broker.publish("pullImage", None)
    assert seen == [Topic.PULL_ARTIFACT]


def test_the_registered_broker_handles_every_artifact_topic() -> None:
    broker = build_broker()
    for topic in (Topic.PUSH_ARTIFACT, Topic.PULL_ARTIFACT, Topic.DELETE_ARTIFACT):
        assert broker.handlers(topic), topic
