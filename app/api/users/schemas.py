"""User JSON, Harbor 2.x field names (UserResp, UserCreationReq, UserProfile, PasswordReq, UserSysAdminFlag)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.api.paging import MAX_TEXT_ARGUMENT, PageArgs, q_field, sort_field
from app.services import passwords, users

TEXT = validate.Length(max=255)
PASSWORD = validate.Length(max=passwords.MAX_PASSWORD_LENGTH)


class UserSchema(Schema):
    user_id = fields.Integer(attribute="id")
    username = fields.String()
    email = fields.String()
    realname = fields.String()
    comment = fields.String()
    sysadmin_flag = fields.Boolean()
    admin_role_in_auth = fields.Boolean(dump_default=False)
    creation_time = fields.DateTime()
    update_time = fields.DateTime()


class UserCreateSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=255))
    password = fields.String(required=True, load_only=True, validate=PASSWORD)
    email = fields.String(load_default="", validate=TEXT)
    realname = fields.String(load_default="", validate=TEXT)
    comment = fields.String(load_default="", validate=validate.Length(max=1024))
    sysadmin_flag = fields.Boolean(load_default=False)


class UserProfileSchema(Schema):
    email = fields.String(load_default=None, validate=TEXT)
    realname = fields.String(load_default=None, validate=TEXT)
    comment = fields.String(load_default=None, validate=validate.Length(max=1024))


class PasswordSchema(Schema):
    old_password = fields.String(load_default=None, load_only=True, validate=PASSWORD)
    new_password = fields.String(required=True, load_only=True, validate=PASSWORD)


class SysadminFlagSchema(Schema):
    sysadmin_flag = fields.Boolean(required=True)


class UserListArgs(PageArgs):
    q = q_field(users.QUERY_KEYS)
    sort = sort_field(users.QUERY_KEYS)
    username = fields.String(load_default=None, validate=validate.Length(max=MAX_TEXT_ARGUMENT))


class UserSearchSchema(Schema):
    """Harbor's UserSearchRespItem: only the id and the name."""

    user_id = fields.Integer(attribute="id")
    username = fields.String()


class UserSearchArgs(PageArgs):
    username = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TEXT_ARGUMENT))
