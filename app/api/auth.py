"""API authentication: every ``/api/`` request signs in (app.services.signin) before a view runs; the view and
app/api/access.py read the caller with :func:`current`.

Without DOCKHOOK_API_TOKEN (loopback development only: a non-loopback bind refuses to start without it) a
request that sends no credentials acts as a system administrator, as the API always did there; credentials
that are sent are still checked, and a robot or an account gets only its own permissions.
"""

from __future__ import annotations

from flask import Flask, Response, g, request

from app.errors import error_response
from app.extensions import current_settings
from app.services import signin
from app.services.access import Principal
from app.services.errors import TooManyAttempts, Unauthorized

# Answered without credentials: the OpenAPI document and the browsable docs describe the API and hold no data;
# Harbor serves ping and health unauthenticated too (load balancers and Harbor's own tooling call them), and they
# reveal nothing secret.
PUBLIC_PATHS = frozenset({"/api/v2.0/openapi.json", "/api/v2.0/docs", "/api/v2.0/ping", "/api/v2.0/health"})
PUBLIC_PREFIXES = ("/api/v2.0/docs/assets/",)
CHALLENGE = 'Basic realm="dockhook", Bearer realm="dockhook"'
OPEN = Principal("open", "anonymous", sysadmin=True)


def is_public(path: str) -> bool:
    """Whether ``path`` is answered without credentials."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def require_credentials(app: Flask) -> None:
    """Sign in every API request: 401 (with ``WWW-Authenticate``) without valid credentials, 429 (with
    ``Retry-After``) while this address or account has failed too often."""

    @app.before_request
    def _authenticate() -> Response | None:
        if not request.path.startswith("/api/") or is_public(request.path):
            return None
        settings = current_settings()
        header = request.headers.get("Authorization", "")
        if not header.strip():
            if settings.api_token is None:
                g.principal = OPEN
                return None
            return _challenge("this API needs credentials: HTTP Basic (an account or a robot) or Bearer")
        limits = signin.Limits(settings.signin_max_failures, settings.signin_window)
        try:
            g.principal = signin.authenticate(header, request.remote_addr or "unknown", settings.api_token, limits)
        except Unauthorized as exc:
            return _challenge(str(exc))
        except TooManyAttempts as exc:
            response = error_response(429, str(exc), exc.code)
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        return None


def current() -> Principal:
    """The caller of this request (set by the sign-in hook)."""
    principal: Principal = g.principal
    return principal


def _challenge(message: str) -> Response:
    response = error_response(401, message)
    response.headers["WWW-Authenticate"] = CHALLENGE
    return response
