"""The REST API (flask-smorest): Harbor-compatible resources and the OpenAPI document."""

from __future__ import annotations

from flask import Flask

from app.api import docs
from app.api.auth import require_credentials
from app.api.base import HarborApi, document_sign_in_answers
from app.api.configurations.views import blp as configurations_blp
from app.api.events.views import blp as events_blp
from app.api.hook_jobs.views import blp as hook_jobs_blp
from app.api.hook_jobs.views import blp_v1 as hook_jobs_v1_blp
from app.api.logs.views import blp as logs_blp
from app.api.members.views import blp as members_blp
from app.api.notifications import document as document_receiver
from app.api.projects.views import blp as projects_blp
from app.api.rejected.views import blp as rejected_blp
from app.api.robots.views import blp as robots_blp
from app.api.system import blp as system_blp
from app.api.users.views import blp as users_blp
from app.api.webhooks.system import blp as system_webhooks_blp
from app.api.webhooks.views import blp as webhooks_blp
from app.api.webhooks.views import blp_v1 as webhooks_v1_blp


def init_api(app: Flask) -> HarborApi:
    """Bind the API to ``app``; the OpenAPI document is served at ``/api/v2.0/openapi.json``, Swagger UI at
    ``/api/v2.0/docs``."""
    app.config.setdefault("API_TITLE", "Dockhook")
    app.config.setdefault("API_VERSION", "v2.0")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v2.0")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    docs.configure(app)
    require_credentials(app)
    api = HarborApi(app)
    for blueprint in (
        projects_blp,
        logs_blp,
        webhooks_blp,
        webhooks_v1_blp,
        system_webhooks_blp,
        events_blp,
        configurations_blp,
        hook_jobs_blp,
        hook_jobs_v1_blp,
        rejected_blp,
        members_blp,
        users_blp,
        robots_blp,
        system_blp,
    ):
        api.register_blueprint(blueprint)
    document_sign_in_answers(api.spec)
    document_receiver(app, api.spec, "HarborError")
    return api
