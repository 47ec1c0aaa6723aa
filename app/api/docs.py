"""Browsable API docs at ``/api/v2.0/docs``: flask-smorest's Swagger UI page, its files served from the
swagger-ui-bundle package (no CDN, so the docs work offline and send nothing off the machine)."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, send_from_directory
from swagger_ui_bundle import swagger_ui_path

DOCS_PATH = "/api/v2.0/docs"
ASSETS_PATH = f"{DOCS_PATH}/assets/"

bp = Blueprint("api_docs_assets", __name__)


def configure(app: Flask) -> None:
    """Point flask-smorest's Swagger UI at the packaged files; call before the Api is bound."""
    app.config.setdefault("OPENAPI_SWAGGER_UI_PATH", "docs")
    app.config.setdefault("OPENAPI_SWAGGER_UI_URL", ASSETS_PATH)
    # validatorUrl None: Swagger UI would otherwise send the document to an online validator for its badge.
    app.config.setdefault(
        "OPENAPI_SWAGGER_UI_CONFIG",
        {"validatorUrl": None, "deepLinking": True, "displayRequestDuration": True, "tryItOutEnabled": False},
    )
    app.register_blueprint(bp)


@bp.get(f"{ASSETS_PATH}<path:filename>")
def asset(filename: str) -> Response:
    """One of Swagger UI's files (send_from_directory refuses paths outside the package's folder)."""
    return send_from_directory(str(swagger_ui_path), filename, max_age=3600)
