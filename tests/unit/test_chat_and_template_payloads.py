"""Chat messages for any event type, and the template sandbox's bounds (pure: no database, no network)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from app.payloads.chat import chat_payload, message
from app.payloads.template import MAX_TEMPLATE_BYTES, TemplateError, render, sample_payload

QUOTA = {
    "type": "QUOTA_WARNING",
    "occur_at": 1767225600,
    "operator": "",
    "event_data": {
        "resources": [{"digest": "sha256:ab", "resource_url": "reg.example.com/team-a/app@sha256:ab"}],
        "repository": {"name": "app", "namespace": "team-a", "repo_full_name": "team-a/app", "repo_type": "private"},
        "custom_attributes": {"Details": "quota usage reaches 85%"},
    },
}


def test_an_event_type_without_its_own_sentence_gets_a_generic_message_of_its_data() -> None:
    shown = message(QUOTA)
    assert shown.title == "Quota warning: team-a/app"
    assert list(shown.facts) == [
        ("Repository", "team-a/app"),
        ("Event type", "QUOTA_WARNING"),
        ("Resource", "reg.example.com/team-a/app@sha256:ab"),
        ("Project", "team-a"),
        ("Operator", "-"),
        ("Occurred", "2026-01-01 00:00:00 UTC"),
        ("custom_attributes", '{"Details":"quota usage reaches 85%"}'),
    ]


def test_the_generic_message_is_bounded_and_tolerates_any_event_data() -> None:
    odd: dict[str, Any] = {
        "type": "SOMETHING_NEW",
        "occur_at": 0,
        "operator": "ci",
        "event_data": {f"k{i}": "v" * 5000 for i in range(40)},
    }
    shown = message(odd)
    assert shown.title == "Something new"
    assert len(shown.facts) == 12
    assert all(len(value) <= 300 for _, value in shown.facts)
    assert message({"type": "X", "event_data": None}).title == "X"


def test_google_chat_text_is_escaped_and_discord_pings_nobody() -> None:
    hostile = {**QUOTA, "operator": "<users/all> @everyone"}
    card = chat_payload("googlechat", hostile)
    widgets = card["cardsV2"][0]["card"]["sections"][0]["widgets"]
    operator = next(w["decoratedText"]["text"] for w in widgets if w["decoratedText"]["topLabel"] == "Operator")
    assert operator == "&lt;users/all&gt; @everyone"
    assert chat_payload("discord", hostile)["allowed_mentions"] == {"parse": []}


def test_a_template_renders_over_the_default_payload() -> None:
    text = (
        "{{ type }} {{ event_data.repository.repo_full_name }}:{{ event_data.resources[0].tag }} {{ payload.occur_at }}"
    )
    assert render(text, sample_payload("PUSH_ARTIFACT")) == "PUSH_ARTIFACT library/alpine:3.19 1767225600"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{% for x in %}", "does not compile"),
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
        ("{{ event_data.nothing.deeper }}", "fails to render"),
        ("{{ 'x' * 100000000 }}", "too large"),
        ("{{ 10 ** 100000 }}", "exponent"),
        ("{{ '%999999999s' % 1 }}", "formatting"),
        ("{{ '{:999999999}'.format(1) }}", "unsafe"),
        ("{{ 'x'.ljust(999999999) }}", "unsafe"),
        ("{{ 'x'|center(999999999) }}", "No filter named 'center'"),
        ("{{ [1]|batch(999999999, 0)|list }}", "No filter named 'batch'"),
        ("{{ lipsum(100000) }}", "undefined"),
        ("{% set ns = namespace(s='x') %}", "undefined"),
        ("{{ event_data.resources.append(1) }}", "unsafe"),
        ("{{ ''.__class__.__mro__ }}", "unsafe"),
        ("{% for i in range(100000) %}{{ range(100000)|join(',') }}{% endfor %}", "more than"),
        ("{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}", "RecursionError|took longer"),
    ],
)
def test_a_hostile_or_broken_template_fails_with_a_reason(text: str, why: str) -> None:
    with pytest.raises(TemplateError, match=why):
        render(text, sample_payload("PUSH_ARTIFACT"))


def test_rendering_stops_at_its_time_bound_even_in_loops_that_call_nothing() -> None:
    text = (
        "{% set r = range(99999) %}{% for a in r %}{% for b in r %}{% for c in r %}{% endfor %}{% endfor %}{% endfor %}"
    )
    began = time.monotonic()
    with pytest.raises(TemplateError, match="took longer than"):
        render(text, sample_payload("PUSH_ARTIFACT"), seconds=0.05)
    assert time.monotonic() - began < 1.0


def test_a_template_longer_than_16_kib_is_refused() -> None:
    with pytest.raises(TemplateError, match="longer than 16384 bytes"):
        render("é" * (MAX_TEMPLATE_BYTES // 2 + 1), sample_payload("PUSH_ARTIFACT"))
