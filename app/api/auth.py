"""API authentication: when DOCKHOOK_API_TOKEN is set, every ``/api/`` request must present it."""

from __future__ import annotations

from flask import Flask, Response, request

from app import bearer
from app.errors import error_response
from app.extensions import current_settings

# Answered without credentials, whatever authenticates the rest of /api/ (keep it so when accounts replace the
# token): the OpenAPI document and the browsable docs describe the API and hold no data; Harbor serves ping and
# health unauthenticated too (load balancers and Harbor's own tooling call them), and they reveal nothing secret.
PUBLIC_PATHS = frozenset({"/api/v2.0/openapi.json", "/api/v2.0/docs", "/api/v2.0/ping", "/api/v2.0/health"})
PUBLIC_PREFIXES = ("/api/v2.0/docs/assets/",)


def is_public(path: str) -> bool:
    """Whether ``path`` is answered without credentials."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def require_token(app: Flask) -> None:
    """Check ``Authorization: Bearer <token>`` — or HTTP Basic with the token as password, as Harbor's
    clients send credentials — on every API request, in constant time."""

    @app.before_request
    def _check() -> Response | None:
        token = current_settings().api_token
        if token is None or not request.path.startswith("/api/") or is_public(request.path):
            return None
        if bearer.matches(request.headers.get("Authorization", ""), token, basic=True):
            return None
        response = error_response(401, "this API needs the Dockhook API token: Authorization: Bearer <token>")
        response.headers["WWW-Authenticate"] = 'Bearer realm="dockhook", Basic realm="dockhook"'
        return response
