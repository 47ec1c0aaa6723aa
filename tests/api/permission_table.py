"""Every API route, who may call it, and what they get: the table tests/api/test_permission_table.py checks and
docs/security.md shows (render() writes it; a test keeps the document equal to it)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# The callers of the table: ANONYMOUS sends no credentials; EXPIRED and DISABLED are robots holding every
# permission ROBOT_NP holds; ROBOT_NONE is a project robot without the permission (it may pull repositories).
ANONYMOUS, ADMIN, PROJECT_ADMIN, MAINTAINER, DEVELOPER, GUEST, LIMITED_GUEST = (
    "anonymous",
    "system admin",
    "projectAdmin",
    "maintainer",
    "developer",
    "guest",
    "limitedGuest",
)
ROBOT_NP, ROBOT_NONE, ROBOT_SYSTEM, ROBOT_EXPIRED, ROBOT_DISABLED = (
    "project robot (granted)",
    "project robot (not granted)",
    "system robot",
    "expired robot",
    "disabled robot",
)
PRINCIPALS = (
    ANONYMOUS,
    ADMIN,
    PROJECT_ADMIN,
    MAINTAINER,
    DEVELOPER,
    GUEST,
    LIMITED_GUEST,
    ROBOT_NP,
    ROBOT_NONE,
    ROBOT_SYSTEM,
    ROBOT_EXPIRED,
    ROBOT_DISABLED,
)
USERS = frozenset({ADMIN, PROJECT_ADMIN, MAINTAINER, DEVELOPER, GUEST, LIMITED_GUEST})
ROBOTS = frozenset({ROBOT_NP, ROBOT_NONE, ROBOT_SYSTEM})
SIGNED_IN = USERS | ROBOTS
ONLY_ADMIN = frozenset({ADMIN})
P_ADMIN = frozenset({ADMIN, PROJECT_ADMIN})
MEMBER_VIEW = frozenset({ADMIN, PROJECT_ADMIN, MAINTAINER, DEVELOPER, GUEST})
PROJECT_READ = USERS | {ROBOT_NP, ROBOT_SYSTEM}
LOG_LIST = MEMBER_VIEW | {ROBOT_NP, ROBOT_SYSTEM}
NP_WRITE = frozenset({ADMIN, PROJECT_ADMIN, ROBOT_NP, ROBOT_SYSTEM})
NP_READ = NP_WRITE | {MAINTAINER}
PUBLISH = NP_WRITE | {MAINTAINER}
# What the granted robots hold on the project (ROBOT_SYSTEM holds it on "*").
GRANTED = (
    ("project", "read"),
    ("repository", "list"),
    ("repository", "read"),
    ("log", "list"),
    *(("notification-policy", a) for a in ("create", "read", "update", "delete", "list")),
    ("event", "create"),
)
NOT_GRANTED = (("repository", "pull"),)

Body = Callable[[dict[str, Any]], Any] | None


@dataclass(frozen=True)
class Row:
    """``path`` has ``{names}`` the test's world fills in; a name starting ``fresh_`` is made anew for each call
    (something the call may delete or change). ``ok``: the answer to an allowed caller."""

    method: str
    path: str
    allowed: frozenset[str]
    ok: int
    body: Body = None
    # Answers other than 403 for signed-in callers the route refuses.
    refused: dict[str, int] = field(default_factory=dict)
    note: str = ""
    # What the call needs made anew first (user, member, robot, policy, pending_job, error_job); by default
    # what the path's ``fresh_*`` name is.
    fresh: str = ""

    def __post_init__(self) -> None:
        if not self.fresh:
            named = re.search(r"{fresh_(member|user|robot|syspolicy|policy|pending|error)", self.path)
            kinds = {"pending": "pending_job", "error": "error_job"}
            object.__setattr__(self, "fresh", kinds.get(named.group(1), named.group(1)) if named else "")


V2 = "/api/v2.0"
P = f"{V2}/projects/library"
W = f"{P}/webhook"
W1 = "/api/projects/{project_id}/webhook"
TASK = f"{W}/policies/{{policy}}/executions/{{job}}/tasks/{{job}}"


def _policy(world: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": world["unique"],
        "targets": [{"type": "http", "address": "https://hooks.example.com/in"}],
        "event_types": ["PUSH_ARTIFACT"],
    }


def _scan_event(world: dict[str, Any]) -> dict[str, Any]:
    repository = {"name": "alpine", "namespace": "library", "repo_full_name": "library/alpine"}
    return {
        "type": "SCANNING_FAILED",
        "project": "library",
        "event_data": {"resources": [{"tag": "3.19"}], "repository": repository},
    }


def _robot(world: dict[str, Any]) -> dict[str, Any]:
    permissions = [
        {"kind": "project", "namespace": "library", "access": [{"resource": "notification-policy", "action": "read"}]}
    ]
    return {"name": world["unique"], "level": "project", "duration": 30, "permissions": permissions}


ROWS: tuple[Row, ...] = (
    Row("GET", f"{V2}/projects", SIGNED_IN, 200, note="lists only the projects the caller may see"),
    Row("HEAD", f"{V2}/projects?project_name=library", SIGNED_IN, 200),
    Row(
        "POST",
        f"{V2}/projects",
        USERS,
        201,
        lambda w: {"project_name": w["unique"]},
        note="the creator becomes its projectAdmin",
    ),
    Row("GET", P, PROJECT_READ, 200),
    Row("PUT", P, P_ADMIN, 200, lambda w: {"metadata": {"public": "false"}}),
    Row("DELETE", P, P_ADMIN, 412, note="412: the project still has repositories and policies"),
    Row("GET", f"{P}/repositories", PROJECT_READ, 200),
    Row("GET", f"{P}/repositories/alpine", PROJECT_READ, 200),
    Row("GET", f"{P}/logs", LOG_LIST, 200),
    Row("GET", f"{V2}/audit-logs", SIGNED_IN, 200, note="only the projects whose log the caller may list"),
    Row("GET", f"{V2}/audit-log-exts", ONLY_ADMIN, 200),
    Row("GET", f"{V2}/configurations", ONLY_ADMIN, 200),
    Row("PUT", f"{V2}/configurations", ONLY_ADMIN, 200, lambda w: {"notification_enable": True}),
    Row("GET", f"{V2}/notifications/rejected", ONLY_ADMIN, 200),
    Row("GET", f"{V2}/notifications/rejected/1", ONLY_ADMIN, 404, note="404: none kept"),
    Row("GET", f"{P}/members", MEMBER_VIEW, 200),
    Row(
        "POST",
        f"{P}/members",
        P_ADMIN,
        201,
        lambda w: {"role_id": 3, "member_user": {"username": w["fresh_user_name"]}},
        fresh="user",
    ),
    Row("GET", f"{P}/members/{{member}}", MEMBER_VIEW, 200),
    Row("PUT", f"{P}/members/{{fresh_member}}", P_ADMIN, 200, lambda w: {"role_id": 2}),
    Row("DELETE", f"{P}/members/{{fresh_member}}", P_ADMIN, 200),
    Row("GET", f"{V2}/users", ONLY_ADMIN, 200),
    Row("POST", f"{V2}/users", ONLY_ADMIN, 201, lambda w: {"username": w["unique"], "password": "Secret-123"}),
    Row("GET", f"{V2}/users/current", USERS, 200, refused=dict.fromkeys(ROBOTS, 404), note="404 for a robot"),
    Row("GET", f"{V2}/users/search?username=fresh", SIGNED_IN, 200, note="ids and names only"),
    Row("GET", f"{V2}/users/{{user}}", ONLY_ADMIN, 200),
    Row("PUT", f"{V2}/users/{{fresh_user}}", ONLY_ADMIN, 200, lambda w: {"comment": "changed"}),
    Row("DELETE", f"{V2}/users/{{fresh_user}}", ONLY_ADMIN, 200),
    Row(
        "PUT",
        f"{V2}/users/{{fresh_user}}/password",
        ONLY_ADMIN,
        200,
        lambda w: {"new_password": "Other-pass-9"},
        note="an account may change its own (with old_password)",
    ),
    Row("PUT", f"{V2}/users/{{fresh_user}}/sysadmin", ONLY_ADMIN, 200, lambda w: {"sysadmin_flag": True}),
    Row("GET", f"{V2}/robots", SIGNED_IN, 200, note="only the robots of projects whose robots the caller may list"),
    Row("POST", f"{V2}/robots", P_ADMIN, 201, _robot, note="a project robot granting what the creator holds"),
    Row("GET", f"{V2}/robots/{{robot}}", MEMBER_VIEW, 200),
    Row(
        "PUT",
        f"{V2}/robots/{{fresh_robot}}",
        P_ADMIN,
        200,
        lambda w: {**_robot(w), "name": w["fresh_robot_name"], "description": "x"},
    ),
    Row("PATCH", f"{V2}/robots/{{fresh_robot}}", P_ADMIN, 200, lambda w: {}),
    Row("DELETE", f"{V2}/robots/{{fresh_robot}}", P_ADMIN, 200),
    Row("GET", f"{W}/policies", NP_READ, 200),
    Row("POST", f"{W}/policies", NP_WRITE, 201, _policy),
    Row("GET", f"{W}/policies/{{policy}}", NP_READ, 200),
    Row("PUT", f"{W}/policies/{{policy}}", NP_WRITE, 200, lambda w: {**_policy(w), "name": "ci"}),
    Row("DELETE", f"{W}/policies/{{fresh_policy}}", NP_WRITE, 200),
    Row("POST", f"{W}/policies/test", NP_WRITE, 200, _policy, note="tests targets; no Redis here: nothing sent"),
    Row("POST", f"{W}/policies/{{policy}}/targets/0/test", NP_WRITE, 200),
    Row("GET", f"{W}/events", NP_READ, 200),
    Row("GET", f"{W}/lasttrigger", NP_READ, 200),
    Row("GET", f"{W}/hook-jobs", NP_READ, 200),
    Row("GET", f"{W}/jobs?policy_id={{policy}}", NP_READ, 200),
    Row("GET", f"{W}/policies/{{policy}}/executions", NP_READ, 200),
    Row("GET", f"{W}/policies/{{policy}}/executions/{{job}}/tasks", NP_READ, 200),
    Row("GET", f"{TASK}/log", NP_READ, 200),
    Row(
        "PUT",
        f"{W}/policies/{{policy}}/executions/{{fresh_pending_job}}/tasks/{{fresh_pending_job}}",
        NP_WRITE,
        200,
        lambda w: {"status": "Stopped"},
    ),
    Row("POST", f"{W}/policies/{{policy}}/recover", NP_WRITE, 202, lambda w: {"since": "2020-01-01T00:00:00Z"}),
    Row("GET", f"{V2}/hook-jobs/{{job_uuid}}", NP_READ, 200),
    Row("POST", f"{V2}/hook-jobs/{{fresh_error_uuid}}/redeliver", NP_WRITE, 202),
    Row("POST", f"{V2}/hook-jobs/{{fresh_pending_uuid}}/stop", NP_WRITE, 200),
    Row("GET", f"{W1}/policies", NP_READ, 200),
    Row("POST", f"{W1}/policies", NP_WRITE, 201, _policy),
    Row("GET", f"{W1}/policies/{{policy}}", NP_READ, 200),
    Row("PUT", f"{W1}/policies/{{policy}}", NP_WRITE, 200, lambda w: {**_policy(w), "name": "ci"}),
    Row("DELETE", f"{W1}/policies/{{fresh_policy}}", NP_WRITE, 200),
    Row("POST", f"{W1}/policies/test", NP_WRITE, 200, _policy),
    Row("POST", f"{W1}/policies/{{policy}}/targets/0/test", NP_WRITE, 200),
    Row("GET", f"{W1}/events", NP_READ, 200),
    Row("GET", f"{W1}/lasttrigger", NP_READ, 200),
    Row("GET", "/api/projects/{project_id}/webhook/jobs?policy_id={policy}", NP_READ, 200),
    Row("GET", f"{V2}/webhook/policies", ONLY_ADMIN, 200, note="system-wide policies"),
    Row("POST", f"{V2}/webhook/policies", ONLY_ADMIN, 201, _policy),
    Row("GET", f"{V2}/webhook/policies/{{system_policy}}", ONLY_ADMIN, 200),
    Row("PUT", f"{V2}/webhook/policies/{{system_policy}}", ONLY_ADMIN, 200, lambda w: {**_policy(w), "name": "all"}),
    Row("DELETE", f"{V2}/webhook/policies/{{fresh_syspolicy}}", ONLY_ADMIN, 200),
    Row("POST", f"{V2}/webhook/policies/{{system_policy}}/targets/0/test", ONLY_ADMIN, 200),
    Row("GET", f"{V2}/hook-jobs/{{system_job_uuid}}", ONLY_ADMIN, 200, note="a system-wide policy's job"),
    Row("POST", f"{V2}/events", PUBLISH, 201, _scan_event, note="permission event/create on the body's project"),
)


def expected(row: Row, principal: str) -> int:
    if principal in (ANONYMOUS, ROBOT_EXPIRED, ROBOT_DISABLED):
        return 401
    if principal in row.allowed:
        return row.ok
    return row.refused.get(principal, 403)


SHORT = {
    ANONYMOUS: "anon",
    ADMIN: "sys",
    PROJECT_ADMIN: "pA",
    MAINTAINER: "mnt",
    DEVELOPER: "dev",
    GUEST: "gst",
    LIMITED_GUEST: "lG",
    ROBOT_NP: "rob+",
    ROBOT_NONE: "rob-",
    ROBOT_SYSTEM: "sysrob",
    ROBOT_EXPIRED: "exp",
    ROBOT_DISABLED: "dis",
}


def render() -> str:
    """The table as docs/security.md shows it (between its markers)."""
    head = "| route | " + " | ".join(SHORT[p] for p in PRINCIPALS) + " | note |"
    lines = [head, "|" + "---|" * (len(PRINCIPALS) + 2)]
    for row in ROWS:
        path = row.path.replace("{project_id}", "{pid}")
        cells = " | ".join(str(expected(row, p)) for p in PRINCIPALS)
        lines.append(f"| `{row.method} {path}` | {cells} | {row.note} |")
    return "\n".join(lines) + "\n"
