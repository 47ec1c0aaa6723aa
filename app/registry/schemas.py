"""The registry's notification body: JSON within bounds, the envelope, and each event read on its own.

Two levels of refusal (DESIGN §10). A body that is not a notification envelope at all (not JSON, NaN or an
out-of-range number, nested deeper than ``MAX_DEPTH``, not ``{"events": [...]}``) is refused whole: a real
registry cannot send one, so refusing it blocks no registry queue. Anything wrong inside one event (a missing
id, a field of the wrong type, a bad timestamp) refuses that event only: :func:`load_envelope` gives it back as
a :class:`Rejection`, to be kept aside, and the other events of the envelope go on. Unknown fields are
tolerated.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load

from app.errors import describe
from app.services.rejected import Rejection

# JSON nesting allowed in a body: an envelope needs 4 levels ({"events": [{"target": {...}}]}); unknown fields
# get the rest. Deeper is refused before parsing (the decoder recurses once per level).
MAX_DEPTH = 32

_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_PAIR = re.compile(r"\[\]|\{\}")


@dataclass(frozen=True)
class LoadedEvent:
    """An event that read well: ``event`` normalised by :class:`EventSchema`, ``raw`` as the body held it."""

    event: dict[str, Any]
    raw: dict[str, Any]


def parse_body(body: bytes) -> Any:
    """Decode a notification body as JSON, within bounds; raises ValueError saying why it is refused.

    Refused: bytes that are not JSON text (UTF-8, or the UTF-16/32 the JSON decoder detects), nesting deeper
    than ``MAX_DEPTH``, ``NaN``/``Infinity`` (not JSON) and numbers beyond a double's range or Python's
    integer-conversion limit.
    """
    try:
        text = body.decode(json.detect_encoding(body), "surrogatepass")
    except UnicodeDecodeError as exc:
        raise ValueError(f"body is not valid JSON: {exc}") from None
    if _deeper_than(text, MAX_DEPTH):
        raise ValueError(f"body is not valid JSON: nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:  # brackets that never close: the decoder recurses before it finds the error
        raise ValueError(f"body is not valid JSON: nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise ValueError(f"body is not valid JSON: {exc}") from None


def _deeper_than(text: str, limit: int) -> bool:
    """True when ``text``'s brackets (outside strings) nest deeper than ``limit``.

    Bounded work, no recursion: each pass removes the innermost pairs (one level), and at most ``limit`` passes
    run. Brackets that do not pair up are left to the decoder, which says what is wrong.
    """
    skeleton = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if skeleton.count("[") + skeleton.count("{") <= limit:
        return False
    for _ in range(limit):
        reduced = _PAIR.sub("", skeleton)
        if reduced == skeleton:
            return False
        skeleton = reduced
    return _PAIR.search(skeleton) is not None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {literal[:40]} is out of range")
    return value


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


def _absent(schema: type[Schema]) -> Any:
    """The load default of a missing sub-object: what ``schema`` loads from ``{}``, made once (building a
    schema per event cost more than loading the event), copied for each event (the event's loader changes it)."""
    empty = schema().load({})
    return lambda: dict(empty)


class EventSchema(_Lenient):
    """One event's types. The values a kept event may hold (lengths, characters, names) are app.registry.bounds'."""

    id = fields.String(required=True)
    timestamp = fields.AwareDateTime(load_default=None, default_timezone=None)
    action = fields.String(required=True)
    target = fields.Nested(TargetSchema, load_default=_absent(TargetSchema))
    request = fields.Nested(RequestSchema, load_default=_absent(RequestSchema))
    actor = fields.Nested(ActorSchema, load_default=_absent(ActorSchema))
    source = fields.Nested(SourceSchema, load_default=_absent(SourceSchema))

    @post_load
    def _normalise(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if data["timestamp"] is not None:
            try:
                data["timestamp"] = data["timestamp"].astimezone(UTC)
            except OverflowError:  # 0001-01-01T00:00:00+01:00 is before the first representable instant
                raise ValidationError("Not a representable time in UTC.", "timestamp") from None
        target = data["target"]
        # "size" and the deprecated "length" carry the same value; 0 means unknown (3.x).
        size = target.get("size") or target.get("length")
        target["size"] = size if size and size > 0 else None
        return data


def load_envelope(document: Any) -> list[LoadedEvent | Rejection]:
    """Read a decoded body as ``{"events": [...]}``; each event comes back loaded or as the Rejection that says
    why it cannot be.

    Raises ValueError (with a readable message) when ``document`` is not an envelope; never for what one event
    holds. The number of events is bounded by the body's (DOCKHOOK_MAX_BODY_BYTES).
    """
    if not isinstance(document, dict):
        raise ValueError('the body must be a JSON object {"events": [...]}')
    if "events" not in document:
        raise ValueError('the body has no "events" list')
    events = document["events"]
    if not isinstance(events, list):
        raise ValueError('"events" must be a list')
    return [load_event(raw) for raw in events]


# One instance for every event: building a marshmallow schema (and its nested ones) copies every field, which
# cost more than loading the event. Loading does not change the instance, so threads can share it.
_EVENT_SCHEMA = EventSchema()


def load_event(raw: Any) -> LoadedEvent | Rejection:
    """One event read on its own: loaded, or the Rejection naming the field that is wrong."""
    if not isinstance(raw, dict):
        return Rejection("the event is not a JSON object", raw)
    try:
        loaded = _EVENT_SCHEMA.load(raw)
    except ValidationError as exc:
        # marshmallow files "not an object" under _schema: "target: Invalid input type." reads better.
        return Rejection(describe(exc.messages).replace("._schema:", ":"), raw)
    return LoadedEvent(loaded, raw)
