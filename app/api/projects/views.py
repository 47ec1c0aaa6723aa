"""``/api/v2.0/projects``: list, create and read projects; list a project's repositories."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView

from app.api import paging
from app.api.base import HarborBlueprint
from app.api.projects.schemas import (
    ProjectCreateSchema,
    ProjectListArgs,
    ProjectSchema,
    RepositoryListArgs,
    RepositorySchema,
)
from app.services import projects, repositories

blp = HarborBlueprint("projects", __name__, url_prefix="/api/v2.0/projects", description="Projects and repositories")


def _with_count(project: Any, repo_count: int) -> dict[str, Any]:
    return {
        **_columns(project),
        # Harbor keeps project metadata as strings.
        "metadata": {"public": "true" if project.public else "false"},
        "repo_count": repo_count,
    }


@blp.route("")
class Projects(MethodView):
    @blp.arguments(ProjectListArgs, location="query")
    @blp.response(200, ProjectSchema(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """List projects (paged)."""
        rows, total = projects.page(args["page"], args["page_size"], args["name"])
        return [_with_count(p, n) for p, n in rows], paging.headers(total, args["page"], args["page_size"])

    @blp.arguments(ProjectCreateSchema)
    @blp.response(201)
    @blp.alt_response(409, description="A project with this name exists")
    def post(self, body: dict[str, Any]) -> Any:
        """Create a project; ``Location`` names it."""
        public = body["public"] or str(body["metadata"].get("public", "")).lower() == "true"
        project = projects.create(body["project_name"], public)
        return "", 201, {"Location": url_for("projects.Project", project_name_or_id=project.id)}


@blp.route("/<project_name_or_id>")
class Project(MethodView):
    @blp.response(200, ProjectSchema)
    def get(self, project_name_or_id: str) -> Any:
        """Read one project, by name or numeric id."""
        project = projects.get(project_name_or_id)
        return _with_count(project, repositories.page(project, 1, 1)[1])


@blp.route("/<project_name>/repositories")
class Repositories(MethodView):
    @blp.arguments(RepositoryListArgs, location="query")
    @blp.response(200, RepositorySchema(many=True))
    def get(self, args: dict[str, Any], project_name: str) -> Any:
        """List a project's repositories with pull and push counts (paged)."""
        project = projects.get(project_name)
        rows, total = repositories.page(project, args["page"], args["page_size"], args["name"])
        items = [{**_columns(r), "artifact_count": n} for r, n in rows]
        return items, paging.headers(total, args["page"], args["page_size"])


def _columns(row: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}
