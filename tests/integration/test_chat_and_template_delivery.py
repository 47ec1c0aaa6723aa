"""Chat targets and templates through the real stack: the receiver, an RQ worker and a loopback sink, checking
the exact bytes each target received."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from flask import Flask
from rq import Queue

from app.payloads import serialise
from tests.integration.test_delivery import ALPINE, add_policy, attempts, hook_app, jobs, push, work
from tests.support import replay
from tests.support.sinks import Sink

__all__ = ["hook_app"]  # the fixture, shared with test_delivery

RESOURCE = "127.0.0.1:36851/library/alpine:3.19"
TITLE = "Artifact pushed: library/alpine:3.19"


def occurred() -> datetime:
    (manifest_event,) = replay.deliveries("push_oci_alpine_3.19")[-1].events()
    return datetime.fromisoformat(manifest_event["timestamp"]).astimezone(UTC).replace(microsecond=0)


def facts() -> list[tuple[str, str]]:
    return [
        ("Repository", "library/alpine"),
        ("Tags", "3.19"),
        ("Digest", ALPINE),
        ("Resource", RESOURCE),
        ("Project", "library"),
        ("Operator", "-"),
        ("Occurred", occurred().strftime("%Y-%m-%d %H:%M:%S UTC")),
    ]


def expected(kind: str) -> dict[str, Any]:
    if kind == "teams":
        return {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": None,
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [
                            {"type": "TextBlock", "text": TITLE, "weight": "Bolder", "size": "Medium", "wrap": True},
                            {"type": "FactSet", "facts": [{"title": n, "value": v} for n, v in facts()]},
                        ],
                    },
                }
            ],
        }
    if kind == "mattermost":
        return {
            "text": f"**{TITLE}**",
            "attachments": [
                {
                    "fallback": TITLE,
                    "color": "#2eb67d",
                    "fields": [{"short": False, "title": n, "value": v} for n, v in facts()],
                }
            ],
        }
    if kind == "discord":
        return {
            "allowed_mentions": {"parse": []},
            "embeds": [
                {
                    "title": TITLE,
                    "color": 0x2EB67D,
                    "timestamp": occurred().strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "fields": [{"name": n, "value": v, "inline": False} for n, v in facts()],
                }
            ],
        }
    assert kind == "googlechat"
    return {
        "fallbackText": TITLE,
        "cardsV2": [
            {
                "cardId": "dockhook-event",
                "card": {
                    "header": {"title": TITLE, "subtitle": "Dockhook"},
                    "sections": [
                        {
                            "widgets": [
                                {"decoratedText": {"topLabel": n, "text": v, "wrapText": True}} for n, v in facts()
                            ]
                        }
                    ],
                },
            }
        ],
    }


@pytest.mark.parametrize("kind", ["teams", "mattermost", "discord", "googlechat"])
def test_each_chat_target_type_receives_its_exact_message_from_the_chat_queue(
    hook_app: Flask, redis_db: str, sink: Sink, kind: str
) -> None:
    add_policy(hook_app, [{"type": kind, "address": sink.url, "payload_format": "", "auth_header": "Bearer x"}])
    push(hook_app)
    (job,) = jobs(hook_app)
    assert job.notify_type == kind
    assert Queue("slack", connection=redis.Redis.from_url(redis_db)).job_ids == [job.uuid]
    work(hook_app, redis_db)
    (request,) = sink.wait_for(1)
    assert request.body == serialise(expected(kind)).encode()
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers, "chat webhooks carry their token in the URL"
    assert [j.status for j in jobs(hook_app)] == ["success"]


def test_chat_targets_of_one_url_take_turns_once_a_second(hook_app: Flask, redis_db: str, sink: Sink) -> None:
    for name, kind in (("a", "teams"), ("b", "teams"), ("c", "teams")):
        add_policy(hook_app, [{"type": kind, "address": sink.url, "payload_format": ""}], name=name)
    push(hook_app)
    work(hook_app, redis_db)
    received = sorted(sink.wait_for(3), key=lambda r: r.at)
    assert len(received) == 3
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(received)]
    assert min(gaps) >= 0.9, gaps


def test_a_template_target_receives_its_rendered_body_with_its_content_type(
    hook_app: Flask, redis_db: str, sink: Sink
) -> None:
    text = (
        "{{ operator or 'registry' }} {{ type|lower }} "
        "{{ event_data.repository.repo_full_name }}:{{ event_data.resources[0].tag }}\n"
        "{% for r in event_data.resources %}- {{ r.resource_url }}\n{% endfor %}"
    )
    add_policy(
        hook_app,
        [{"address": sink.url, "payload_format": "Template", "template": text, "content_type": "text/plain"}],
    )
    add_policy(
        hook_app,
        [
            {
                "address": sink.url,
                "payload_format": "Template",
                "template": '{"text": {{ (type ~ " " ~ event_data.repository.repo_full_name)|tojson }}}',
                "content_type": "application/vnd.example+json; charset=utf-8",
            }
        ],
        name="json",
    )
    push(hook_app)
    work(hook_app, redis_db)
    received = {r.headers["content-type"]: r.body for r in sink.wait_for(2)}
    assert received == {
        "text/plain": f"registry push_artifact library/alpine:3.19\n- {RESOURCE}\n".encode(),
        "application/vnd.example+json; charset=utf-8": b'{"text": "PUSH_ARTIFACT library/alpine"}',
    }
    assert {j.status for j in jobs(hook_app)} == {"success"}


def test_a_template_failing_on_a_real_event_ends_its_job_with_template_error_and_keeps_the_envelope(
    hook_app: Flask, redis_db: str, sink: Sink
) -> None:
    # Renders against the saved-time sample (registry.example.com), divides by zero for this registry's host.
    text = "{{ 1 / (0 if event_data.resources[0].resource_url.startswith('127.') else 1) }}"
    add_policy(
        hook_app, [{"address": sink.url, "payload_format": "Template", "template": text, "content_type": "text/plain"}]
    )
    add_policy(hook_app, [{"address": sink.url}], name="plain")
    push(hook_app)  # every notification still answered 200
    failed, plain = jobs(hook_app)
    assert (failed.status, failed.attempt_count, failed.finished_at is not None) == ("error", 1, True)
    assert failed.final_reason == "template_error: nothing was sent"
    (attempt,) = attempts(hook_app, failed.id)
    assert (attempt.error_class, attempt.outcome, attempt.status_code) == ("template_error", "error", None)
    assert "ZeroDivisionError" in attempt.error_message
    assert Queue("hooks", connection=redis.Redis.from_url(redis_db)).job_ids == [plain.uuid]
    work(hook_app, redis_db)
    (request,) = sink.wait_for(1)
    assert json.loads(request.body)["type"] == "PUSH_ARTIFACT"
    assert [j.status for j in jobs(hook_app)] == ["error", "success"]
