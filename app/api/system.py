"""Harbor's ``/api/v2.0/ping`` and ``/api/v2.0/health``: answered without credentials, as Harbor answers them."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from app.api.base import HarborBlueprint
from app.extensions import current_settings
from app.services import health

blp = HarborBlueprint(
    "system",
    __name__,
    url_prefix="/api/v2.0",
    description="Harbor's liveness (ping) and per-component health; no credentials needed (app/api/auth.py).",
)

HEALTHY, UNHEALTHY = "healthy", "unhealthy"


class ComponentHealthSchema(Schema):
    name = fields.String(
        required=True, metadata={"description": "core, database, redis, worker (RQ workers) or sweeper"}
    )
    status = fields.String(required=True, validate=validate.OneOf([HEALTHY, UNHEALTHY]))
    error = fields.String(metadata={"description": "why the component is unhealthy (absent when healthy)"})


class OverallHealthSchema(Schema):
    """Harbor's OverallHealthStatus: unhealthy when any component is."""

    status = fields.String(required=True, validate=validate.OneOf([HEALTHY, UNHEALTHY]))
    components = fields.List(fields.Nested(ComponentHealthSchema), required=True)


HEALTH_EXAMPLE = {
    "status": UNHEALTHY,
    "components": [
        {"name": "core", "status": HEALTHY},
        {"name": "database", "status": HEALTHY},
        {"name": "redis", "status": HEALTHY},
        {"name": "worker", "status": HEALTHY},
        {"name": "sweeper", "status": UNHEALTHY, "error": "no sweeper has sent a heartbeat in the last 30 s"},
    ],
}


@blp.route("/ping")
class Ping(MethodView):
    @blp.doc(
        security=[],
        responses={
            "200": {"description": "Pong", "content": {"text/plain": {"schema": {"type": "string"}, "example": "Pong"}}}
        },
    )
    def get(self) -> Any:
        """Answer ``Pong`` when the web process answers (Harbor's ping); checks no dependency."""
        return Response("Pong", content_type="text/plain; charset=utf-8")


@blp.route("/health")
class Health(MethodView):
    @blp.doc(security=[])
    @blp.response(200, OverallHealthSchema, example=HEALTH_EXAMPLE)
    def get(self) -> Any:
        """Each component's health (Harbor's shape): the database and Redis answer, at least one RQ worker and one
        sweeper sent a heartbeat in the last 30 s. Always 200; ``status`` says whether every component is healthy
        (``/readyz`` is the probe that answers 503)."""
        settings = current_settings()
        checks = [health.database(), health.redis(settings.redis_url), *health.processes(settings.redis_url)]
        components: list[dict[str, str]] = [{"name": "core", "status": HEALTHY}]
        for check in checks:
            component = {"name": check.name, "status": HEALTHY if check.ok else UNHEALTHY}
            if not check.ok:
                component["error"] = check.error
            components.append(component)
        overall = HEALTHY if all(c.ok for c in checks) else UNHEALTHY
        return {"status": overall, "components": components}
