"""Access-log JSON: Harbor 2.x audit-log fields plus the 1.x access-log ones; Harbor's AuditLog as it is."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from app.api.paging import PageArgs, q_field, sort_field
from app.api.projects.schemas import REPOSITORY_NAME_MAX
from app.services import audit
from app.services.access_logs import OPERATIONS, QUERY_KEYS


def resource(row: Any) -> str:
    """``repo:tag``, else ``repo@digest``, else the repository (the ``resource`` key of ``q`` reads the same)."""
    if row.repo_tag:
        return f"{row.repo_name}:{row.repo_tag}"
    if row.digest:
        return f"{row.repo_name}@{row.digest}"
    return str(row.repo_name)


class AuditLogSchema(Schema):
    """Harbor's AuditLog."""

    id = fields.Integer()
    username = fields.String()
    resource = fields.Function(resource, metadata={"type": "string", "description": "repo:tag or repo@digest"})
    resource_type = fields.Constant("artifact", metadata={"type": "string"})
    operation = fields.String(metadata={"description": "push, pull or delete"})
    op_time = fields.DateTime()


class AccessLogSchema(AuditLogSchema):
    project_id = fields.Integer()
    repo_name = fields.String()
    repo_tag = fields.String()
    digest = fields.String()
    user_agent = fields.String()
    registry_event_id = fields.String(allow_none=True, metadata={"description": "null for an entry not from an event"})


class AuditLogListArgs(PageArgs):
    q = q_field(QUERY_KEYS)
    sort = sort_field(QUERY_KEYS)


class AccessLogListArgs(AuditLogListArgs):
    operation = fields.String(load_default=None, validate=validate.OneOf(OPERATIONS))
    repository = fields.String(
        load_default=None,
        validate=validate.Length(max=REPOSITORY_NAME_MAX),
        metadata={"description": "the full repository name"},
    )


class AuditLogExtSchema(Schema):
    """Harbor 2.13's AuditLogExt: a change to an account, a project member or a robot."""

    id = fields.Integer()
    operation = fields.String(metadata={"description": "create, update or delete"})
    operation_description = fields.String()
    operation_result = fields.Boolean()
    resource_type = fields.String(metadata={"description": "user, project_member or robot"})
    resource = fields.String()
    username = fields.String(metadata={"description": "who did it"})
    op_time = fields.DateTime()


class AuditLogExtListArgs(PageArgs):
    q = q_field(audit.QUERY_KEYS)
    sort = sort_field(audit.QUERY_KEYS)
