"""``/api/v2.0/notifications/rejected``: the registry events the receiver kept aside, newest first."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.api import paging
from app.api.base import ID, HarborBlueprint
from app.api.rejected.schemas import RejectedListArgs, RejectedNotificationSchema
from app.services import rejected

blp = HarborBlueprint(
    "rejected", __name__, url_prefix="/api/v2.0", description="Registry events the receiver kept aside"
)


@blp.route("/notifications/rejected")
class RejectedNotifications(MethodView):
    @blp.arguments(RejectedListArgs, location="query")
    @blp.response(200, RejectedNotificationSchema(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """Registry events that could not be recorded (an over-long field, a bad project name, an unknown project
        while projects are not created on first sight...), each with its reason, newest first unless ``sort``
        says. The registry got its 200 for them: they are kept here instead."""
        rows, total = rejected.page(args["page"], args["page_size"], q=args["q"], sort=args["sort"])
        return rows, paging.headers(total, args["page"], args["page_size"])


@blp.route(f"/notifications/rejected/<{ID}:rejected_id>")
class RejectedNotification(MethodView):
    @blp.response(200, RejectedNotificationSchema)
    @blp.alt_response(404, description="No such rejected notification")
    def get(self, rejected_id: int) -> Any:
        """One rejected registry event."""
        return rejected.get(rejected_id)
