"""The bounds of API input, as fields and validators whose limits the OpenAPI document shows: integers as
ASCII digits within their column's range, timestamps within years 1970-9999 (UTC), and list sizes read from the
settings (``Settings.max_targets``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from marshmallow import ValidationError, fields, validate

from app.extensions import current_settings
from app.services import query

EARLIEST, LATEST = query.EARLIEST, query.LATEST
TIME_RANGE = "between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z"
_DIGITS = re.compile(r"[+-]?[0-9]{1,19}")


class QueryInteger(fields.Integer):
    """An integer written in ASCII digits (no ``²``, ``١``, ``1_000`` or spaces); give it a Range."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or (isinstance(value, str) and not _DIGITS.fullmatch(value)):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


class Timestamp(fields.AwareDateTime):
    """An ISO 8601 time with its offset, in UTC, between 1970-01-01 and 9999-12-31 (UTC); naive times are refused."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = dict(kwargs.pop("metadata", {}))
        given = metadata.get("description")
        metadata["description"] = f"{given} ({TIME_RANGE})" if given else TIME_RANGE
        super().__init__(default_timezone=None, metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            utc = moment.astimezone(UTC)
        except OverflowError:
            raise ValidationError(f"Not {TIME_RANGE}.") from None
        if not EARLIEST <= utc <= LATEST:
            raise ValidationError(f"Not {TIME_RANGE}.")
        return utc


class SettingLength(validate.Validator):
    """At least ``minimum`` items and at most the value of the setting ``name`` (read when a request is checked;
    the OpenAPI document shows the app's value)."""

    def __init__(self, name: str, minimum: int = 1) -> None:
        self.name = name
        self.minimum = minimum

    def maximum(self) -> int:
        return int(getattr(current_settings(), self.name))

    def __call__(self, value: Any) -> Any:
        validate.Length(min=self.minimum, max=self.maximum())(value)
        return value


def document_setting_bounds(app: Flask) -> Callable[..., dict[str, Any]]:
    """An apispec attribute function: ``minItems``/``maxItems`` of the fields bounded by a SettingLength, from
    ``app``'s settings."""
    settings = app.extensions["dockhook.settings"]

    def setting_bounds(_converter: Any, field: Any, **_: Any) -> dict[str, Any]:
        for validator in getattr(field, "validators", ()):
            if isinstance(validator, SettingLength):
                return {"minItems": validator.minimum, "maxItems": int(getattr(settings, validator.name))}
        return {}

    return setting_bounds
