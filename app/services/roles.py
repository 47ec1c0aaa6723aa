"""Harbor 2.x's project roles and what each may do to the resources Dockhook has (pure).

From Harbor's ``common/rbac/project/rbac_role.go``, narrowed to project, member, log, repository, robot and
notification-policy. A public project lets any signed-in account read it and its repositories.
"""

from __future__ import annotations

from collections.abc import Iterable

PROJECT_ADMIN, DEVELOPER, GUEST, MAINTAINER, LIMITED_GUEST = 1, 2, 3, 4, 5
ROLE_NAMES = {
    PROJECT_ADMIN: "projectAdmin",
    DEVELOPER: "developer",
    GUEST: "guest",
    MAINTAINER: "maintainer",
    LIMITED_GUEST: "limitedGuest",
}

CRUDL = ("create", "read", "update", "delete", "list")
# The resources Dockhook has, and their actions.
RESOURCES: dict[str, tuple[str, ...]] = {
    "project": ("read", "update", "delete"),
    "member": CRUDL,
    "log": ("list",),
    "repository": ("list", "read", "pull", "push"),
    "robot": CRUDL,
    "notification-policy": CRUDL,
    # Publishing events of the project (POST /api/v2.0/events): a Dockhook resource, not Harbor's.
    "event": ("create",),
}
# What a robot may be granted (Harbor lets robots hold repository pull/push, which Dockhook accepts and ignores).
ROBOT_GRANTABLE: dict[str, tuple[str, ...]] = {
    "project": ("read",),
    "log": ("list",),
    "repository": ("list", "read", "pull", "push"),
    "notification-policy": CRUDL,
    "event": ("create",),
}

Permission = tuple[str, str]


def _pairs(resource: str, actions: Iterable[str]) -> set[Permission]:
    return {(resource, action) for action in actions}


_READER = _pairs("project", ["read"]) | _pairs("repository", ["list", "read", "pull"])
_MEMBER_VIEW = _pairs("member", ["read", "list"]) | _pairs("log", ["list"]) | _pairs("robot", ["read", "list"])

ROLE_PERMISSIONS: dict[int, frozenset[Permission]] = {
    PROJECT_ADMIN: frozenset({(resource, action) for resource, actions in RESOURCES.items() for action in actions}),
    MAINTAINER: frozenset(
        _READER
        | _MEMBER_VIEW
        | _pairs("repository", ["push"])
        | _pairs("notification-policy", ["read", "list"])
        | _pairs("event", ["create"])
    ),
    DEVELOPER: frozenset(_READER | _MEMBER_VIEW | _pairs("repository", ["push"])),
    GUEST: frozenset(_READER | _MEMBER_VIEW),
    LIMITED_GUEST: frozenset(_READER),
}
PUBLIC_PERMISSIONS: frozenset[Permission] = frozenset(_READER)


def role_allows(role_id: int | None, resource: str, action: str) -> bool:
    return role_id is not None and (resource, action) in ROLE_PERMISSIONS.get(role_id, frozenset())
