"""With DOCKHOOK_API_TOKEN set, the REST API answers only to that token (Bearer, or Basic as Harbor clients send)."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from flask import Flask

from tests.support import replay

TOKEN = "api-t0ken-9c1e"


@pytest.fixture
def guarded(make_app: Callable[..., Flask]) -> Flask:
    return make_app(notify_token=replay.TOKEN, api_token=TOKEN)


def basic(password: str) -> str:
    return "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong", f"Token {TOKEN}", basic("wrong"), "Basic !!!", f"Bearer {TOKEN}x"]
)
def test_api_requests_without_the_token_are_401_and_change_nothing(guarded: Flask, header: str | None) -> None:
    client = guarded.test_client()
    headers = {"Authorization": header} if header else {}
    for method, path in [
        ("GET", "/api/v2.0/projects"),
        ("POST", "/api/v2.0/projects"),
        ("GET", "/api/v2.0/configurations"),
        ("GET", "/api/projects/1/webhook/policies"),
        ("GET", "/api/v2.0/hook-jobs/x"),
    ]:
        response = client.open(path, method=method, json={"project_name": "sneaky"}, headers=headers)
        assert response.status_code == 401, (method, path)
        assert response.get_json()["errors"][0]["code"] == "UNAUTHORIZED"
        assert TOKEN not in response.get_data(as_text=True)
    ok = client.get("/api/v2.0/projects", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.get_json() == []


def test_the_token_opens_the_api_as_bearer_or_basic(guarded: Flask) -> None:
    client = guarded.test_client()
    created = client.post(
        "/api/v2.0/projects", json={"project_name": "ci"}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert created.status_code == 201
    listed = client.get("/api/v2.0/projects", headers={"Authorization": basic(TOKEN)})
    assert [p["name"] for p in listed.get_json()] == ["ci"]


def test_the_openapi_document_and_the_receiver_do_not_need_the_api_token(guarded: Flask) -> None:
    client = guarded.test_client()
    assert client.get("/api/v2.0/openapi.json").status_code == 200
    delivery = replay.deliveries("push_oci_alpine_3.19")[-1]
    response = client.post(delivery.path, data=delivery.body, headers=delivery.request_headers())
    assert response.status_code == 200, "the receiver has its own token (DOCKHOOK_NOTIFY_TOKEN)"


def test_without_a_configured_token_the_api_is_open(make_app: Callable[..., Flask]) -> None:
    assert make_app().test_client().get("/api/v2.0/projects").status_code == 200
