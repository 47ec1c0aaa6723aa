"""Who may use the dashboard, and CSRF protection for its forms.

Until accounts exist the dashboard's credential is the API token (DOCKHOOK_API_TOKEN): :func:`authenticate`
is the one place that decides, so accounts can replace it. A signed-in browser holds a signed session cookie
(HttpOnly, SameSite=Lax) naming who signed in and a fingerprint of the credential, so changing the token
signs every browser out. Every form carries the session's CSRF token, checked on every POST.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from urllib.parse import urlsplit

from flask import Flask, abort, request, session

from app.config import Settings
from app.extensions import current_settings

USER, FINGERPRINT, CSRF = "dashboard_user", "dashboard_credential", "dashboard_csrf"
CSRF_FIELD = "csrf_token"


def configure(app: Flask) -> None:
    """Session cookie settings and the key that signs it (derived from the first DOCKHOOK_SECRET_KEYS key)."""
    settings: Settings = app.extensions["dockhook.settings"]
    key = settings.secret_keys[0] if settings.secret_keys else secrets.token_urlsafe(32)
    app.secret_key = hmac.new(key.encode(), b"dockhook dashboard session", hashlib.sha256).hexdigest()
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_NAME="dockhook")


def authenticate(form: Mapping[str, str]) -> str | None:
    """Who the sign-in form names, or None. Today: the API token (anyone, when no token is set)."""
    token = current_settings().api_token
    if token is None:
        return "anonymous"
    given = form.get("token", "")
    return "api-token" if hmac.compare_digest(given.encode(), token.encode()) else None


def _fingerprint() -> str:
    token = current_settings().api_token or ""
    return hashlib.sha256(f"dockhook dashboard {token}".encode()).hexdigest()[:32]


def sign_in(user: str) -> None:
    session.clear()
    session[USER] = user
    session[FINGERPRINT] = _fingerprint()
    session[CSRF] = secrets.token_urlsafe(32)


def sign_out() -> None:
    session.clear()


def signed_in() -> str | None:
    """The signed-in user, or None (also when the credential changed since)."""
    if current_settings().api_token is None:
        return "anonymous"
    user = session.get(USER)
    if user is None or not hmac.compare_digest(str(session.get(FINGERPRINT, "")), _fingerprint()):
        return None
    return str(user)


def csrf_token() -> str:
    """The session's CSRF token (made on first use), for the forms' hidden field."""
    token = session.get(CSRF)
    if not token:
        token = session[CSRF] = secrets.token_urlsafe(32)
    return str(token)


def check_csrf() -> None:
    """Abort with 400 unless the POSTed form carries the session's CSRF token."""
    expected = session.get(CSRF)
    given = request.form.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(given.encode(), str(expected).encode()):
        abort(400, "the form is out of date or did not come from this dashboard (CSRF check): reload and retry")


def safe_next(target: str | None) -> str:
    """A path on this site to go back to after signing in (never another host)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
