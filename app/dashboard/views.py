"""The deliveries dashboard at ``/``: projects → policies and hook jobs (filtered, counted) → one hook job with
its payload and every attempt, with stop and redeliver. Server-rendered (Jinja); no script at all."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from app import clock, redact
from app.dashboard import auth
from app.extensions import current_settings
from app.models import FINAL_STATUSES, HookJobStatus
from app.services import access, hook_job_queries, hook_jobs, overview, projects
from app.services.access import Principal
from app.services.errors import ServiceError, TooManyAttempts, Unauthorized

bp = Blueprint(
    "dashboard", __name__, template_folder="templates", static_folder="static", static_url_path="/dashboard/static"
)

PAGE_SIZE = 50
# The list pages reload themselves this often (seconds): live counts without a script.
REFRESH = 10
STATUSES = [s.value for s in HookJobStatus]
SINCE = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


NP = "notification-policy"


@bp.before_request
def _require_sign_in() -> BaseResponse | None:
    if request.endpoint in ("dashboard.login", "dashboard.static"):
        return None
    principal = auth.signed_in()
    if principal is None:
        return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))
    g.dashboard_principal = principal
    if request.method == "POST":
        auth.check_csrf()
    return None


def _caller() -> Principal:
    principal: Principal = g.dashboard_principal
    return principal


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    return {"csrf_token": auth.csrf_token, "csrf_field": auth.CSRF_FIELD, "user": _user_name}


def _user_name() -> str | None:
    principal = g.get("dashboard_principal")
    return None if principal is None else str(principal.name)


@bp.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse | tuple[str, int]:
    """Sign in as the API does: an account or robot name and its password or secret, or the API token."""
    target = auth.safe_next(request.values.get("next"))
    if auth.open_mode():
        return redirect(target)
    error, status = "", 200
    if request.method == "POST":
        auth.check_csrf()
        try:
            principal = auth.authenticate(request.form)
        except Unauthorized:
            error, status = "That name and password do not sign in.", 401
        except TooManyAttempts as exc:
            error, status = f"Too many failed sign-ins: try again in {exc.retry_after} s.", 429
        else:
            auth.sign_in(principal)
            return redirect(target)
    return render_template("dashboard/login.html", next=target, error=error), status


@bp.post("/logout")
def logout() -> BaseResponse:
    auth.sign_out()
    return redirect(url_for("dashboard.login"))


@bp.get("/")
def index() -> str:
    """Projects, their policies and their hook jobs by status; for a system administrator, the system-wide
    policies' too."""
    caller = _caller()
    return render_template(
        "dashboard/projects.html",
        summaries=overview.projects(caller),
        system=overview.system(caller),
        refresh=REFRESH,
    )


@bp.get("/projects/<name>")
def project(name: str) -> str:
    """A project's policies (targets masked) and its hook jobs, filtered by status, event type and time."""
    return _policies_page(_project(name, "list"))


@bp.get("/system")
def system() -> str:
    """The system-wide policies (they take every project's events) and their hook jobs: system administrators
    only; for anyone else the page does not exist (as their jobs do not, see :func:`_job`)."""
    if not _caller().sysadmin:
        abort(404)
    return _policies_page(None)


def _policies_page(owner: Any) -> str:
    """A project's page, or with ``owner`` None the system-wide policies' page: the same filters and paging."""
    owner_id = owner.id if owner is not None else None
    statuses = [s for s in request.args.getlist("status") if s in STATUSES]
    event_type = request.args.get("event_type", "")
    since_key = request.args.get("since", "")
    since = clock.now() - SINCE[since_key] if since_key in SINCE else None
    page = _page_number(request.args.get("page"))
    filters = hook_job_queries.JobFilter(status=statuses or None, event_type=event_type or None, since=since)
    jobs, total = hook_job_queries.page(owner_id, page, PAGE_SIZE, filters)
    policies = [_policy_view(p) for p in overview.policies(owner_id)]
    return render_template(
        "dashboard/project.html",
        project=owner,
        policies=policies,
        jobs=jobs,
        total=total,
        counts=overview.job_counts(owner_id),
        statuses=STATUSES,
        event_types=overview.event_types(owner_id),
        chosen={"status": statuses, "event_type": event_type, "since": since_key},
        since_choices=list(SINCE),
        page=page,
        pages=max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE),
        refresh=REFRESH,
    )


@bp.get("/hook-jobs/<uuid>")
def job(uuid: str) -> str:
    """One hook job: where it goes, its payload, every attempt with the response, stop and redeliver."""
    found = _job(uuid, "read")
    return render_template(
        "dashboard/job.html",
        job=found,
        project=overview.project(found.project_id) if found.project_id is not None else None,
        target=redact.address(str(found.target.get("address", "")), found.notify_type),
        payload=_pretty(found.payload),
        attempts=hook_job_queries.attempts(found.id),
        ended=found.status in FINAL_STATUSES,
    )


@bp.post("/hook-jobs/<uuid>/stop")
def stop(uuid: str) -> BaseResponse:
    found = _job(uuid, "update")
    if hook_jobs.stop(found, "stopped from the dashboard", current_settings().redis_url, operator=_caller().name):
        flash("Stopped: no further attempt will be made.")
    else:
        flash(f"Not stopped: the job had already ended ({found.status}).")
    return redirect(url_for("dashboard.job", uuid=uuid))


@bp.post("/hook-jobs/<uuid>/redeliver")
def redeliver(uuid: str) -> BaseResponse:
    found = _job(uuid, "update")
    settings = current_settings()
    try:
        hook_jobs.redeliver(found, settings.redis_url, settings.job_timeout, operator=_caller().name)
    except ServiceError as exc:
        flash(f"Not redelivered: {exc}")
    else:
        flash("Redelivery queued: one more attempt, with the same webhook-id.")
    return redirect(url_for("dashboard.job", uuid=uuid))


def _project(name: str, action: str) -> Any:
    """The project, when the caller may ``action`` its webhooks; 404 when it may not even list them (a project
    the caller cannot see does not exist for it), 403 when it may look but not do this."""
    found = projects.by_name(name)
    if found is None:
        abort(404)
    _check(found, action)
    return found


def _job(uuid: str, action: str) -> Any:
    found = hook_job_queries.by_uuid(uuid[:64])
    if found is None:
        abort(404)
    if found.project_id is None:
        # A system-wide policy's job: only system administrators see those.
        if not _caller().sysadmin:
            abort(404)
        return found
    owner = overview.project(found.project_id)
    if owner is None:
        abort(404)
    _check(owner, action)
    return found


def _check(project: Any, action: str) -> None:
    principal = _caller()
    if not access.can(principal, project, NP, "list"):
        abort(404)
    if not access.can(principal, project, NP, action):
        abort(403)


def _page_number(raw: str | None) -> int:
    try:
        return min(max(1, int(raw or "1")), 100_000)
    except ValueError:
        return 1


def _policy_view(policy: Any) -> dict[str, Any]:
    """A policy as the dashboard shows it: addresses masked, no credential at all."""
    return {
        "id": policy.id,
        "name": policy.name,
        "enabled": policy.enabled,
        "event_types": policy.event_types,
        "targets": [
            {
                "type": t.get("type", "http"),
                "address": redact.address(str(t.get("address", "")), str(t.get("type", "http"))),
                "disabled": bool(t.get("disabled")),
                "disabled_reason": t.get("disabled_reason", ""),
                "signed": bool(t.get("secret_enc")),
                "auth": bool(t.get("auth_header_enc") or t.get("auth_header")),
            }
            for t in policy.targets or []
        ],
    }


def _pretty(payload: str) -> str:
    try:
        return json.dumps(json.loads(payload), indent=2, ensure_ascii=False)
    except ValueError:
        return payload


def format_time(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


bp.add_app_template_filter(format_time, "when")
