"""Project and repository JSON, Harbor 2.x field names."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from app.api.paging import PageArgs


class ProjectCreateSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    project_name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    public = fields.Boolean(load_default=False)
    metadata = fields.Dict(keys=fields.String(), values=fields.Raw(), load_default=dict)


class ProjectSchema(Schema):
    project_id = fields.Integer(attribute="id")
    name = fields.String()
    metadata = fields.Dict(keys=fields.String(), values=fields.String())
    repo_count = fields.Integer()
    creation_time = fields.DateTime()
    update_time = fields.DateTime()


class ProjectListArgs(PageArgs):
    name = fields.String(load_default=None)


class RepositorySchema(Schema):
    id = fields.Integer()
    project_id = fields.Integer()
    name = fields.String()
    artifact_count = fields.Integer()
    pull_count = fields.Integer()
    push_count = fields.Integer()
    last_push_time = fields.DateTime(allow_none=True)
    last_pull_time = fields.DateTime(allow_none=True)
    creation_time = fields.DateTime()
    update_time = fields.DateTime()


class RepositoryListArgs(PageArgs):
    name = fields.String(load_default=None)
