"""The OpenAPI description of ``POST /service/notifications``, the registry's receiver (``app/registry/``).

The receiver is a plain Flask blueprint, outside the REST API; these schemas only document it. They mirror
``app.registry.schemas`` and ``app.registry.views``, which the API layer may not import (the tests compare them).
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from flask import Flask
from marshmallow import Schema, fields

PATH = "/service/notifications"
CONTENT_TYPES = (
    "application/vnd.docker.distribution.events.v1+json",
    "application/vnd.docker.distribution.events.v2+json",
    "application/json",
)
# The receiver's token is a bearer token too, so it is the document's one bearer scheme (whose description
# says which token goes where); the API's Basic alternative does not apply here.
BEARER_SCHEME = "bearerAuth"


class NotificationTargetSchema(Schema):
    mediaType = fields.String()
    size = fields.Integer()
    length = fields.Integer()
    digest = fields.String()
    repository = fields.String()
    url = fields.String()
    tag = fields.String()
    fromRepository = fields.String()


class NotificationRequestSchema(Schema):
    id = fields.String()
    addr = fields.String()
    host = fields.String()
    method = fields.String()
    useragent = fields.String()


class NotificationActorSchema(Schema):
    name = fields.String()


class NotificationSourceSchema(Schema):
    addr = fields.String()
    instanceID = fields.String()


class NotificationEventSchema(Schema):
    id = fields.String(required=True, metadata={"description": "the registry's event id: the dedupe key"})
    timestamp = fields.DateTime()
    action = fields.String(required=True, metadata={"description": "push, pull, delete or mount"})
    target = fields.Nested(NotificationTargetSchema)
    request = fields.Nested(NotificationRequestSchema)
    actor = fields.Nested(NotificationActorSchema)
    source = fields.Nested(NotificationSourceSchema)


class NotificationEnvelopeSchema(Schema):
    """docker/distribution's notification envelope; unknown fields are ignored."""

    events = fields.List(fields.Nested(NotificationEventSchema), required=True)


class NotificationReceiptSchema(Schema):
    received = fields.Integer(metadata={"description": "events in the envelope"})
    recorded = fields.Integer(metadata={"description": "events recorded now"})
    duplicates = fields.Integer(metadata={"description": "events seen before (a re-send): changed nothing"})
    ignored = fields.Integer(metadata={"description": "events dropped by the filter or skipped (unknown project)"})
    published = fields.List(
        fields.String(), metadata={"description": "the event type of each event published to webhook policies"}
    )


def _error(description: str, error_schema: str, **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": error_schema}}, **extra}


def document(app: Flask, spec: APISpec, error_schema: str) -> None:
    """Add the receiver's path to ``spec`` when ``app`` serves it; ``error_schema`` names the error component."""
    rule = next((r for r in app.url_map.iter_rules() if r.rule == PATH), None)
    if rule is None:
        return
    envelope = {"schema": NotificationEnvelopeSchema}
    spec.path(
        rule=rule,
        operations={
            "post": {
                "tags": ["registry"],
                "operationId": "ReceiveRegistryNotifications",
                "summary": "The registry's notification endpoint (docker/distribution's notifications: endpoints).",
                "description": "Records the envelope in one transaction (access log, repositories, events, hook "
                "jobs; notifications arriving at the same moment share it), then answers 200; a re-sent event id "
                "changes nothing. Blob and mount events, HEAD requests and Harbor's own pulls are dropped. "
                "Authorization: Bearer <DOCKHOOK_NOTIFY_TOKEN> (not the API token) when DOCKHOOK_NOTIFY_TOKEN is "
                "set; not checked otherwise.",
                "security": [{BEARER_SCHEME: []}],
                "requestBody": {"required": True, "content": dict.fromkeys(CONTENT_TYPES, envelope)},
                "responses": {
                    "200": {
                        "description": "Committed (also when Redis is down: the hook jobs wait as pending)",
                        "content": {"application/json": {"schema": NotificationReceiptSchema}},
                    },
                    "400": _error("Not JSON, or not a notification envelope; nothing recorded", error_schema),
                    "401": _error(
                        "Missing or wrong bearer token",
                        error_schema,
                        headers={"WWW-Authenticate": {"schema": {"type": "string"}}},
                    ),
                    "413": _error("Body over DOCKHOOK_MAX_BODY_BYTES", error_schema),
                    "415": _error("Content-Type not one of the accepted ones", error_schema),
                    "503": _error(
                        "The database is unreachable; nothing recorded: the registry sends it again",
                        error_schema,
                        headers={"Retry-After": {"schema": {"type": "integer"}}},
                    ),
                },
            }
        },
    )
