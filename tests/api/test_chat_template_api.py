"""The policy API for chat targets, templates and max_per_second: what is stored and shown, and what is a 400."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.api.test_policies_api import NEVER_SENT, V2, api, body, create, errors, target

__all__ = ["api"]  # the fixture: every response and log line is checked for the auth-header tokens

TEMPLATE = '{"text": {{ (operator ~ " pushed " ~ event_data.repository.repo_full_name)|tojson }}}'


def templated(**overrides: Any) -> dict[str, Any]:
    return target(
        **{"payload_format": "Template", "template": TEMPLATE, "content_type": "application/json", **overrides}
    )


def test_chat_targets_are_stored_and_shown_with_their_tokens_masked(api: FlaskClient) -> None:
    chats = [
        {"type": "teams", "address": "https://x.logic.azure.com/workflows/1/triggers/manual/paths/invoke?sig=S1G"},
        {"type": "mattermost", "address": "https://chat.corp.example/hooks/mmtok3n"},
        {"type": "discord", "address": "https://discord.com/api/webhooks/42/d1sc0rdtok"},
        {"type": "googlechat", "address": "https://chat.googleapis.com/v1/spaces/A/messages?key=K&token=T"},
    ]
    location = create(api, targets=chats)
    shown = api.get(location).get_json()["targets"]
    assert [(t["type"], t["address"], t["payload_format"]) for t in shown] == [
        ("teams", "https://x.logic.azure.com/workflows/1/triggers/manual/paths/invoke?sig=******", ""),
        ("mattermost", "https://chat.corp.example/hooks/******", ""),
        ("discord", "https://discord.com/api/webhooks/42/******", ""),
        ("googlechat", "https://chat.googleapis.com/v1/spaces/A/messages?key=******&token=******", ""),
    ]
    assert all(t["health"] == NEVER_SENT for t in shown)
    # The masked addresses sent back keep the stored ones (the PUT round trip of a GET).
    again = api.put(location, json=body(targets=[{**t, "auth_header": ""} for t in shown]))
    assert again.status_code == 200, again.get_json()
    assert [t["address"] for t in api.get(location).get_json()["targets"]] == [t["address"] for t in shown]


def test_a_template_target_and_max_per_second_are_stored_and_shown(api: FlaskClient) -> None:
    location = create(api, targets=[templated(max_per_second=2.5)])
    (shown,) = api.get(location).get_json()["targets"]
    assert (shown["payload_format"], shown["template"], shown["content_type"]) == (
        "Template",
        TEMPLATE,
        "application/json",
    )
    assert shown["max_per_second"] == 2.5
    # A PUT without max_per_second removes the limit.
    assert api.put(location, json=body(targets=[templated()])).status_code == 200
    assert "max_per_second" not in api.get(location).get_json()["targets"][0]


INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("format-on-teams", {"type": "teams", "address": "https://t.example.com/x", "payload_format": "Default"}, "teams"),
    ("template-missing", target(payload_format="Template", content_type="text/plain"), "targets.0.template"),
    ("content-type-missing", target(payload_format="Template", template="x"), "targets.0.content_type"),
    ("content-type-bad", templated(content_type="json"), "targets.0.content_type: must be a media type"),
    ("content-type-crlf", templated(content_type="text/plain\r\nX: y"), "targets.0.content_type"),
    ("content-type-long", templated(content_type="a/" + "b" * 63), "targets.0.content_type"),
    ("template-on-default", target(template="x"), "targets.0.template: is set only with payload_format Template"),
    ("syntax", templated(template="{% for %}"), "targets.0.template: does not compile"),
    ("fails-on-sample", templated(template="{{ 1 / 0 }}"), "rendered against a sample PUSH_ARTIFACT event"),
    ("unsafe", templated(template="{{ ''.__class__ }}{{ 'x'.ljust(10) }}"), "unsafe"),
    ("too-long", templated(template="x" * (16 * 1024 + 1)), "targets.0.template"),
    ("not-a-string", templated(template=["x"]), "targets.0.template"),
    ("rate-zero", target(max_per_second=0), "targets.0.max_per_second"),
    ("rate-negative", target(max_per_second=-1), "targets.0.max_per_second"),
    ("rate-huge", target(max_per_second=1e9), "targets.0.max_per_second"),
    ("rate-text", target(max_per_second="fast"), "targets.0.max_per_second"),
]


@pytest.mark.parametrize(("case", "bad", "fragment"), INVALID, ids=[c for c, _, _ in INVALID])
def test_an_invalid_chat_template_or_rate_target_is_400_and_writes_nothing(
    api: FlaskClient, case: str, bad: dict[str, Any], fragment: str
) -> None:
    response = api.post(f"{V2}/policies", json=body(targets=[bad]))
    assert response.status_code == 400, case
    (error,) = errors(response)
    assert fragment in error["message"], (case, error)
    assert api.get(f"{V2}/policies").get_json() == []
