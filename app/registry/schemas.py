"""Marshmallow schemas for the registry's notification envelope (unknown fields tolerated)."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load, validate

from app.errors import describe


class _Lenient(Schema):
    class Meta:
        unknown = EXCLUDE

    @pre_load
    def _blank_is_missing(self, data: Any, **_: Any) -> Any:
        # distribution 3.x writes "" and 0 where 2.x leaves a field out; null happens too.
        if not isinstance(data, dict):
            return data
        return {k: v for k, v in data.items() if v is not None and v != ""}


class TargetSchema(_Lenient):
    mediaType = fields.String(load_default="")
    size = fields.Integer(load_default=None, strict=True)
    length = fields.Integer(load_default=None, strict=True)
    digest = fields.String(load_default="")
    repository = fields.String(load_default="")
    url = fields.String(load_default="")
    tag = fields.String(load_default="")
    fromRepository = fields.String(load_default="")


class RequestSchema(_Lenient):
    id = fields.String(load_default="")
    addr = fields.String(load_default="")
    host = fields.String(load_default="")
    method = fields.String(load_default="")
    useragent = fields.String(load_default="")


class ActorSchema(_Lenient):
    name = fields.String(load_default="")


class SourceSchema(_Lenient):
    addr = fields.String(load_default="")
    instanceID = fields.String(load_default="")


class EventSchema(_Lenient):
    id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    timestamp = fields.AwareDateTime(load_default=None, default_timezone=None)
    action = fields.String(required=True)
    target = fields.Nested(TargetSchema, load_default=lambda: TargetSchema().load({}))
    request = fields.Nested(RequestSchema, load_default=lambda: RequestSchema().load({}))
    actor = fields.Nested(ActorSchema, load_default=lambda: ActorSchema().load({}))
    source = fields.Nested(SourceSchema, load_default=lambda: SourceSchema().load({}))

    @post_load
    def _size(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        target = data["target"]
        # "size" and the deprecated "length" carry the same value; 0 means unknown (3.x).
        size = target.get("size") or target.get("length")
        target["size"] = size if size and size > 0 else None
        return data


class EnvelopeSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    events = fields.List(fields.Nested(EventSchema), required=True)


def load_envelope(document: Any) -> list[dict[str, Any]]:
    """Validate a decoded JSON body; return its events. Raises ValueError with a readable message."""
    if not isinstance(document, dict):
        raise ValueError('the body must be a JSON object {"events": [...]}')
    if "events" not in document:
        raise ValueError('the body has no "events" list')
    try:
        loaded = EnvelopeSchema().load(document)
    except ValidationError as exc:
        raise ValueError(describe(exc.messages)) from None
    return list(loaded["events"])
