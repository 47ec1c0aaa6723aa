"""``/api/v2.0/projects``: list, create, check, read, update and delete projects; a project's repositories."""

from __future__ import annotations

from typing import Any

from flask import Response, url_for
from flask.views import MethodView

from app.api import auth, paging
from app.api.base import RESOURCE_NAME_PARAMETER, HarborBlueprint, created, project
from app.api.projects.schemas import (
    ProjectCreateSchema,
    ProjectHeadArgs,
    ProjectListArgs,
    ProjectSchema,
    ProjectUpdateSchema,
    RepositoryListArgs,
    RepositorySchema,
)
from app.services import access, projects, repositories
from app.services.errors import Forbidden

blp = HarborBlueprint("projects", __name__, url_prefix="/api/v2.0/projects", description="Projects and repositories")


def _with_count(row: Any, repo_count: int) -> dict[str, Any]:
    return {
        **_columns(row),
        # Harbor keeps project metadata as strings.
        "metadata": {"public": "true" if row.public else "false"},
        "repo_count": repo_count,
    }


@blp.route("")
class Projects(MethodView):
    @blp.arguments(ProjectListArgs, location="query")
    @blp.response(200, ProjectSchema(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """List the projects the caller may see (public ones, and those it is a member of or a robot of), oldest
        first unless ``sort`` says; ``name`` matches a part of the name."""
        rows, total = projects.page(
            args["page"],
            args["page_size"],
            args["name"],
            public=args["public"],
            q=args["q"],
            sort=args["sort"],
            visible=access.projects_where(auth.current(), "project", "read"),
        )
        return [_with_count(p, n) for p, n in rows], paging.headers(total, args["page"], args["page_size"])

    @blp.arguments(ProjectHeadArgs, location="query")
    @blp.response(200, description="The project exists")
    @blp.alt_response(404, description="No project of that name")
    def head(self, args: dict[str, Any]) -> Any:
        """Whether a project of that name exists (Harbor's HeadProject)."""
        if projects.by_name(args["project_name"]) is None:
            return Response(status=404)
        return Response(status=200)

    @blp.arguments(ProjectCreateSchema)
    @blp.response(201, description="Created; ``Location`` names the project; no body")
    @blp.alt_response(409, description="A project with this name exists")
    def post(self, body: dict[str, Any]) -> Any:
        """Create a project; ``Location`` names it. An account that creates one becomes its projectAdmin;
        robots may not create projects."""
        principal = auth.current()
        if principal.is_robot:
            raise Forbidden("a robot account cannot create projects")
        public = body["public"] or body["metadata"].get("public") is True
        row = projects.create(body["project_name"], public, owner_user_id=principal.user_id)
        return created(url_for("projects.Project", project_name_or_id=row.id))


@blp.route("/<project_name_or_id>", parameters=[RESOURCE_NAME_PARAMETER])
class Project(MethodView):
    @blp.response(200, ProjectSchema)
    @blp.alt_response(404, description="Unknown project")
    def get(self, project_name_or_id: str) -> Any:
        """Read one project, by name or numeric id."""
        row = project(project_name_or_id)
        return _with_count(row, repositories.count(row))

    @blp.arguments(ProjectUpdateSchema)
    @blp.response(200, description="Updated; no body")
    @blp.alt_response(404, description="Unknown project")
    def put(self, body: dict[str, Any], project_name_or_id: str) -> Any:
        """Update the project's settings: ``metadata.public`` (or ``public``); what is absent is kept."""
        public = body["metadata"].get("public", body["public"])
        projects.update(project(project_name_or_id), public)
        return Response(status=200)

    @blp.response(200, description="Deleted; no body")
    @blp.alt_response(404, description="Unknown project")
    @blp.alt_response(412, description="The project still has repositories or webhook policies")
    def delete(self, project_name_or_id: str) -> Any:
        """Delete the project with its access log and hook-job history; refused (412) while it has repositories
        or webhook policies."""
        projects.delete(project(project_name_or_id))
        return Response(status=200)


@blp.route("/<project_name>/repositories", parameters=[RESOURCE_NAME_PARAMETER])
class Repositories(MethodView):
    @blp.arguments(RepositoryListArgs, location="query")
    @blp.response(200, RepositorySchema(many=True))
    @blp.alt_response(404, description="Unknown project")
    def get(self, args: dict[str, Any], project_name: str) -> Any:
        """List a project's repositories with pull and push counts (paged), most recently updated first unless
        ``sort`` says."""
        rows, total = repositories.page(
            project(project_name), args["page"], args["page_size"], args["name"], q=args["q"], sort=args["sort"]
        )
        items = [{**_columns(r), "artifact_count": n} for r, n in rows]
        return items, paging.headers(total, args["page"], args["page_size"])


@blp.route("/<project_name>/repositories/<path:repository_name>", parameters=[RESOURCE_NAME_PARAMETER])
class Repository(MethodView):
    @blp.response(200, RepositorySchema)
    @blp.alt_response(404, description="Unknown project, or no such repository in it")
    def get(self, project_name: str, repository_name: str) -> Any:
        """One repository: its name without the project (``a/b`` of ``project/a/b``); a ``/`` in it may be sent
        as ``%2F`` or, as Harbor asks, encoded twice (``%252F``)."""
        name = repository_name.replace("%2F", "/").replace("%2f", "/")
        row, artifact_count = repositories.get(project(project_name), name)
        return {**_columns(row), "artifact_count": artifact_count}


def _columns(row: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}
