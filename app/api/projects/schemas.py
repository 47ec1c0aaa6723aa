"""Project and repository JSON, Harbor 2.x field names."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from app.api.paging import MAX_TEXT_ARGUMENT, PageArgs, q_field, sort_field
from app.naming import PROJECT_NAME_MAX, project_name_problem
from app.services import projects, repositories

# Harbor's project metadata: string values under short keys. Other keys than ``public`` are accepted and ignored.
METADATA_KEYS_MAX = 32
METADATA_KEY_MAX = 64
METADATA_VALUE_MAX = 256
# Repository names are paths of up to 255-character components; the column holds 512.
REPOSITORY_NAME_MAX = 512
PROJECT_NAME_DOC = {
    "minLength": 1,
    "maxLength": PROJECT_NAME_MAX,
    "pattern": r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$",
    "description": "Harbor's rule: 1-255 lower-case letters and digits, separated by single . _ or -; not all digits",
}


def _project_name(name: str) -> None:
    problem = project_name_problem(name)
    if problem is not None:
        raise ValidationError(problem)


def _true_false(value: Any) -> bool | None:
    """Harbor keeps project metadata as strings: ``"true"`` or ``"false"``; a JSON boolean is taken too; null is
    "not given"."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValidationError({"public": ['Not "true" or "false".']})


class ProjectMetadata(fields.Field[dict[str, Any]]):
    """Harbor's ProjectMetadata. Dockhook keeps ``public`` only; Harbor's other keys are accepted and ignored, but
    bounded like the kept one: at most 32 keys of at most 64 characters, each value a string of at most 256
    characters or null (not given). Loads as ``{"public": bool}``, or ``{}`` when it is not given."""

    def __init__(self, **kwargs: Any) -> None:
        doc = {
            "type": "object",
            "properties": {
                "public": {
                    "oneOf": [{"type": "string", "enum": ["true", "false"]}, {"type": "boolean"}],
                    "nullable": True,
                    "description": "null: not given",
                }
            },
            "additionalProperties": {"type": "string", "maxLength": METADATA_VALUE_MAX, "nullable": True},
            "maxProperties": METADATA_KEYS_MAX,
            "description": "Harbor's ProjectMetadata: public is kept; other keys (at most "
            f"{METADATA_KEY_MAX} characters) are accepted and ignored",
        }
        super().__init__(load_default=dict, metadata=doc, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ValidationError("Not an object.")
        if len(value) > METADATA_KEYS_MAX:
            raise ValidationError(f"at most {METADATA_KEYS_MAX} keys")
        for key, item in value.items():
            if len(key) > METADATA_KEY_MAX:
                raise ValidationError(f"a key has at most {METADATA_KEY_MAX} characters")
            if key != "public" and item is not None and not isinstance(item, str):
                raise ValidationError({key: ["Not a string (or null)."]})
            if key != "public" and item is not None and len(item) > METADATA_VALUE_MAX:
                raise ValidationError({key: [f"Longer than {METADATA_VALUE_MAX} characters."]})
        public = _true_false(value.get("public"))
        return {} if public is None else {"public": public}


class ProjectCreateSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    project_name = fields.String(
        required=True,
        validate=_project_name,
        metadata=PROJECT_NAME_DOC,
    )
    public = fields.Boolean(load_default=False)
    metadata = ProjectMetadata()


class ProjectUpdateSchema(Schema):
    """Harbor's ProjectReq for an update: ``metadata.public`` (or the deprecated ``public``); a name is ignored."""

    class Meta:
        unknown = EXCLUDE

    public = fields.Boolean(load_default=None, allow_none=True, metadata={"description": "metadata.public wins"})
    metadata = ProjectMetadata()


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
    name = fields.String(
        load_default=None,
        validate=validate.Length(max=MAX_TEXT_ARGUMENT),
        metadata={"description": "a part of the name"},
    )
    public = fields.Boolean(load_default=None, allow_none=True)


class ProjectHeadArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    project_name = fields.String(required=True, validate=validate.Length(min=1, max=PROJECT_NAME_MAX))


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
    name = fields.String(
        load_default=None,
        validate=validate.Length(max=REPOSITORY_NAME_MAX),
        metadata={"description": "a part of the full name"},
    )
