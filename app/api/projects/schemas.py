"""Project and repository JSON, Harbor 2.x field names."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from app.api.paging import PageArgs, q_field, sort_field
from app.services import projects, repositories


class TrueFalse(fields.Field[bool]):
    """Harbor keeps project metadata as strings: ``"true"`` or ``"false"``; a JSON boolean is taken too."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValidationError('Not "true" or "false".')


class ProjectMetadataSchema(Schema):
    """Harbor's ProjectMetadata; Dockhook keeps ``public`` only (other keys are accepted and ignored)."""

    class Meta:
        unknown = EXCLUDE

    public = TrueFalse(metadata={"oneOf": [{"type": "string", "enum": ["true", "false"]}, {"type": "boolean"}]})


class ProjectCreateSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    project_name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    public = fields.Boolean(load_default=False)
    metadata = fields.Nested(ProjectMetadataSchema, load_default=dict)


class ProjectUpdateSchema(Schema):
    """Harbor's ProjectReq for an update: ``metadata.public`` (or the deprecated ``public``); a name is ignored."""

    class Meta:
        unknown = EXCLUDE

    public = fields.Boolean(load_default=None, allow_none=True, metadata={"description": "metadata.public wins"})
    metadata = fields.Nested(ProjectMetadataSchema, load_default=dict)


class ProjectSchema(Schema):
    project_id = fields.Integer(attribute="id")
    name = fields.String()
    metadata = fields.Dict(keys=fields.String(), values=fields.String())
    repo_count = fields.Integer()
    creation_time = fields.DateTime()
    update_time = fields.DateTime()


class ProjectListArgs(PageArgs):
    q = q_field(projects.QUERY_KEYS)
    sort = sort_field(projects.QUERY_KEYS)
    name = fields.String(load_default=None, metadata={"description": "a part of the name"})
    public = fields.Boolean(load_default=None, allow_none=True)


class ProjectHeadArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    project_name = fields.String(required=True, validate=validate.Length(min=1, max=255))


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
    q = q_field(repositories.QUERY_KEYS)
    sort = sort_field(repositories.QUERY_KEYS)
    name = fields.String(load_default=None, metadata={"description": "a part of the full name"})
