"""Secure defaults seen from HTTP: refused notifications are warned about (rate-limited, never showing the
token), and the OpenAPI document says how to authenticate."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from app import clock
from app.registry import views
from tests.support import replay

PATH = "/service/notifications"
V1 = "application/vnd.docker.distribution.events.v1+json"
WRONG = "Bearer guessed-wrong-2f9c41d7"
API_TOKEN = "api-token-for-the-openapi-test-0123456789"


class Clock:
    """The time app.clock.now() returns while the test runs; moved by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def fake_clock() -> Iterator[Clock]:
    fake = Clock()
    with clock.replaced(lambda: fake.now):
        yield fake


@pytest.fixture
def warnings(caplog: pytest.LogCaptureFixture) -> Callable[[], list[logging.LogRecord]]:
    caplog.set_level(logging.WARNING, logger="app.registry.views")

    def records() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "app.registry.views" and r.levelno == logging.WARNING]

    return records


def notify(app: Flask, address: str, authorization: str | None = WRONG) -> int:
    headers = {"Content-Type": V1}
    if authorization is not None:
        headers["Authorization"] = authorization
    body = replay.deliveries("push_oci_alpine_3.19")[-1].body
    response = app.test_client().post(PATH, data=body, headers=headers, environ_base={"REMOTE_ADDR": address})
    return response.status_code


def test_a_refused_notification_is_warned_once_a_minute_per_client_address(
    app: Flask, fake_clock: Clock, warnings: Callable[[], list[logging.LogRecord]], caplog: pytest.LogCaptureFixture
) -> None:
    assert notify(app, "10.0.0.1") == 401
    fake_clock.advance(30)
    assert notify(app, "10.0.0.1", authorization=None) == 401
    (first,) = warnings()
    message = first.getMessage()
    assert "10.0.0.1" in message and "a wrong bearer token" in message
    assert "DOCKHOOK_NOTIFY_TOKEN" in message and "only in its memory" in message

    assert notify(app, "10.0.0.2", authorization=None) == 401
    assert len(warnings()) == 2
    assert "10.0.0.2" in warnings()[1].getMessage() and "no bearer token" in warnings()[1].getMessage()

    fake_clock.advance(29)  # 59 s after the first warning for 10.0.0.1
    assert notify(app, "10.0.0.1") == 401
    assert len(warnings()) == 2
    fake_clock.advance(1)  # a minute after it
    assert notify(app, "10.0.0.1") == 401
    assert [r.getMessage().split(":")[0] for r in warnings()] == [
        "refused a notification from 10.0.0.1",
        "refused a notification from 10.0.0.2",
        "refused a notification from 10.0.0.1",
    ]
    # Neither what was presented nor the configured token shows in the log.
    assert WRONG.split()[1] not in caplog.text
    assert replay.TOKEN not in caplog.text


def test_an_accepted_notification_is_not_warned_about(
    app: Flask, fake_clock: Clock, warnings: Callable[[], list[logging.LogRecord]]
) -> None:
    assert notify(app, "10.0.0.1", authorization=f"Bearer {replay.TOKEN}") == 200
    assert warnings() == []


def test_the_per_address_table_is_bounded_forgetting_the_oldest_first(
    app: Flask, fake_clock: Clock, warnings: Callable[[], list[logging.LogRecord]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "AUTH_WARNING_ADDRESSES", 3)
    for n in range(1, 5):  # four addresses in a table of three: 10.0.1.1 is forgotten
        fake_clock.advance(1)
        notify(app, f"10.0.1.{n}")
    assert len(warnings()) == 4
    notify(app, "10.0.1.4")
    assert len(warnings()) == 4, "10.0.1.4 is remembered"
    notify(app, "10.0.1.1")
    assert len(warnings()) == 5, "10.0.1.1 was forgotten, so it is warned about again within the minute"


def test_the_openapi_document_declares_bearer_and_basic_as_alternatives(make_app: Callable[..., Flask]) -> None:
    client = make_app(notify_token=replay.TOKEN, api_token=API_TOKEN).test_client()
    response = client.get("/api/v2.0/openapi.json")  # public: no token
    assert response.status_code == 200
    document = response.get_json()
    schemes = document["components"]["securitySchemes"]
    assert {name: (s["type"], s["scheme"]) for name, s in schemes.items()} == {
        "bearerAuth": ("http", "bearer"),
        "basicAuth": ("http", "basic"),
    }
    # A list of two requirements: either one will do (one requirement naming both would demand both).
    assert document["security"] == [{"bearerAuth": []}, {"basicAuth": []}]
    assert API_TOKEN not in response.get_data(as_text=True)
    # What the document promises holds: each scheme opens the API, nothing else does.
    assert client.get("/api/v2.0/projects").status_code == 401
    assert client.get("/api/v2.0/projects", headers={"Authorization": f"Bearer {API_TOKEN}"}).status_code == 200
    basic = client.get("/api/v2.0/projects", auth=("admin", API_TOKEN))
    assert basic.status_code == 200
