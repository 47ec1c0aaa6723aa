"""Project members: which user holds which of Harbor's roles in a project."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import Project, ProjectMember, User
from app.services import audit, query, roles
from app.services.db import commit
from app.services.errors import Conflict, Invalid, NotFound


def _role(role_id: int) -> int:
    if role_id not in roles.ROLE_NAMES:
        raise Invalid(f"role_id: must be one of {', '.join(f'{k} ({v})' for k, v in roles.ROLE_NAMES.items())}")
    return role_id


def get(project: Project, member_id: int) -> tuple[ProjectMember, User]:
    """The membership ``member_id`` of ``project`` and its account; raises NotFound (also for another project's)."""
    row = db.session.execute(
        select(ProjectMember, User)
        .join(User, User.id == ProjectMember.user_id)
        .where(ProjectMember.id == member_id, ProjectMember.project_id == project.id)
    ).first()
    if row is None:
        raise NotFound(f"member {member_id} not found in project {project.name}")
    return row[0], row[1]


def add(project: Project, user: User, role_id: int, *, operator: str) -> ProjectMember:
    """Commit ``user`` as a member of ``project`` with ``role_id``; Conflict when already a member."""
    _role(role_id)
    exists = db.session.scalar(
        select(ProjectMember.id).where(ProjectMember.project_id == project.id, ProjectMember.user_id == user.id)
    )
    if exists is not None:
        raise Conflict(f"{user.username} is already a member of project {project.name}")
    member = ProjectMember(project_id=project.id, user_id=user.id, role_id=role_id)
    db.session.add(member)
    audit.record(
        "create", "project_member", f"{project.name}/{user.username}", operator, roles.ROLE_NAMES[role_id], project.id
    )
    commit()
    return member


def change_role(project: Project, member_id: int, role_id: int, *, operator: str) -> None:
    """Give the member another role; commit (audited). Raises NotFound or Invalid (an unknown role)."""
    member, user = get(project, member_id)
    member.role_id = _role(role_id)
    audit.record(
        "update", "project_member", f"{project.name}/{user.username}", operator, roles.ROLE_NAMES[role_id], project.id
    )
    commit()


def remove(project: Project, member_id: int, *, operator: str) -> None:
    """Take the member out of the project; commit (audited). Raises NotFound."""
    member, user = get(project, member_id)
    db.session.delete(member)
    audit.record("delete", "project_member", f"{project.name}/{user.username}", operator, project_id=project.id)
    commit()


def page(
    project: Project, page: int, page_size: int, entityname: str | None = None
) -> tuple[list[tuple[ProjectMember, User]], int]:
    """One page of the project's members (oldest first) and the total; ``entityname`` matches part of a name."""
    conditions: list[Any] = [ProjectMember.project_id == project.id]
    if entityname:
        conditions.append(User.username.contains(entityname, autoescape=True))
    joined: Any = select(ProjectMember, User).join(User, User.id == ProjectMember.user_id)
    total = query.count(select(ProjectMember.id).join(User, User.id == ProjectMember.user_id).where(*conditions))
    statement = joined.where(*conditions)
    rows = db.session.execute(query.paged(statement.order_by(ProjectMember.id), page, page_size)).all()
    return [(row[0], row[1]) for row in rows], total  # type: ignore[misc]
