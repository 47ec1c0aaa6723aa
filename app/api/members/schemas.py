"""Project member JSON, Harbor 2.x field names (ProjectMemberEntity, ProjectMember, RoleRequest)."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from app.api.paging import MAX_ID, MAX_TEXT_ARGUMENT, PageArgs
from app.services import roles

ROLE = validate.OneOf(sorted(roles.ROLE_NAMES))
ROLE_DOC = {"description": "1 projectAdmin, 2 developer, 3 guest, 4 maintainer, 5 limitedGuest"}


class MemberSchema(Schema):
    id = fields.Integer()
    project_id = fields.Integer()
    entity_name = fields.String()
    role_name = fields.String()
    role_id = fields.Integer()
    entity_id = fields.Integer()
    entity_type = fields.String(metadata={"description": "u: a user (Dockhook has no groups)"})


class MemberUserSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    user_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_ID))
    username = fields.String(load_default=None, validate=validate.Length(min=1, max=255))


class MemberCreateSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    role_id = fields.Integer(required=True, validate=ROLE, metadata=ROLE_DOC)
    member_user = fields.Nested(MemberUserSchema, required=True)


class RoleSchema(Schema):
    role_id = fields.Integer(required=True, validate=ROLE, metadata=ROLE_DOC)


class MemberListArgs(PageArgs):
    entityname = fields.String(load_default=None, validate=validate.Length(max=MAX_TEXT_ARGUMENT))
