"""``/api/v2.0/robots``: robot accounts, system or project level (Harbor 2.x)."""

from __future__ import annotations

from typing import Any

from flask import Response, url_for
from flask.views import MethodView

from app.api import auth, paging
from app.api.base import ID, HarborBlueprint
from app.api.robots.schemas import (
    RobotBodySchema,
    RobotCreatedSchema,
    RobotListArgs,
    RobotSchema,
    RobotSecretSchema,
)
from app.services import robots
from app.services.robots import RobotInput

blp = HarborBlueprint("robots", __name__, url_prefix="/api/v2.0/robots", description="Robot accounts")


@blp.route("")
class Robots(MethodView):
    @blp.arguments(RobotListArgs, location="query")
    @blp.response(200, RobotSchema(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """The robots the caller may see (all for a system administrator; a project's for who may list its
        robots), oldest first unless ``sort`` says; ``q=Level=project,ProjectID=1`` as Harbor's UI asks."""
        rows, total = robots.page(auth.current(), args["page"], args["page_size"], q=args["q"], sort=args["sort"])
        return rows, paging.headers(total, args["page"], args["page_size"])

    @blp.arguments(RobotBodySchema)
    @blp.response(201, RobotCreatedSchema, description="Created; the secret is shown this once")
    @blp.alt_response(400, description="Invalid name, level, duration or permissions")
    @blp.alt_response(404, description="A permission names an unknown project")
    @blp.alt_response(409, description="A robot of this name exists")
    def post(self, body: RobotInput) -> Any:
        """Create a robot: system level (system administrators) or project level (who may create robots in
        the project, granting no more than they hold)."""
        robot, secret = robots.create(body, auth.current())
        shown = {
            "id": robot.id,
            "name": robot.full_name,
            "secret": secret,
            "creation_time": robot.creation_time,
            "expires_at": robot.expires_at,
        }
        return shown, 201, {"Location": url_for("robots.Robot", robot_id=robot.id)}


@blp.route(f"/<{ID}:robot_id>")
class Robot(MethodView):
    @blp.response(200, RobotSchema)
    @blp.alt_response(404, description="No such robot")
    def get(self, robot_id: int) -> Any:
        """One robot (never its secret)."""
        robot = robots.get(robot_id)
        robots.require_manage(robot, auth.current(), "read")
        return robot

    @blp.arguments(RobotBodySchema)
    @blp.response(200, description="Updated; no body")
    @blp.alt_response(400, description="Invalid, or a changed name or level")
    @blp.alt_response(404, description="No such robot")
    def put(self, body: RobotInput, robot_id: int) -> Any:
        """Change description, ``disable``, duration (the expiry counts from now) and permissions."""
        robot = robots.get(robot_id)
        robots.require_manage(robot, auth.current(), "update")
        robots.update(robot, body, auth.current())
        return Response(status=200)

    @blp.arguments(RobotSecretSchema)
    @blp.response(200, RobotSecretSchema, description="The new secret, shown this once")
    @blp.alt_response(400, description="A weak secret")
    @blp.alt_response(404, description="No such robot")
    def patch(self, body: dict[str, Any], robot_id: int) -> Any:
        """Refresh the secret: the one given, or a generated one (only generated secrets work as Bearer)."""
        robot = robots.get(robot_id)
        robots.require_manage(robot, auth.current(), "update")
        return {"secret": robots.refresh(robot, body["secret"], auth.current())}

    @blp.response(200, description="Deleted; no body")
    @blp.alt_response(404, description="No such robot")
    def delete(self, robot_id: int) -> Any:
        """Delete the robot; its secret stops working at once."""
        robot = robots.get(robot_id)
        robots.require_manage(robot, auth.current(), "delete")
        robots.delete(robot, auth.current())
        return Response(status=200)
