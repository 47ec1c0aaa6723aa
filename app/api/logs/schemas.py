"""Access-log JSON: Harbor 2.x audit-log fields plus the 1.x access-log ones."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from app.api.paging import PageArgs
from app.services.access_logs import OPERATIONS


class AccessLogSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    resource = fields.Method("_resource")
    resource_type = fields.Constant("artifact")
    operation = fields.String()
    op_time = fields.DateTime()
    project_id = fields.Integer()
    repo_name = fields.String()
    repo_tag = fields.String()
    digest = fields.String()
    user_agent = fields.String()
    registry_event_id = fields.String()

    def _resource(self, row: Any) -> str:
        if row.repo_tag:
            return f"{row.repo_name}:{row.repo_tag}"
        if row.digest:
            return f"{row.repo_name}@{row.digest}"
        return str(row.repo_name)


class AccessLogListArgs(PageArgs):
    operation = fields.String(load_default=None, validate=validate.OneOf(OPERATIONS))
    repository = fields.String(load_default=None)
