"""Test a target: send one ping through the same sender, SSRF guard and signing as deliveries (RQ job function)."""

from __future__ import annotations

import time
from typing import Any

from app import clock
from app.extensions import current_settings
from app.services import credentials
from jobs import pacing, sender, turns

# A test answers within the API's 5 s wait: connect and read are bounded below the delivery timeouts.
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 2.5
EXCERPT = 1024


def send_test(target: dict[str, Any], body: str, content_type: str, hook_id: str) -> dict[str, Any]:
    """POST ``body`` to the stored ``target`` (credentials still encrypted) and say what came back.

    Runs on a worker, as deliveries do: the address connected to is checked by the SSRF guard, the auth header
    and the Standard Webhooks signature are added exactly as for a delivery. Records nothing (no hook job, no
    attempt): the answer is the record. Never raises for a network or HTTP failure.
    """
    settings = current_settings()
    found = credentials.for_target(target, clock.now())
    kind = str(target.get("type", "http"))
    request = sender.Request(
        hook_id=hook_id,
        address=found.address,
        body=body.encode("utf-8"),
        content_type=content_type,
        auth_header=found.auth_header if kind == "http" else "",
        secrets=found.signing_secrets,
        verify_tls=not found.skip_cert_verify,
        connect_timeout=min(settings.http_connect_timeout, CONNECT_TIMEOUT),
        read_timeout=min(settings.http_read_timeout, READ_TIMEOUT),
        allowed_networks=settings.allowed_target_networks,
        resolver=settings.resolver,
        kind=kind,
    )
    if kind != "http" and settings.redis_url:
        # A test takes its turn like any chat message (DOCKHOOK_CHAT_INTERVALS per webhook URL), briefly.
        key = pacing.address_key(request.address)
        turns.wait_turn(settings.redis_url, f"{kind}:{key}", settings.chat_interval(kind), time.monotonic() + 1.0)
    result = sender.send(request)
    return {
        "status_code": result.status_code,
        "duration_ms": result.duration_ms,
        "response_body": result.response_body[:EXCERPT],
        "error_class": result.error_class,
        "error_message": result.error_message,
    }
