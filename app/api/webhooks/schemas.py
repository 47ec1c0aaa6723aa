"""Webhook policy JSON (Harbor 2.x field names): request bodies, responses, events and last triggers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, post_load, validate

from app import clock, redact
from app.api.bounds import SettingLength
from app.api.paging import PageArgs, q_field, sort_field
from app.models import WebhookPolicy
from app.payloads.template import MAX_TEMPLATE_BYTES
from app.services import policy_filters, target_health
from app.services.policies import (
    AUTH_HEADER_MAX,
    CONTENT_TYPE_MAX,
    CREATOR_MAX,
    KEEP,
    MASK,
    MAX_PER_SECOND_RANGE,
    NAME_MAX,
    PAYLOAD_FORMATS,
    TARGET_TYPES,
    PolicyInput,
    TargetInput,
)
from app.services.webhook_lists import POLICY_KEYS

DESCRIPTION_MAX = 4096
ADDRESS_MAX = 2048
# whsec_ + base64 of at most 64 bytes is 94 characters.
SECRET_MAX = 128
EVENT_TYPE_MAX = 64
EVENT_TYPES_MAX = 16


class StrictBoolean(fields.Boolean):
    """A JSON ``true`` or ``false``; unlike ``fields.Boolean`` no ``"yes"``, ``1`` or ``"false"``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, bool):
            raise ValidationError("Not a valid boolean (true or false).")
        return value


class TargetBodySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    type = fields.String(
        required=True,
        validate=validate.OneOf(TARGET_TYPES),
        metadata={"description": "http, slack, or a chat type: teams, mattermost, discord, googlechat"},
    )
    address = fields.String(
        required=True,
        validate=validate.Length(min=1, max=ADDRESS_MAX),
        metadata={
            "description": "http:// or https:// URL of a public address (or of a network the operator allowed in "
            "DOCKHOOK_ALLOWED_TARGET_NETWORKS); the masked form the API shows, sent back, keeps the stored one"
        },
    )
    auth_header = fields.String(
        load_default="",
        allow_none=True,
        validate=validate.Length(max=AUTH_HEADER_MAX, error="must be an HTTP header value of at most {max} characters"),
        metadata={
            "description": "Authorization header value (an HTTP field value: visible ASCII, at most 4096 characters); "
            "stored encrypted, shown masked; send the mask back to keep the stored one"
        },
    )
    skip_cert_verify = StrictBoolean(load_default=False)
    payload_format = fields.String(
        load_default="",
        allow_none=True,
        validate=validate.OneOf(["", *PAYLOAD_FORMATS], error=f"must be {' or '.join(PAYLOAD_FORMATS)} (or empty)"),
        metadata={
            "description": "Default, CloudEvents or Template (http; empty or null: Default); empty for slack and the "
            "chat types"
        },
    )
    template = fields.String(
        load_default="",
        allow_none=True,
        validate=validate.Length(max=MAX_TEMPLATE_BYTES),
        metadata={
            "description": "payload_format Template only: a Jinja2 template (sandboxed, at most 16 KiB) over the "
            "Default payload (type, occur_at, operator, event_data, and all of it as payload); checked against a "
            "sample event when saved"
        },
    )
    content_type = fields.String(
        load_default="",
        allow_none=True,
        validate=validate.Length(max=CONTENT_TYPE_MAX),
        metadata={"description": "payload_format Template only: the Content-Type the rendered body is sent with"},
    )
    max_per_second = fields.Float(
        load_default=None,
        allow_none=True,
        allow_nan=False,
        validate=validate.Range(min=MAX_PER_SECOND_RANGE[0], max=MAX_PER_SECOND_RANGE[1]),
        metadata={
            "description": "deliveries per second this target takes at most, across every worker (null: no limit)"
        },
    )
    secret = fields.String(
        load_default="",
        allow_none=True,
        validate=validate.Length(max=SECRET_MAX),
        metadata={
            "description": "Standard Webhooks signing secret (whsec_ + base64 of 24-64 random bytes); deliveries "
            "then carry webhook-signature. Shown masked; send the mask back to keep it."
        },
    )

    @post_load
    def typed(self, data: dict[str, Any], **_: Any) -> TargetInput:
        return TargetInput(
            type=data["type"],
            address=data["address"],
            auth_header=data.get("auth_header") or "",
            secret=data.get("secret") or "",
            skip_cert_verify=data["skip_cert_verify"],
            payload_format=data.get("payload_format") or "",
            template=data.get("template") or "",
            content_type=data.get("content_type") or "",
            max_per_second=data.get("max_per_second"),
        )


FILTER_EXAMPLE = {"repositories": ["team-a/**", "*/frontend"], "tags": ["v*", "!*-rc*"], "media_types": ["image"]}


_PATTERNS = validate.Length(max=policy_filters.PATTERNS_MAX)


def _patterns(description: str, example: list[str]) -> fields.List[str]:
    """A filter's list of globs (each at most PATTERN_MAX characters; the list checked by _PATTERNS)."""
    return fields.List(
        fields.String(validate=validate.Length(max=policy_filters.PATTERN_MAX)),
        validate=_PATTERNS,
        metadata={"description": description, "example": example},
    )


class FiltersSchema(Schema):
    """Dockhook's extension: which events of the subscribed types the policy takes (Harbor clients ignore it)."""

    class Meta:
        unknown = RAISE

    repositories = _patterns(
        "globs over the full repository name (project/name): * and ? within a segment, ** across segments, [abc] "
        "a class, a leading ! excludes",
        ["team-a/**", "*/frontend"],
    )
    tags = _patterns(
        "tag globs; an event passes when one of its tags does; ! excludes; an untagged event never passes a tag filter",
        ["v*", "!*-rc*"],
    )
    media_types = _patterns(
        "image (single-platform manifests), index (OCI indexes and manifest lists) or exact manifest media types",
        ["image"],
    )
    operators = _patterns("globs over the operator (who pushed, pulled, published)", ["ci-*"])


class PolicyBodySchema(Schema):
    """Create and full-update body; ``id``, ``project_id`` and timestamps in it are ignored."""

    class Meta:
        unknown = EXCLUDE

    name = fields.String(required=True, validate=validate.Length(min=1, max=NAME_MAX))
    description = fields.String(load_default="", allow_none=True, validate=validate.Length(max=DESCRIPTION_MAX))
    enabled = StrictBoolean(load_default=True)
    targets = fields.List(
        fields.Nested(TargetBodySchema),
        required=True,
        validate=SettingLength("max_targets"),
        metadata={"description": "1 to DOCKHOOK_MAX_TARGETS targets"},
    )
    event_types = fields.List(
        fields.String(validate=validate.Length(min=1, max=EVENT_TYPE_MAX)),
        required=True,
        validate=validate.Length(min=1, max=EVENT_TYPES_MAX),
        metadata={
            "description": "PUSH_ARTIFACT, PULL_ARTIFACT, DELETE_ARTIFACT (the registry's), SCANNING_COMPLETED, "
            "SCANNING_FAILED, SCANNING_STOPPED, QUOTA_EXCEED, QUOTA_WARNING, REPLICATION, TAG_RETENTION (the publish "
            "API's), or their 1.x aliases"
        },
    )
    creator = fields.String(
        load_default="",
        allow_none=True,
        validate=validate.Length(max=CREATOR_MAX),
        metadata={"description": "kept on update"},
    )
    filters = fields.Nested(
        FiltersSchema,
        allow_none=True,
        metadata={
            "description": "Dockhook extension: repository, tag, media type and operator filters, matched before "
            "a hook job is made. Omitted on a PUT: the stored filters are kept; null or {}: none.",
            "example": FILTER_EXAMPLE,
        },
    )

    @post_load
    def typed(self, data: dict[str, Any], **_: Any) -> PolicyInput:
        return PolicyInput(
            name=data["name"],
            targets=list(data["targets"]),
            event_types=list(data["event_types"]),
            description=data.get("description") or "",
            enabled=data["enabled"],
            creator=data.get("creator") or "",
            filters=data.get("filters", KEEP),
        )


def shown(policy: WebhookPolicy, health: Mapping[tuple[int, str], Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The policy as the API shows it: ``auth_header`` and ``secret`` as the mask (``""`` if unset), addresses
    with their tokens masked (``redact.address``), each target's health (``target_health.for_policies``, read
    here for this policy when not given)."""
    if health is None:
        health = target_health.for_policies([policy], clock.now())
    return {
        "id": policy.id,
        "name": policy.name,
        "description": policy.description,
        "project_id": policy.project_id,
        "targets": [
            {
                "type": t.get("type", ""),
                "address": redact.address(str(t.get("address", "")), str(t.get("type", "http"))),
                "auth_header": MASK if t.get("auth_header_enc") else "",
                "secret": MASK if t.get("secret_enc") else "",
                "skip_cert_verify": bool(t.get("skip_cert_verify")),
                "payload_format": t.get("payload_format") or "",
                "disabled": bool(t.get("disabled")),
                **({"disabled_reason": t["disabled_reason"]} if t.get("disabled_reason") else {}),
                **({"template": t["template"], "content_type": t.get("content_type", "")} if t.get("template") else {}),
                **({"max_per_second": t["max_per_second"]} if t.get("max_per_second") else {}),
                "health": target_health.shown(health, policy.id, t),
            }
            for t in policy.targets
        ],
        "event_types": list(policy.event_types),
        "filters": dict(policy.filters or {}),
        "enabled": policy.enabled,
        "creator": policy.creator,
        "creation_time": policy.creation_time,
        "update_time": policy.update_time,
    }


class TargetHealthSchema(Schema):
    last_success = fields.DateTime(allow_none=True, metadata={"description": "the last successful attempt"})
    last_failure = fields.DateTime(allow_none=True, metadata={"description": "the last failed attempt"})
    consecutive_failures = fields.Integer(metadata={"description": "failed attempts since the last success"})
    failing_since = fields.DateTime(
        allow_none=True, metadata={"description": "the first failure since the last success (null: not failing)"}
    )
    attempts_24h = fields.Integer(metadata={"description": "attempts in the last 24 hours (by the hour)"})
    success_rate_24h = fields.Float(
        allow_none=True, metadata={"description": "successful share of attempts_24h, 0 to 1 (null: no attempts)"}
    )


class TargetSchema(Schema):
    type = fields.String()
    address = fields.String(metadata={"description": "user-info, query-string values and chat webhook tokens masked"})
    auth_header = fields.String(metadata={"description": "masked when set"})
    secret = fields.String(metadata={"description": "masked when set"})
    skip_cert_verify = fields.Boolean()
    payload_format = fields.String()
    disabled = fields.Boolean(
        dump_default=False,
        metadata={
            "description": "true after the target answered 410 Gone, or failed for DOCKHOOK_DISABLE_AFTER; a PUT "
            "re-enables it"
        },
    )
    disabled_reason = fields.String()
    template = fields.String(metadata={"description": "payload_format Template only"})
    content_type = fields.String(metadata={"description": "payload_format Template only"})
    max_per_second = fields.Float(metadata={"description": "absent: no limit"})
    health = fields.Nested(TargetHealthSchema)


class PolicySchema(Schema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String()
    project_id = fields.Integer(allow_none=True, metadata={"description": "null for a system-wide policy"})
    targets = fields.List(fields.Nested(TargetSchema))
    event_types = fields.List(fields.String())
    filters = fields.Nested(FiltersSchema, metadata={"description": "Dockhook extension; {} when the policy has none"})
    enabled = fields.Boolean()
    creator = fields.String()
    creation_time = fields.DateTime()
    update_time = fields.DateTime()


class PolicyListArgs(PageArgs):
    q = q_field(POLICY_KEYS)
    sort = sort_field(POLICY_KEYS)


class PayloadFormatsSchema(Schema):
    notify_type = fields.String()
    formats = fields.List(fields.String())


class SupportedEventsSchema(Schema):
    event_type = fields.List(fields.String())
    notify_type = fields.List(fields.String())
    payload_formats = fields.List(fields.Nested(PayloadFormatsSchema))


class LastTriggerSchema(Schema):
    policy_name = fields.String()
    event_type = fields.String()
    enabled = fields.Boolean()
    creation_time = fields.DateTime()
    last_trigger_time = fields.DateTime(metadata={"description": "absent if never triggered"})


class PolicyTestBodySchema(Schema):
    """A policy to test before saving it (Harbor 1.x's test body): only its targets are used and checked."""

    class Meta:
        unknown = EXCLUDE

    name = fields.String(load_default="", allow_none=True, validate=validate.Length(max=NAME_MAX))
    targets = fields.List(
        fields.Nested(TargetBodySchema),
        required=True,
        validate=SettingLength("max_targets"),
        metadata={"description": "the targets to test (checked as a save checks them: a denied address is a 400)"},
    )

    @post_load
    def typed(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {"name": data.get("name") or "", "targets": list(data["targets"])}


class TargetTestSchema(Schema):
    index = fields.Integer(metadata={"description": "the target's index in the policy"})
    type = fields.String()
    address = fields.String(metadata={"description": "masked as everywhere"})
    ok = fields.Boolean(metadata={"description": "true when the target answered 2xx"})
    status_code = fields.Integer(allow_none=True, metadata={"description": "null when no HTTP answer came"})
    latency_ms = fields.Integer(allow_none=True, metadata={"description": "time to the answer; null if not sent"})
    body_excerpt = fields.String(metadata={"description": "the first 1024 characters of the answer's body"})
    error_class = fields.String(
        metadata={
            "description": "empty on success; else as an attempt's (http_status, connection_refused, "
            "blocked_address, tls_error, read_timeout, ...) or timeout (no answer within 5 s), no_worker, "
            "queue_unavailable, worker_error"
        }
    )
    error_message = fields.String()
    webhook_id = fields.String(metadata={"description": "the webhook-id header the ping carried"})


class PolicyTestSchema(Schema):
    targets = fields.List(fields.Nested(TargetTestSchema))


TEST_EXAMPLE = {
    "index": 0,
    "type": "http",
    "address": "https://ci.example.com/hooks",
    "ok": True,
    "status_code": 200,
    "latency_ms": 84,
    "body_excerpt": "ok",
    "error_class": "",
    "error_message": "",
    "webhook_id": "5f0c8f4e-8a53-4a4e-9a51-8a0b3c1d2e7f",
}
