"""Configuration JSON: Harbor's ``{"key": {"value", "editable"}}`` out, ``{"key": value}`` in."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields

from app.api.webhooks.schemas import StrictBoolean


class BooleanItemSchema(Schema):
    value = fields.Boolean()
    editable = fields.Boolean()


class ConfigurationsSchema(Schema):
    notification_enable = fields.Nested(BooleanItemSchema)


class ConfigurationsUpdateSchema(Schema):
    """Only the keys to change; an unknown key is a 400."""

    class Meta:
        unknown = RAISE

    notification_enable = StrictBoolean(metadata={"description": "the global webhook switch"})
