"""Who is calling (a :class:`Principal`) and what they may do: Harbor's permission check, and the SQL
conditions that narrow lists to what the caller may see."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, true

from app.extensions import db
from app.models import Project, ProjectMember
from app.services import roles
from app.services.errors import Forbidden


@dataclass(frozen=True)
class Principal:
    """``kind``: ``user`` (an account), ``robot``, ``token`` (DOCKHOOK_API_TOKEN: a system admin) or ``open``
    (no DOCKHOOK_API_TOKEN configured and no credentials sent: the loopback development mode, a system admin).
    ``permissions`` are a robot's ``[{kind, namespace, access}]``."""

    kind: str
    name: str
    sysadmin: bool = False
    user_id: int | None = None
    robot_id: int | None = None
    permissions: tuple[dict[str, Any], ...] = field(default=())

    @property
    def is_robot(self) -> bool:
        return self.kind == "robot"


def role_in(principal: Principal, project: Project) -> int | None:
    """The user's role id in ``project`` (None: not a member, or not a user)."""
    if principal.user_id is None:
        return None
    return db.session.scalar(
        select(ProjectMember.role_id).where(
            ProjectMember.project_id == project.id, ProjectMember.user_id == principal.user_id
        )
    )


def robot_allows(permissions: tuple[dict[str, Any], ...], project_name: str, resource: str, action: str) -> bool:
    """Whether a robot's ``permissions`` grant ``action`` on ``resource`` in ``project_name`` (or in ``*``)."""
    for permission in permissions:
        if permission.get("kind") != "project" or permission.get("namespace") not in (project_name, "*"):
            continue
        for access in permission.get("access", []):
            if access.get("resource") == resource and access.get("action") in (action, "*"):
                return True
    return False


def can(principal: Principal, project: Project, resource: str, action: str) -> bool:
    """Whether ``principal`` may do ``action`` on ``resource`` of ``project`` (Harbor 2.x's rules)."""
    if principal.sysadmin:
        return True
    if project.public and (resource, action) in roles.PUBLIC_PERMISSIONS:
        return True
    if principal.is_robot:
        return robot_allows(principal.permissions, project.name, resource, action)
    return roles.role_allows(role_in(principal, project), resource, action)


def require(principal: Principal, project: Project, resource: str, action: str) -> None:
    """Raise Forbidden unless ``principal`` may do ``action`` on ``resource`` of ``project``."""
    if not can(principal, project, resource, action):
        raise Forbidden(f"{principal.name} may not {action} {resource} of project {project.name}")


def require_sysadmin(principal: Principal) -> None:
    """Raise Forbidden unless ``principal`` is a system administrator."""
    if not principal.sysadmin:
        raise Forbidden(f"{principal.name} is not a system administrator")


def projects_where(principal: Principal, resource: str, action: str) -> ColumnElement[bool]:
    """A condition on ``Project`` true for the projects where ``principal`` may do ``action`` on ``resource``
    (lists use it, so their ``X-Total-Count`` counts only what the caller may see)."""
    if principal.sysadmin:
        return true()
    public: ColumnElement[bool] = (
        Project.public.is_(True) if (resource, action) in roles.PUBLIC_PERMISSIONS else false()
    )
    if principal.is_robot:
        names = {
            str(p.get("namespace"))
            for p in principal.permissions
            if robot_allows((p,), str(p.get("namespace")), resource, action)
        }
        if "*" in names:
            return true()
        return or_(public, Project.name.in_(sorted(names)))
    allowed_roles = [role for role, granted in roles.ROLE_PERMISSIONS.items() if (resource, action) in granted]
    member_of = select(ProjectMember.project_id).where(
        ProjectMember.user_id == principal.user_id, ProjectMember.role_id.in_(allowed_roles)
    )
    return or_(public, Project.id.in_(member_of))


def project_ids_where(principal: Principal, resource: str, action: str) -> Any:
    """``projects_where`` as a subquery of project ids (for lists of rows that carry a ``project_id``)."""
    return select(Project.id).where(projects_where(principal, resource, action))
