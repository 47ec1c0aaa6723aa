"""Rejected-notification JSON and the list's query arguments."""

from __future__ import annotations

from marshmallow import Schema, fields

from app.api.paging import PageArgs, q_field, sort_field
from app.services.rejected import MAX_EVENT_CHARS, QUERY_KEYS


class RejectedNotificationSchema(Schema):
    id = fields.Integer()
    received_at = fields.DateTime(metadata={"description": "when the receiver first kept it aside"})
    registry_event_id = fields.String(
        allow_none=True, metadata={"description": "the registry's event id; null when it had no usable one"}
    )
    registry_request_id = fields.String(metadata={"description": "the registry's request id, if usable"})
    reason = fields.String(metadata={"description": "why it was not recorded"})
    event = fields.String(
        metadata={
            "description": "the event as the registry sent it: JSON text, non-ASCII characters escaped, "
            f"cut at {MAX_EVENT_CHARS} characters"
        }
    )
    event_truncated = fields.Boolean(metadata={"description": "true when event was cut"})
    source_address = fields.String(metadata={"description": "the address the notification came from"})


class RejectedListArgs(PageArgs):
    q = q_field(QUERY_KEYS)
    sort = sort_field(QUERY_KEYS)
