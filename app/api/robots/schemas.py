"""Robot account JSON, Harbor 2.x field names (Robot, RobotCreate, RobotCreated, RobotSec, RobotPermission)."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, post_load, validate

from app.api.paging import PageArgs, q_field, sort_field
from app.services import passwords, robots
from app.services.robots import RobotInput

MAX_PERMISSIONS = 100
MAX_ACCESS = 64
SECRET = validate.Length(min=1, max=passwords.MAX_PASSWORD_LENGTH)


class AccessSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    resource = fields.String(required=True, validate=validate.Length(max=64))
    action = fields.String(required=True, validate=validate.Length(max=32))
    effect = fields.String(load_default="allow", validate=validate.OneOf(["allow"]))


class PermissionSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    kind = fields.String(required=True, validate=validate.Length(max=32), metadata={"description": "project"})
    namespace = fields.String(
        required=True, validate=validate.Length(min=1, max=255), metadata={"description": 'a project name, or "*"'}
    )
    access = fields.List(fields.Nested(AccessSchema), required=True, validate=validate.Length(max=MAX_ACCESS))


class RobotSchema(Schema):
    id = fields.Integer()
    name = fields.String(attribute="full_name")
    description = fields.String()
    level = fields.String()
    duration = fields.Integer()
    editable = fields.Boolean(dump_default=True)
    disable = fields.Boolean(attribute="disabled")
    expires_at = fields.Integer()
    permissions = fields.List(fields.Nested(PermissionSchema))
    creator = fields.String()
    creation_time = fields.DateTime()
    update_time = fields.DateTime()


class RobotBodySchema(Schema):
    """RobotCreate (POST) and Robot (PUT): the writable fields."""

    class Meta:
        unknown = EXCLUDE

    name = fields.String(required=True, validate=validate.Length(min=1, max=robots.MAX_NAME + 256))
    description = fields.String(load_default="", validate=validate.Length(max=1024))
    level = fields.String(required=True, validate=validate.OneOf(["system", "project"]))
    disable = fields.Boolean(load_default=False)
    duration = fields.Integer(
        load_default=-1,
        validate=validate.Range(min=-1, max=robots.MAX_DURATION_DAYS),
        metadata={"description": "days; -1: never expires"},
    )
    secret = fields.String(
        load_default=None,
        load_only=True,
        validate=SECRET,
        metadata={"description": "optional: your own secret (8+ characters, upper, lower, digit)"},
    )
    permissions = fields.List(
        fields.Nested(PermissionSchema), required=True, validate=validate.Length(min=1, max=MAX_PERMISSIONS)
    )

    @post_load
    def typed(self, data: dict[str, Any], **_: Any) -> RobotInput:
        return RobotInput(
            name=data["name"],
            level=data["level"],
            permissions=data["permissions"],
            duration=data["duration"],
            description=data["description"],
            disable=data["disable"],
            secret=data["secret"],
        )


class RobotCreatedSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    secret = fields.String(metadata={"description": "shown this once; Dockhook keeps only its hash"})
    creation_time = fields.DateTime()
    expires_at = fields.Integer()


class RobotSecretSchema(Schema):
    secret = fields.String(
        load_default=None, validate=SECRET, metadata={"description": "absent: Dockhook generates one"}
    )


class RobotListArgs(PageArgs):
    q = q_field(robots.QUERY_KEYS)
    sort = sort_field(robots.QUERY_KEYS)
