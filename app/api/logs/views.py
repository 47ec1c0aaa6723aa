"""The access log: ``/api/v2.0/projects/{project_name}/logs`` (one project's) and ``/api/v2.0/audit-logs``
(every project's the caller may see, in Harbor's AuditLog shape); ``/api/v2.0/audit-log-exts``: who changed
which account, project member or robot."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.api import auth, paging
from app.api.base import RESOURCE_NAME_PARAMETER, HarborBlueprint, project
from app.api.logs.schemas import (
    AccessLogListArgs,
    AccessLogSchema,
    AuditLogExtListArgs,
    AuditLogExtSchema,
    AuditLogListArgs,
    AuditLogSchema,
)
from app.services import access, access_logs, audit

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
        """The access log of every project whose log the caller may list (Harbor's ListAuditLogs), newest first
        unless ``sort`` says."""
        principal = auth.current()
        within = None if principal.sysadmin else access.project_ids_where(principal, "log", "list")
        rows, total = access_logs.page(
            None, args["page"], args["page_size"], q=args["q"], sort=args["sort"], project_ids=within
        )
        return rows, paging.headers(total, args["page"], args["page_size"])


@blp.route("/audit-log-exts")
class AuditLogExts(MethodView):
    @blp.arguments(AuditLogExtListArgs, location="query")
    @blp.response(200, AuditLogExtSchema(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """Who created, changed or deleted which account, project member or robot, and when (system
        administrators only), newest first unless ``sort`` says."""
        rows, total = audit.page(args["page"], args["page_size"], q=args["q"], sort=args["sort"])
        return rows, paging.headers(total, args["page"], args["page_size"])
