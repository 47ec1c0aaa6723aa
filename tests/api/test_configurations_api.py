"""The global webhook switch over ``/api/v2.0/configurations``: Harbor's shape, storage, validation."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.models import Configuration
from app.services import configurations

PATH = "/api/v2.0/configurations"


def stored(app: Flask) -> Any:
    with app.app_context():
        row = db.session.get(Configuration, "notification_enable")
        return None if row is None else row.value


def test_notification_enable_defaults_to_true_in_harbor_shape(client: FlaskClient, app: Flask) -> None:
    response = client.get(PATH)
    assert response.status_code == 200
    assert response.get_json() == {"notification_enable": {"value": True, "editable": True}}
    assert stored(app) is None


def test_put_switches_notifications_off_and_on_again(client: FlaskClient, app: Flask) -> None:
    response = client.put(PATH, json={"notification_enable": False})
    assert response.status_code == 200
    assert client.get(PATH).get_json()["notification_enable"] == {"value": False, "editable": True}
    assert stored(app) is False
    with app.app_context():
        assert configurations.get(configurations.NOTIFICATION_ENABLE) is False

    assert client.put(PATH, json={"notification_enable": True}).status_code == 200
    assert client.put(PATH, json={"notification_enable": True}).status_code == 200
    assert client.get(PATH).get_json()["notification_enable"]["value"] is True
    assert stored(app) is True
    with app.app_context():
        assert configurations.get(configurations.NOTIFICATION_ENABLE) is True
        assert db.session.query(Configuration).count() == 1


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"notification_enable": "false"}, "notification_enable"),
        ({"notification_enable": 0}, "notification_enable"),
        ({"notification_enable": None}, "notification_enable"),
        ({"notification_enable": False, "email_host": "smtp.example"}, "email_host"),
        ({"auth_mode": "ldap_auth"}, "auth_mode"),
    ],
)
def test_put_rejects_unknown_keys_and_non_booleans(
    client: FlaskClient, app: Flask, payload: dict[str, Any], fragment: str
) -> None:
    response = client.put(PATH, json=payload)
    assert response.status_code == 400
    (error,) = response.get_json()["errors"]
    assert error["code"] == "BAD_REQUEST" and fragment in error["message"]
    assert stored(app) is None
    assert client.get(PATH).get_json()["notification_enable"]["value"] is True


def test_set_rejects_what_the_api_would_reject(app: Flask) -> None:
    from app.services.errors import Invalid

    with app.app_context():
        with pytest.raises(Invalid, match="unknown"):
            configurations.set("auth_mode", "ldap_auth")
        with pytest.raises(Invalid, match="bool"):
            configurations.set("notification_enable", 1)
        assert db.session.query(Configuration).count() == 0


def test_openapi_document_lists_configurations(client: FlaskClient) -> None:
    document = client.get("/api/v2.0/openapi.json").get_json()
    assert set(document["paths"][PATH]) >= {"get", "put"}
