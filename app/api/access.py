"""Authorization: what each API route needs, in one table, checked before the view runs.

Every ``/api/`` endpoint has a rule here (a test walks the URL map to keep it so, and an endpoint without
one is refused to everyone but system administrators). Rules that name a project resolve it from the path:
an unknown project is a 404, a known one the caller may not act on a 403, as Harbor answers.
Lists narrow themselves to what the caller may see (the views ask app.services.access).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, g, request

from app.api import auth
from app.api.base import project
from app.services import access, hook_job_queries, projects
from app.services.errors import Forbidden

SIGNED_IN = "signed-in"  # any principal; the view narrows what it shows or checks ownership itself
SYSADMIN = "sysadmin"


@dataclass(frozen=True)
class OnProject:
    """The permission ``action`` on ``resource`` of the project the path names."""

    resource: str
    action: str


@dataclass(frozen=True)
class OnHookJob:
    """The permission on the project of the hook job the path's ``uuid`` names."""

    resource: str
    action: str


@dataclass(frozen=True)
class OnBodyProject:
    """The permission on the project the JSON body's ``project`` names (name or id): the publish API's."""

    resource: str
    action: str


Rule = OnProject | OnHookJob | OnBodyProject | str
NP = "notification-policy"

RULES: dict[tuple[str, str], Rule] = {
    ("projects.Projects", "GET"): SIGNED_IN,
    ("projects.Projects", "HEAD"): SIGNED_IN,
    ("projects.Projects", "POST"): SIGNED_IN,
    ("projects.Project", "GET"): OnProject("project", "read"),
    ("projects.Project", "PUT"): OnProject("project", "update"),
    ("projects.Project", "DELETE"): OnProject("project", "delete"),
    ("projects.Repositories", "GET"): OnProject("repository", "list"),
    ("projects.Repository", "GET"): OnProject("repository", "read"),
    ("logs.Logs", "GET"): OnProject("log", "list"),
    ("logs.AuditLogs", "GET"): SIGNED_IN,
    ("logs.AuditLogExts", "GET"): SYSADMIN,
    ("configurations.Configurations", "GET"): SYSADMIN,
    ("configurations.Configurations", "PUT"): SYSADMIN,
    ("rejected.RejectedNotifications", "GET"): SYSADMIN,
    ("rejected.RejectedNotification", "GET"): SYSADMIN,
    ("members.Members", "GET"): OnProject("member", "list"),
    ("members.Members", "POST"): OnProject("member", "create"),
    ("members.Member", "GET"): OnProject("member", "read"),
    ("members.Member", "PUT"): OnProject("member", "update"),
    ("members.Member", "DELETE"): OnProject("member", "delete"),
    ("users.Users", "GET"): SYSADMIN,
    ("users.Users", "POST"): SYSADMIN,
    ("users.CurrentUser", "GET"): SIGNED_IN,
    ("users.SearchUsers", "GET"): SIGNED_IN,
    ("users.User", "GET"): SYSADMIN,
    ("users.User", "PUT"): SYSADMIN,
    ("users.User", "DELETE"): SYSADMIN,
    ("users.Password", "PUT"): SIGNED_IN,
    ("users.Sysadmin", "PUT"): SYSADMIN,
    ("robots.Robots", "GET"): SIGNED_IN,
    ("robots.Robots", "POST"): SIGNED_IN,
    ("robots.Robot", "GET"): SIGNED_IN,
    ("robots.Robot", "PUT"): SIGNED_IN,
    ("robots.Robot", "PATCH"): SIGNED_IN,
    ("robots.Robot", "DELETE"): SIGNED_IN,
    ("hook_jobs.HookJobByUuid", "GET"): OnHookJob(NP, "read"),
    ("hook_jobs.Redeliver", "POST"): OnHookJob(NP, "update"),
    ("hook_jobs.Stop", "POST"): OnHookJob(NP, "update"),
    ("hook_jobs.ProjectHookJobs", "GET"): OnProject(NP, "list"),
    ("hook_jobs.LegacyJobs", "GET"): OnProject(NP, "list"),
    ("hook_jobs_v1.LegacyJobs", "GET"): OnProject(NP, "list"),
    ("hook_jobs.Executions", "GET"): OnProject(NP, "read"),
    ("hook_jobs.Tasks", "GET"): OnProject(NP, "read"),
    ("hook_jobs.TaskLog", "GET"): OnProject(NP, "read"),
    ("hook_jobs.Task", "PUT"): OnProject(NP, "update"),
    ("hook_jobs.Recover", "POST"): OnProject(NP, "update"),
}
for _prefix in ("webhooks", "webhooks_v1"):
    RULES.update(
        {
            (f"{_prefix}.Policies", "GET"): OnProject(NP, "list"),
            (f"{_prefix}.Policies", "POST"): OnProject(NP, "create"),
            (f"{_prefix}.Policy", "GET"): OnProject(NP, "read"),
            (f"{_prefix}.Policy", "PUT"): OnProject(NP, "update"),
            (f"{_prefix}.Policy", "DELETE"): OnProject(NP, "delete"),
            (f"{_prefix}.Events", "GET"): OnProject(NP, "read"),
            (f"{_prefix}.LastTrigger", "GET"): OnProject(NP, "read"),
            (f"{_prefix}.PolicyTest", "POST"): OnProject(NP, "create"),
            (f"{_prefix}.TargetTest", "POST"): OnProject(NP, "update"),
        }
    )
RULES.update(
    {
        ("system_webhooks.SystemPolicies", "GET"): SYSADMIN,
        ("system_webhooks.SystemPolicies", "POST"): SYSADMIN,
        ("system_webhooks.SystemPolicy", "GET"): SYSADMIN,
        ("system_webhooks.SystemPolicy", "PUT"): SYSADMIN,
        ("system_webhooks.SystemPolicy", "DELETE"): SYSADMIN,
        ("system_webhooks.SystemTargetTest", "POST"): SYSADMIN,
        ("events.Events", "POST"): OnBodyProject("event", "create"),
    }
)
PROJECT_ARGS = ("project_name_or_id", "project_name")


def install(app: Flask) -> None:
    """Check every signed-in API request against RULES (after the sign-in and the request guard)."""
    app.before_request(_authorize)


def rule_for(endpoint: str, method: str) -> Rule | None:
    method = "GET" if method == "HEAD" and (endpoint, "HEAD") not in RULES else method
    return RULES.get((endpoint, method))


def _authorize() -> None:
    if "principal" not in g or request.endpoint is None:
        return
    principal = auth.current()
    rule = rule_for(request.endpoint, request.method)
    if rule == SIGNED_IN:
        return
    if rule is None or rule == SYSADMIN:
        access.require_sysadmin(principal)
        return
    if isinstance(rule, OnProject):
        args = request.view_args or {}
        name_or_id = next((str(args[k]) for k in PROJECT_ARGS if k in args), None)
        if name_or_id is None:
            raise Forbidden("this route names no project")  # a RULES entry on the wrong route
        access.require(principal, project(name_or_id), rule.resource, rule.action)
        return
    if isinstance(rule, OnBodyProject):
        body = request.get_json(silent=True)
        named = body.get("project") if isinstance(body, dict) else None
        if not isinstance(named, str) or not named:
            return  # no project to check against: the view's validation answers 400 and changes nothing
        access.require(principal, project(named), rule.resource, rule.action)
        return
    if isinstance(rule, OnHookJob):
        job = hook_job_queries.by_uuid(str((request.view_args or {}).get("uuid", "")))
        if job is None:
            return  # the view answers 404 (it checks the uuid's form too)
        if job.project_id is None:
            access.require_sysadmin(principal)  # a system-wide policy's job
            return
        owner = projects.get(str(job.project_id))
        access.require(principal, owner, rule.resource, rule.action)
