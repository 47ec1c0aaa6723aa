"""The REST API (flask-smorest): Harbor-compatible resources and the OpenAPI document."""

from __future__ import annotations

from flask import Flask

from app.api.base import HarborApi
from app.api.logs.views import blp as logs_blp
from app.api.projects.views import blp as projects_blp


def init_api(app: Flask) -> HarborApi:
    """Bind the API to ``app``; the OpenAPI document is served at ``/api/v2.0/openapi.json``."""
    app.config.setdefault("API_TITLE", "Dockhook")
    app.config.setdefault("API_VERSION", "v2.0")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v2.0")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api = HarborApi(app)
    for blueprint in (projects_blp, logs_blp):
        api.register_blueprint(blueprint)
    return api
