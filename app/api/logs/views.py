"""``/api/v2.0/projects/{project_name}/logs``: the project's access log."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.api import paging
from app.api.base import HarborBlueprint
from app.api.logs.schemas import AccessLogListArgs, AccessLogSchema
from app.services import access_logs, projects

blp = HarborBlueprint("logs", __name__, url_prefix="/api/v2.0/projects", description="Access log")


@blp.route("/<project_name>/logs")
class Logs(MethodView):
    @blp.arguments(AccessLogListArgs, location="query")
    @blp.response(200, AccessLogSchema(many=True))
    def get(self, args: dict[str, Any], project_name: str) -> Any:
        """The project's access log, newest first; filter by ``operation`` and ``repository``."""
        project = projects.get(project_name)
        rows, total = access_logs.page(project, args["page"], args["page_size"], args["operation"], args["repository"])
        return rows, paging.headers(total, args["page"], args["page_size"])
