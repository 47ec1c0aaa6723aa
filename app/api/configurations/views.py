"""``/api/v2.0/configurations``: read and change the system configuration (the global webhook switch)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from app.api.base import HarborBlueprint
from app.api.configurations.schemas import ConfigurationsSchema, ConfigurationsUpdateSchema
from app.services import configurations

blp = HarborBlueprint(
    "configurations", __name__, url_prefix="/api/v2.0/configurations", description="System configuration"
)


@blp.route("")
class Configurations(MethodView):
    @blp.response(200, ConfigurationsSchema)
    def get(self) -> Any:
        """Every setting as ``{"value", "editable"}``."""
        return {key: {"value": value, "editable": True} for key, value in configurations.current().items()}

    @blp.arguments(ConfigurationsUpdateSchema)
    @blp.response(200, description="Stored")
    @blp.alt_response(400, description="Unknown key or wrongly typed value")
    def put(self, body: dict[str, Any]) -> Any:
        """Change the settings given in the body; the others keep their values."""
        for key, value in body.items():
            configurations.set(key, value)
        return Response(status=200)
