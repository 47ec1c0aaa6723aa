"""Who may use the dashboard, and CSRF protection for its forms.

The dashboard signs in with the API's credentials (app.services.signin, rate limit included): an account's name
and password, a robot's ``robot$...`` name and secret, or the API token (DOCKHOOK_API_TOKEN, a system-admin
credential) as the password with no name. A signed-in browser holds a signed session cookie (HttpOnly,
SameSite=Lax) naming who signed in and a fingerprint of the credential's stored hash: every request re-reads the
account or robot, so a changed password or secret, a disabled or expired robot, a deleted account or a changed
token signs the browser out, and roles take effect at once. What a principal may see and do is the API's rule
(app.services.access). Every form carries the session's CSRF token, checked on every POST.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from urllib.parse import urlsplit

from flask import Flask, abort, request, session

from app.config import Settings
from app.extensions import current_settings
from app.services import robots, signin, users
from app.services.access import Principal

KIND, NAME, IDENT, FINGERPRINT, CSRF = (
    "dashboard_kind",
    "dashboard_name",
    "dashboard_id",
    "dashboard_credential",
    "dashboard_csrf",
)
CSRF_FIELD = "csrf_token"
# No DOCKHOOK_API_TOKEN (the loopback development mode): the API's open mode, a system admin.
OPEN = Principal("open", "anonymous", sysadmin=True)


def configure(app: Flask) -> None:
    """Session cookie settings and the key that signs it (derived from the first DOCKHOOK_SECRET_KEYS key)."""
    settings: Settings = app.extensions["dockhook.settings"]
    key = settings.secret_keys[0] if settings.secret_keys else secrets.token_urlsafe(32)
    app.secret_key = hmac.new(key.encode(), b"dockhook dashboard session", hashlib.sha256).hexdigest()
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_NAME="dockhook")


def open_mode() -> bool:
    return current_settings().api_token is None


def authenticate(form: Mapping[str, str]) -> Principal:
    """Who the sign-in form's name and password sign in as. Raises signin's Unauthorized or TooManyAttempts."""
    settings = current_settings()
    name, password = form.get("username", ""), form.get("password", "")
    basic = base64.b64encode(f"{name}:{password}".encode()).decode()
    header = f"Basic {basic}" if name else f"Bearer {password}"
    limits = signin.Limits(settings.signin_max_failures, settings.signin_window)
    return signin.authenticate(header, request.remote_addr or "unknown", settings.api_token, limits)


def _fingerprint(kind: str, ident: int | None) -> str | None:
    """A digest of the credential the principal signed in with, as stored now (None: it is gone)."""
    if kind == "token":
        stored = current_settings().api_token
    elif kind == "user" and ident is not None:
        user = users.by_id(ident)
        stored = user.password_hash if user is not None else None
    elif kind == "robot" and ident is not None:
        robot = robots.by_id(ident)
        stored = robot.secret_hash if robot is not None and not robot.disabled and not robots.expired(robot) else None
    else:
        stored = None
    return None if stored is None else hashlib.sha256(f"dockhook dashboard {stored}".encode()).hexdigest()[:32]


def sign_in(principal: Principal) -> None:
    ident = principal.user_id if principal.kind == "user" else principal.robot_id
    session.clear()
    session.update(
        {
            KIND: principal.kind,
            NAME: principal.name,
            IDENT: ident,
            FINGERPRINT: _fingerprint(principal.kind, ident),
            CSRF: secrets.token_urlsafe(32),
        }
    )


def sign_out() -> None:
    session.clear()


def signed_in() -> Principal | None:
    """Who this browser signed in as, re-read now; None when it did not, or its credential changed since."""
    if open_mode():
        return OPEN
    kind, stored_id = session.get(KIND), session.get(IDENT)
    ident = stored_id if isinstance(stored_id, int) else None
    if not isinstance(kind, str):
        return None
    now = _fingerprint(kind, ident)
    if now is None or not hmac.compare_digest(str(session.get(FINGERPRINT, "")), now):
        return None
    if kind == "token":
        return Principal("token", signin.TOKEN_PRINCIPAL, sysadmin=True)
    if kind == "user" and ident is not None:
        user = users.by_id(ident)
        return signin.user_principal(user) if user is not None else None
    robot = robots.by_id(ident) if ident is not None else None
    return signin.robot_principal(robot) if robot is not None else None


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
