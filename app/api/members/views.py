"""``/api/v2.0/projects/{project_name_or_id}/members``: who holds which role in a project (Harbor's shapes)."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView

from app.api import auth, paging
from app.api.base import ID, RESOURCE_NAME_PARAMETER, HarborBlueprint, created, project
from app.api.members.schemas import MemberCreateSchema, MemberListArgs, MemberSchema, RoleSchema
from app.models import ProjectMember, User
from app.services import members, roles, users
from app.services.errors import Invalid, NotFound

blp = HarborBlueprint(
    "members", __name__, url_prefix="/api/v2.0/projects/<project_name_or_id>/members", description="Project members"
)
NAMED = [RESOURCE_NAME_PARAMETER]


def shown(member: ProjectMember, user: User) -> dict[str, Any]:
    return {
        "id": member.id,
        "project_id": member.project_id,
        "entity_name": user.username,
        "role_name": roles.ROLE_NAMES.get(member.role_id, ""),
        "role_id": member.role_id,
        "entity_id": user.id,
        "entity_type": "u",
    }


@blp.route("", parameters=NAMED)
class Members(MethodView):
    @blp.arguments(MemberListArgs, location="query")
    @blp.response(200, MemberSchema(many=True))
    @blp.alt_response(404, description="Unknown project")
    def get(self, args: dict[str, Any], project_name_or_id: str) -> Any:
        """The project's members, oldest first; ``entityname`` matches a part of the name."""
        rows, total = members.page(project(project_name_or_id), args["page"], args["page_size"], args["entityname"])
        return [shown(m, u) for m, u in rows], paging.headers(total, args["page"], args["page_size"])

    @blp.arguments(MemberCreateSchema)
    @blp.response(201, description="Created; ``Location`` names the membership; no body")
    @blp.alt_response(400, description="No user named, or an unknown role")
    @blp.alt_response(404, description="Unknown project or user")
    @blp.alt_response(409, description="The user is a member already")
    def post(self, body: dict[str, Any], project_name_or_id: str) -> Any:
        """Make a user a member with a role (``member_user`` by ``user_id`` or ``username``)."""
        named = body["member_user"]
        if named["user_id"] is not None:
            user = users.get(named["user_id"])
        elif named["username"] is not None:
            found = users.by_name(named["username"])
            if found is None:
                raise NotFound(f"user {named['username']} not found")
            user = found
        else:
            raise Invalid("member_user: give user_id or username")
        member = members.add(project(project_name_or_id), user, body["role_id"], operator=auth.current().name)
        return created(f"{request.path.rstrip('/')}/{member.id}")


@blp.route(f"/<{ID}:mid>", parameters=NAMED)
class Member(MethodView):
    @blp.response(200, MemberSchema)
    @blp.alt_response(404, description="Unknown project, or no such member in it")
    def get(self, project_name_or_id: str, mid: int) -> Any:
        """One membership."""
        return shown(*members.get(project(project_name_or_id), mid))

    @blp.arguments(RoleSchema)
    @blp.response(200, description="Changed; no body")
    @blp.alt_response(404, description="Unknown project, or no such member in it")
    def put(self, body: dict[str, Any], project_name_or_id: str, mid: int) -> Any:
        """Give the member another role."""
        members.change_role(project(project_name_or_id), mid, body["role_id"], operator=auth.current().name)
        return Response(status=200)

    @blp.response(200, description="Removed; no body")
    @blp.alt_response(404, description="Unknown project, or no such member in it")
    def delete(self, project_name_or_id: str, mid: int) -> Any:
        """Remove the member from the project."""
        members.remove(project(project_name_or_id), mid, operator=auth.current().name)
        return Response(status=200)
