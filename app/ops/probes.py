"""``/healthz`` (the process answers) and ``/readyz`` (the database and Redis answer): probes for load balancers
and orchestrators. No credentials: they say whether a dependency answers and why not, nothing secret."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from app.extensions import current_settings
from app.services import health

bp = Blueprint("probes", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """200 while this process answers requests (a liveness probe: restart the process when it fails)."""
    return _no_store(jsonify({"status": "ok"}))


@bp.get("/readyz")
def readyz() -> Response:
    """200 when the database and Redis answer, else 503; each dependency's state, and the workers' and the
    sweeper's heartbeats (reported, not required: the receiver records without them)."""
    settings = current_settings()
    checks = [health.database(), health.redis(settings.redis_url)]
    ready = all(check.ok for check in checks)
    body = {
        "status": "ready" if ready else "unready",
        "checks": {check.name: _state(check) for check in checks},
        "processes": {check.name: _state(check) for check in health.processes(settings.redis_url)},
    }
    response = jsonify(body)
    response.status_code = 200 if ready else 503
    return _no_store(response)


def _state(check: health.Check) -> dict[str, object]:
    state: dict[str, object] = {"ok": check.ok, **check.detail}
    if not check.ok:
        state["error"] = check.error
    return state


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response
