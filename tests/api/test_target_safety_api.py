"""Saving a policy refuses targets in denied networks (every notation), and auth headers that are not field values."""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.models import WebhookPolicy
from tests.support.dns import FakeDNS

V2 = "/api/v2.0/projects/library/webhook/policies"
SECRET = "s3cr3t-in-a-header-9d1e"


def policy(address: str, **target: Any) -> dict[str, Any]:
    return {
        "name": "guarded",
        "targets": [{"type": "http", "address": address, **target}],
        "event_types": ["PUSH_ARTIFACT"],
    }


@pytest.fixture
def guarded(make_app: Callable[..., Flask]) -> Callable[..., FlaskClient]:
    """A client of an app with the given allowed networks and DNS answers; the ``library`` project exists."""

    def build(allowed: str = "", dns: FakeDNS | None = None) -> FlaskClient:
        networks = tuple(ipaddress.ip_network(n) for n in allowed.split(",") if n)
        app = make_app(allowed_target_networks=networks, resolver=dns or FakeDNS())
        client = app.test_client()
        assert client.post("/api/v2.0/projects", json={"project_name": "library"}).status_code == 201
        return client

    return build


# (address, the rule the 400 must name): every class the guard denies, in the notations attackers use.
DENIED = [
    ("http://169.254.169.254/latest/meta-data", "link-local"),
    ("http://10.0.0.1/", "private"),
    ("http://172.16.5.4/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://localhost:6379/", "loopback"),
    ("http://127.0.0.1:8080/", "loopback"),
    ("http://[::ffff:169.254.169.254]/", "link-local"),
    ("http://2130706433/", "loopback"),
    ("http://0x7f000001/", "loopback"),
    ("http://0177.0.0.1/", "loopback"),
    ("http://127.1/", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://[fd00::1]/", "unique"),
    ("http://[fe80::1]/", "link-local"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://100.64.0.1/", "100.64.0.0/10"),
    ("http://224.0.0.1/", "multicast"),
    ("http://255.255.255.255/", "broadcast"),
    ("http://198.18.0.1/", "benchmark"),
    ("http://240.0.0.1/", "reserved"),
    ("http://[64:ff9b::a00:1]/", "private"),
    ("http://[2002:a9fe:a9fe::1]/", "link-local"),
    ("http://[::127.0.0.1]/", "loopback"),
    ("http://metadata.internal.test/", "link-local"),
]


def test_a_target_in_a_denied_network_is_400_naming_the_rule_and_the_setting(
    guarded: Callable[..., FlaskClient],
) -> None:
    client = guarded(
        dns=FakeDNS({"metadata.internal.test": ["169.254.169.254", "fd00::5"], "localhost": ["127.0.0.1"]})
    )
    for address, rule in DENIED:
        response = client.post(V2, json=policy(address))
        assert response.status_code == 400, address
        message = response.get_json()["errors"][0]["message"]
        assert message.startswith("targets.0.address:"), (address, message)
        assert rule in message.lower() and "DOCKHOOK_ALLOWED_TARGET_NETWORKS" in message, (address, message)
    assert client.get(V2).get_json() == [], "a refused policy is not saved"


def test_a_name_is_refused_only_when_every_address_is_denied_and_an_unresolvable_name_is_accepted(
    guarded: Callable[..., FlaskClient],
) -> None:
    dns = FakeDNS({"mixed.example.test": ["10.0.0.7", "93.184.215.14"], "gone.example.test": []})
    client = guarded(dns=dns)
    assert client.post(V2, json={**policy("https://mixed.example.test/in"), "name": "mixed"}).status_code == 201
    # It may exist later; the worker checks the address it connects to at send time anyway.
    assert client.post(V2, json={**policy("https://gone.example.test/in"), "name": "later"}).status_code == 201
    assert {"mixed.example.test", "gone.example.test"} <= set(dns.asked)


def test_the_allow_list_opens_exactly_its_networks(guarded: Callable[..., FlaskClient]) -> None:
    client = guarded(allowed="10.1.2.0/24,127.0.0.0/8")
    for number, address in enumerate(["http://10.1.2.9/", "http://127.0.0.1:9/", "http://[::ffff:127.0.0.1]/"]):
        assert client.post(V2, json={**policy(address), "name": f"ok-{number}"}).status_code == 201, address
    for address in ("http://10.1.3.1/", "http://192.168.1.1/", "http://[::1]/"):
        assert client.post(V2, json={**policy(address), "name": "no"}).status_code == 400, address


def test_a_put_is_checked_like_a_create(guarded: Callable[..., FlaskClient]) -> None:
    client = guarded()
    location = client.post(V2, json=policy("https://ci.example.com/in")).headers["Location"]
    response = client.put(location, json=policy("http://[::ffff:a00:1]/"))
    assert response.status_code == 400 and "private" in response.get_json()["errors"][0]["message"]
    assert client.get(location).get_json()["targets"][0]["address"] == "https://ci.example.com/in"


BAD_HEADERS = [
    f" Bearer {SECRET}",
    f"Bearer {SECRET} ",
    f"\tBearer {SECRET}",
    f"Bearer {SECRET}\r\nX-Evil: 1",
    f"Bearer {SECRET}\x00",
    f"Bearer {SECRET}\x7f",
    f"Bearer {SECRET}é",
    "Bearer " + SECRET * 200,  # over 4 KiB
]


def test_an_auth_header_that_is_not_a_valid_field_value_is_400_and_never_echoed(
    guarded: Callable[..., FlaskClient], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = guarded()
    for header in BAD_HEADERS:
        response = client.post(V2, json=policy("https://ci.example.com/in", auth_header=header))
        assert response.status_code == 400, repr(header)
        message = response.get_json()["errors"][0]["message"]
        # A NUL is refused before the body is read into fields, like every string holding one.
        rule = "NUL" if "\x00" in header else "4096"
        assert "targets.0.auth_header" in message and rule in message
        assert SECRET not in response.get_data(as_text=True)
    assert SECRET not in caplog.text
    assert client.get(V2).get_json() == []
    # Inner spaces and tabs are fine, as is exactly 4 KiB.
    for number, header in enumerate([f"Bearer  {SECRET}\tx", "B" * 4096]):
        body = {**policy("https://ci.example.com/in", auth_header=header), "name": f"fine-{number}"}
        assert client.post(V2, json=body).status_code == 201


def test_a_masked_address_sent_back_keeps_the_stored_one(guarded: Callable[..., FlaskClient]) -> None:
    client = guarded()
    stored = "https://hooks.slack.com/services/T0AB/B0CD/sl4ckT0ken?x=q5ecret"
    location = client.post(V2, json=policy(stored, type="slack")).headers["Location"]
    shown = client.get(location).get_json()
    text = json.dumps(shown)
    assert "sl4ckT0ken" not in text and "q5ecret" not in text
    shown["description"] = "edited"
    assert client.put(location, json=shown).status_code == 200
    hook_jobs = client.get("/api/v2.0/projects/library/webhook/policies").get_json()
    assert hook_jobs[0]["description"] == "edited"
    # The stored address is whole (only what is shown is masked): the masked form equals the original's mask.
    assert client.get(location).get_json()["targets"][0]["address"] == shown["targets"][0]["address"]

    with client.application.app_context():
        (row,) = db.session.query(WebhookPolicy).all()
        assert row.targets[0]["address"] == stored
