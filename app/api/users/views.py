"""``/api/v2.0/users``: local accounts, for system administrators; ``/users/current`` for anyone signed in."""

from __future__ import annotations

from typing import Any

from flask import Response, url_for
from flask.views import MethodView

from app.api import auth, paging
from app.api.base import ID, HarborBlueprint, created
from app.api.users.schemas import (
    PasswordSchema,
    SysadminFlagSchema,
    UserCreateSchema,
    UserListArgs,
    UserProfileSchema,
    UserSchema,
    UserSearchArgs,
    UserSearchSchema,
)
from app.services import access, passwords, users
from app.services.errors import Forbidden, Invalid, NotFound

blp = HarborBlueprint("users", __name__, url_prefix="/api/v2.0/users", description="Local accounts")


@blp.route("")
class Users(MethodView):
    @blp.arguments(UserListArgs, location="query")
    @blp.response(200, UserSchema(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """List accounts (system administrators only), oldest first unless ``sort`` says."""
        rows, total = users.page(
            args["page"], args["page_size"], q=args["q"], sort=args["sort"], username=args["username"]
        )
        return rows, paging.headers(total, args["page"], args["page_size"])

    @blp.arguments(UserCreateSchema)
    @blp.response(201, description="Created; ``Location`` names the account; no body")
    @blp.alt_response(400, description="Invalid name or weak password")
    @blp.alt_response(409, description="An account of this name exists")
    def post(self, body: dict[str, Any]) -> Any:
        """Create an account (system administrators only); the password is stored hashed (Argon2id), never shown."""
        user = users.create(
            body["username"],
            body["password"],
            sysadmin=body["sysadmin_flag"],
            email=body["email"],
            realname=body["realname"],
            comment=body["comment"],
            operator=auth.current().name,
        )
        return created(url_for("users.User", user_id=user.id))


@blp.route("/search")
class SearchUsers(MethodView):
    @blp.arguments(UserSearchArgs, location="query")
    @blp.response(200, UserSearchSchema(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """Accounts whose name contains ``username``: ids and names only, for anyone signed in (Harbor's member
        dialog asks so)."""
        rows, total = users.page(args["page"], args["page_size"], username=args["username"])
        return rows, paging.headers(total, args["page"], args["page_size"])


@blp.route("/current")
class CurrentUser(MethodView):
    @blp.response(200, UserSchema)
    @blp.alt_response(404, description="The caller is not an account (a robot or the API token)")
    def get(self) -> Any:
        """The account the request signed in as."""
        principal = auth.current()
        if principal.user_id is None:
            raise NotFound(f"{principal.name} is not a user account")
        return users.get(principal.user_id)


@blp.route(f"/<{ID}:user_id>")
class User(MethodView):
    @blp.response(200, UserSchema)
    @blp.alt_response(404, description="No such account")
    def get(self, user_id: int) -> Any:
        """One account."""
        return users.get(user_id)

    @blp.arguments(UserProfileSchema)
    @blp.response(200, description="Updated; no body")
    @blp.alt_response(404, description="No such account")
    def put(self, body: dict[str, Any], user_id: int) -> Any:
        """Change an account's email, real name or comment; what is absent is kept."""
        users.update_profile(users.get(user_id), **body, operator=auth.current().name)
        return Response(status=200)

    @blp.response(200, description="Deleted; no body")
    @blp.alt_response(404, description="No such account")
    def delete(self, user_id: int) -> Any:
        """Delete an account and its project memberships."""
        principal = auth.current()
        if principal.user_id == user_id:
            raise Forbidden("an account cannot delete itself")
        users.delete(users.get(user_id), operator=principal.name)
        return Response(status=200)


@blp.route(f"/<{ID}:user_id>/password")
class Password(MethodView):
    @blp.arguments(PasswordSchema)
    @blp.response(200, description="Changed; no body")
    @blp.alt_response(400, description="Weak new password, or the old password is wrong")
    @blp.alt_response(404, description="No such account")
    def put(self, body: dict[str, Any], user_id: int) -> Any:
        """Change a password: your own (with ``old_password``), or anyone's as a system administrator."""
        principal = auth.current()
        if principal.user_id != user_id:
            access.require_sysadmin(principal)
        user = users.get(user_id)
        if principal.user_id == user_id and not passwords.verify(user.password_hash, body["old_password"] or ""):
            raise Invalid("old_password: wrong")
        users.set_password(user, body["new_password"], operator=principal.name)
        return Response(status=200)


@blp.route(f"/<{ID}:user_id>/sysadmin")
class Sysadmin(MethodView):
    @blp.arguments(SysadminFlagSchema)
    @blp.response(200, description="Changed; no body")
    @blp.alt_response(404, description="No such account")
    def put(self, body: dict[str, Any], user_id: int) -> Any:
        """Make an account a system administrator, or not."""
        users.set_sysadmin(users.get(user_id), body["sysadmin_flag"], operator=auth.current().name)
        return Response(status=200)
