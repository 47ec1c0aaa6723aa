"""Hook-job JSON. A job's target holds no credentials; its address is shown with its tokens masked."""

from __future__ import annotations

import json
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app import redact
from app.api.bounds import QueryInteger, Timestamp
from app.api.paging import MAX_ID, PageArgs, q_field, sort_field
from app.models import HookJobStatus
from app.services.credentials import SNAPSHOT_FIELDS
from app.services.webhook_lists import (
    EXECUTION_KEYS,
    EXECUTION_STATUS,
    LEGACY_JOB_KEYS,
    LEGACY_STATUS,
    TASK_KEYS,
    TASK_STATUS,
)

FROM_LEGACY = {legacy: str(ours) for ours, legacy in LEGACY_STATUS.items()}
STATUSES = [str(s) for s in HookJobStatus]
EVENT_TYPE_MAX = 64  # the column's length
STATUS_VALUES_MAX = 16  # repeated status arguments
TARGET_DOC = {
    "type": "object",
    "description": "the target the job was made for: type, address (tokens masked), skip_cert_verify, "
    "payload_format; never a credential",
}


def safe_target(target: dict[str, Any]) -> dict[str, Any]:
    """The job's target snapshot (it holds no credentials) with the address's tokens masked."""
    shown = {k: target[k] for k in SNAPSHOT_FIELDS if k in target}
    shown["address"] = redact.address(str(target.get("address", "")), str(target.get("type", "http")))
    return shown


class AttemptSchema(Schema):
    number = fields.Integer()
    manual = fields.Boolean()
    started_at = fields.DateTime()
    duration_ms = fields.Integer()
    status_code = fields.Integer(allow_none=True)
    outcome = fields.String()
    error_class = fields.String()
    error_message = fields.String()
    response_body = fields.String()


class HookJobSchema(Schema):
    id = fields.Integer()
    uuid = fields.String(metadata={"description": "the webhook-id header of every try"})
    status = fields.String()
    event_type = fields.String()
    notify_type = fields.String()
    project_id = fields.Integer()
    policy_id = fields.Integer(allow_none=True)
    policy_name = fields.String()
    event_id = fields.Integer()
    target = fields.Function(lambda job: safe_target(job.target), metadata=TARGET_DOC)
    attempt_count = fields.Integer()
    max_attempts = fields.Integer()
    next_attempt_at = fields.DateTime(allow_none=True)
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String()
    final_reason = fields.String()
    content_type = fields.String()
    payload = fields.Function(
        lambda job: json.loads(job.payload), metadata={"type": "object", "description": "the exact JSON body sent"}
    )
    creation_time = fields.DateTime()
    update_time = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


class HookJobDetailSchema(HookJobSchema):
    attempts = fields.List(fields.Nested(AttemptSchema))
    operator = fields.String(
        metadata={"description": "the account that last redelivered, stopped or recovered it by hand (empty: none)"}
    )


class HookJobListArgs(PageArgs):
    status = fields.List(
        fields.String(validate=validate.OneOf(STATUSES)),
        load_default=None,
        validate=validate.Length(max=STATUS_VALUES_MAX),
    )
    event_type = fields.String(load_default=None, validate=validate.Length(max=EVENT_TYPE_MAX))
    policy_id = QueryInteger(load_default=None, validate=validate.Range(min=1, max=MAX_ID))
    since = Timestamp(load_default=None, metadata={"description": "jobs created at or after this time"})


class LegacyJobArgs(PageArgs):
    q = q_field(LEGACY_JOB_KEYS)
    sort = sort_field(LEGACY_JOB_KEYS)
    policy_id = QueryInteger(required=True, validate=validate.Range(min=1, max=MAX_ID))
    status = fields.List(
        fields.String(validate=validate.OneOf(list(FROM_LEGACY) + STATUSES)),
        load_default=None,
        validate=validate.Length(max=STATUS_VALUES_MAX),
    )


class LegacyJobSchema(Schema):
    """Harbor's ``WebhookJob`` (1.x names): ``finished`` for success, the payload as a string."""

    id = fields.Integer()
    policy_id = fields.Integer(allow_none=True)
    event_type = fields.String()
    notify_type = fields.String()
    status = fields.Function(
        lambda job: LEGACY_STATUS[job.status], metadata={"type": "string", "enum": sorted(set(LEGACY_STATUS.values()))}
    )
    job_detail = fields.String(attribute="payload")
    creation_time = fields.DateTime()
    update_time = fields.DateTime()


def _metrics(job: Any) -> dict[str, int]:
    counts = {f"{s}_task_count": 0 for s in ("success", "error", "pending", "running", "scheduled", "stopped")}
    counts[f"{job.status}_task_count"] = 1
    return {"task_count": 1, **counts}


class ExecutionListArgs(PageArgs):
    q = q_field(EXECUTION_KEYS)
    sort = sort_field(EXECUTION_KEYS)


class TaskListArgs(PageArgs):
    q = q_field(TASK_KEYS)
    sort = sort_field(TASK_KEYS)


class ExecutionSchema(Schema):
    """Harbor 2.8's execution: one per hook event (policy target), holding one task."""

    id = fields.Integer()
    vendor_type = fields.Function(
        lambda job: "SLACK" if job.notify_type == "slack" else "WEBHOOK",
        metadata={"type": "string", "enum": ["WEBHOOK", "SLACK"]},
    )
    vendor_id = fields.Integer(attribute="policy_id", allow_none=True)
    status = fields.Function(
        lambda job: EXECUTION_STATUS[job.status],
        metadata={"type": "string", "enum": sorted(set(EXECUTION_STATUS.values()))},
    )
    status_message = fields.String(attribute="last_error")
    metrics = fields.Function(
        _metrics,
        metadata={
            "type": "object",
            "additionalProperties": {"type": "integer"},
            "description": "task_count and <status>_task_count",
        },
    )
    trigger = fields.Constant("EVENT", metadata={"type": "string"})
    extra_attrs = fields.Function(
        lambda job: {"event_type": job.event_type, "payload": job.payload},
        metadata={
            "type": "object",
            "properties": {"event_type": {"type": "string"}, "payload": {"type": "string"}},
            "description": "the event type, and the payload as a string",
        },
    )
    start_time = fields.DateTime(attribute="creation_time")
    end_time = fields.DateTime(attribute="finished_at", allow_none=True)


class TaskSchema(Schema):
    id = fields.Integer()
    execution_id = fields.Integer(attribute="id", dump_only=True)
    status = fields.Function(
        lambda job: TASK_STATUS[job.status], metadata={"type": "string", "enum": sorted(set(TASK_STATUS.values()))}
    )
    status_message = fields.String(attribute="last_error")
    run_count = fields.Integer(attribute="attempt_count")
    extra_attrs = fields.Function(
        lambda job: {"uuid": job.uuid, "target": safe_target(job.target)},
        metadata={
            "type": "object",
            "properties": {"uuid": {"type": "string"}, "target": TARGET_DOC},
            "description": "the hook job's uuid (its webhook-id) and target",
        },
    )
    creation_time = fields.DateTime()
    update_time = fields.DateTime()
    start_time = fields.DateTime(attribute="creation_time", dump_only=True)
    end_time = fields.DateTime(attribute="finished_at", allow_none=True)


class RecoverSchema(Schema):
    since = Timestamp(required=True)
    until = Timestamp(load_default=None, metadata={"description": "later than since; null or absent: no end"})

    @validates_schema
    def _window(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("until") is not None and data["until"] <= data["since"]:
            raise ValidationError("must be later than since", field_name="until")


class RecoveredSchema(Schema):
    redelivered = fields.Integer()
    hook_jobs = fields.List(fields.String(), metadata={"description": "uuids of the redelivered hook jobs"})
    remaining = fields.Integer(
        metadata={
            "description": "failed jobs of the window not redelivered by this call (at most 500 per call): call again"
        }
    )


class TaskUpdateSchema(Schema):
    """Harbor stops a task with ``{"status": "Stopped"}``; nothing else can be set."""

    status = fields.String(load_default="Stopped", validate=validate.Equal("Stopped"))
