"""The publish API's body: Harbor's event types with the ``event_data`` shapes Harbor sends (its webhook payloads,
reference §5), one schema per type. Unknown fields are refused, so a typo is a 400, not a silently dropped field."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, post_load, validate

from app.api.webhooks.schemas import StrictBoolean

NAME_MAX = 255
URL_MAX = 2048
TEXT_MAX = 4096
LIST_MAX = 100
BIG = 2**53  # the largest integer every JSON reader keeps exactly
SCANNING = ("SCANNING_COMPLETED", "SCANNING_FAILED", "SCANNING_STOPPED")
QUOTA = ("QUOTA_EXCEED", "QUOTA_WARNING")
PUBLISHABLE = (*SCANNING, *QUOTA, "REPLICATION", "TAG_RETENTION")
IDEMPOTENCY_KEY_MAX = 255


def _text(maximum: int = NAME_MAX, minimum: int = 0, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(min=minimum, max=maximum), **kwargs)


def _count(**kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=0, max=BIG), **kwargs)


class Strict(Schema):
    class Meta:
        unknown = RAISE


class ResourceSchema(Strict):
    digest = _text(metadata={"example": "sha256:6e0801e933911f55adeb296638b421b3365c8d9b85dff219f74eb2d5d52add99"})
    tag = _text(metadata={"example": "3.19"})
    resource_url = _text(URL_MAX, metadata={"example": "harbor.example.com/library/alpine:3.19"})
    scan_overview = fields.Dict(
        keys=_text(),
        values=fields.Dict(),
        metadata={"description": "report summaries keyed by report MIME type, as Harbor's scanners give them"},
    )
    sbom_overview = fields.Dict(keys=_text(), metadata={"description": "SBOM summary (sbom scans)"})


class RepositorySchema(Strict):
    date_created = _count(metadata={"description": "unix seconds"})
    name = _text(minimum=1, required=True, metadata={"example": "alpine"})
    namespace = _text(metadata={"description": "the project's name; must be the event's project"})
    repo_full_name = _text(metadata={"description": "project/name; must be in the event's project"})
    repo_type = fields.String(validate=validate.OneOf(["public", "private"]))


class ScanSchema(Strict):
    scan_type = fields.String(required=True, validate=validate.OneOf(["vulnerability", "sbom"]))


class ScanDataSchema(Strict):
    resources = fields.List(fields.Nested(ResourceSchema), required=True, validate=validate.Length(min=1, max=LIST_MAX))
    repository = fields.Nested(RepositorySchema, required=True)
    scan = fields.Nested(ScanSchema)


class QuotaDataSchema(Strict):
    resources = fields.List(fields.Nested(ResourceSchema), validate=validate.Length(max=LIST_MAX))
    repository = fields.Nested(RepositorySchema, required=True)
    custom_attributes = fields.Dict(
        keys=_text(),
        values=_text(TEXT_MAX),
        required=True,
        metadata={"description": 'Harbor sends {"Details": "<what was exceeded or reached>"}'},
    )


class RegistrySideSchema(Strict):
    registry_type = _text()
    registry_name = _text()
    endpoint = _text(URL_MAX)
    namespace = _text()


class ReplicatedArtifactSchema(Strict):
    type = _text()
    status = _text()
    name_tag = _text()
    references = fields.List(_text(), validate=validate.Length(max=LIST_MAX))
    fail_reason = _text(TEXT_MAX)


class ReplicationSchema(Strict):
    harbor_hostname = _text()
    job_status = _text(minimum=1, required=True)
    description = _text(TEXT_MAX)
    artifact_type = _text()
    authentication_type = _text()
    override_mode = StrictBoolean()
    trigger_type = _text()
    policy_creator = _text()
    execution_timestamp = _count()
    src_resource = fields.Nested(RegistrySideSchema)
    dest_resource = fields.Nested(RegistrySideSchema)
    successful_artifact = fields.List(fields.Nested(ReplicatedArtifactSchema), validate=validate.Length(max=LIST_MAX))
    failed_artifact = fields.List(fields.Nested(ReplicatedArtifactSchema), validate=validate.Length(max=LIST_MAX))
    execution_id = _count()
    task_id = _count()


class ReplicationDataSchema(Strict):
    replication = fields.Nested(ReplicationSchema, required=True)


class RetentionRuleSchema(Strict):
    template = _text()
    params = fields.Dict(keys=_text())
    tag_selectors = fields.List(fields.Dict(keys=_text()), validate=validate.Length(max=LIST_MAX))
    scope_selectors = fields.Dict(keys=_text())


class DeletedArtifactSchema(Strict):
    type = _text()
    status = _text()
    name_tag = _text()


class RetentionSchema(Strict):
    total = _count()
    retained = _count()
    harbor_hostname = _text()
    project_name = _text(metadata={"description": "must be the event's project"})
    retention_policy_id = _count()
    retention_rule = fields.List(fields.Nested(RetentionRuleSchema), validate=validate.Length(max=LIST_MAX))
    result = _text()
    deleted_artifact = fields.List(fields.Nested(DeletedArtifactSchema), validate=validate.Length(max=LIST_MAX))


class RetentionDataSchema(Strict):
    retention = fields.Nested(RetentionSchema, required=True)


# The event_data schema of each publishable type.
DATA_SCHEMAS: dict[str, type[Schema]] = {
    **dict.fromkeys(SCANNING, ScanDataSchema),
    **dict.fromkeys(QUOTA, QuotaDataSchema),
    "REPLICATION": ReplicationDataSchema,
    "TAG_RETENTION": RetentionDataSchema,
}

EXAMPLE = {
    "type": "SCANNING_COMPLETED",
    "project": "library",
    "operator": "trivy",
    "event_data": {
        "resources": [
            {
                "digest": "sha256:6e0801e933911f55adeb296638b421b3365c8d9b85dff219f74eb2d5d52add99",
                "tag": "3.19",
                "resource_url": "harbor.example.com/library/alpine:3.19",
                "scan_overview": {
                    "application/vnd.security.vulnerability.report; version=1.1": {
                        "scan_status": "Success",
                        "severity": "High",
                        "summary": {"total": 3, "fixable": 2, "summary": {"High": 1, "Medium": 2}},
                    }
                },
            }
        ],
        "repository": {"name": "alpine", "namespace": "library", "repo_full_name": "library/alpine"},
        "scan": {"scan_type": "vulnerability"},
    },
}


class PublishBodySchema(Strict):
    type = fields.String(
        required=True,
        validate=validate.OneOf(PUBLISHABLE),
        metadata={"description": f"one of {', '.join(PUBLISHABLE)}"},
    )
    project = fields.String(
        required=True,
        validate=validate.Length(min=1, max=NAME_MAX),
        metadata={"description": "the project's name or id; the caller needs permission to publish there"},
    )
    operator = _text(
        allow_none=True, metadata={"description": "who or what caused the event; default: the caller's name"}
    )
    occur_at = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=0, max=253402300799),
        metadata={"description": "unix seconds; default: now"},
    )
    event_data = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(metadata={"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]}),
        required=True,
        metadata={
            "description": "Harbor's event_data for the type (resources, repository, scan, custom_attributes, "
            "replication or retention), checked field by field"
        },
    )

    @post_load
    def _event_data_fits_the_type(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        try:
            data["event_data"] = DATA_SCHEMAS[data["type"]]().load(data["event_data"])
        except ValidationError as exc:
            raise ValidationError({"event_data": exc.messages}) from None
        return data


class PublishedSchema(Schema):
    event_id = fields.Integer(metadata={"description": "the event's id (the same for a re-send with the same key)"})
    hook_jobs = fields.Integer(metadata={"description": "hook jobs made for it (policies and targets that took it)"})
    duplicate = fields.Boolean(metadata={"description": "true: a re-send with a used Idempotency-Key; nothing new"})


class PublishHeadersSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    idempotency_key = fields.String(
        data_key="Idempotency-Key",
        validate=validate.Regexp(r"^[\x21-\x7e]{1,255}\Z", error="must be 1 to 255 visible ASCII characters"),
        metadata={
            "description": "optional; a publish repeating a key already used in the project records nothing and "
            "answers the first event"
        },
    )
