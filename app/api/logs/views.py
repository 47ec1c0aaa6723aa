"""The access log: ``/api/v2.0/projects/{project_name}/logs`` (one project's) and ``/api/v2.0/audit-logs``
(every project's, in Harbor's AuditLog shape)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.api import paging
from app.api.base import RESOURCE_NAME_PARAMETER, HarborBlueprint, project
from app.api.logs.schemas import AccessLogListArgs, AccessLogSchema, AuditLogListArgs, AuditLogSchema
from app.services import access_logs

blp = HarborBlueprint("logs", __name__, url_prefix="/api/v2.0", description="Access log")


@blp.route("/projects/<project_name>/logs", parameters=[RESOURCE_NAME_PARAMETER])
class Logs(MethodView):
    @blp.arguments(AccessLogListArgs, location="query")
    @blp.response(200, AccessLogSchema(many=True))
    @blp.alt_response(404, description="Unknown project")
    def get(self, args: dict[str, Any], project_name: str) -> Any:
        """The project's access log, newest first unless ``sort`` says; filter by ``operation``, ``repository``
        and ``q``."""
        rows, total = access_logs.page(
            project(project_name),
            args["page"],
            args["page_size"],
            args["operation"],
            args["repository"],
            q=args["q"],
            sort=args["sort"],
        )
        return rows, paging.headers(total, args["page"], args["page_size"])


@blp.route("/audit-logs")
class AuditLogs(MethodView):
    @blp.arguments(AuditLogListArgs, location="query")
    @blp.response(200, AuditLogSchema(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """Every project's access log (Harbor's ListAuditLogs), newest first unless ``sort`` says."""
        rows, total = access_logs.page(None, args["page"], args["page_size"], q=args["q"], sort=args["sort"])
        return rows, paging.headers(total, args["page"], args["page_size"])
