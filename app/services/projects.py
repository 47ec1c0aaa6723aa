"""Projects: look up, create, list, update and delete."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, select
from sqlalchemy import delete as sql_delete
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Project, ProjectMember, Repository, WebhookPolicy
from app.naming import project_name_problem
from app.services import query
from app.services.db import commit
from app.services.errors import Conflict, Invalid, NotFound, ServiceError
from app.services.query import Key, Kind
from app.services.roles import PROJECT_ADMIN

# The keys of ``q`` and ``sort`` on the project list.
QUERY_KEYS: dict[str, Key] = {
    "project_id": Key(Project.id, Kind.INTEGER),
    "name": Key(Project.name, Kind.TEXT),
    "public": Key(Project.public, Kind.BOOLEAN),
    "creation_time": Key(Project.creation_time, Kind.TIME),
    "update_time": Key(Project.update_time, Kind.TIME),
}


class NotDeletable(ServiceError):
    """The project still holds something that must go first (Harbor's ``_deletable`` rule)."""

    code = "PRECONDITION"
    status = 412


def by_name(name: str) -> Project | None:
    return db.session.scalar(select(Project).where(Project.name == name))


def get(name_or_id: str, *, is_name: bool = False) -> Project:
    """The project with that numeric id (as Harbor reads a number), else with that name; raises NotFound.

    ``is_name`` (Harbor's ``X-Is-Resource-Name: true``) reads ``name_or_id`` as a name only, so a project whose
    name is all digits can be reached.
    """
    project = None
    # A number past the id column's range can only be a name (and must not reach the database as an id).
    if not is_name and name_or_id.isascii() and name_or_id.isdigit() and len(name_or_id) <= 10:
        project = db.session.get(Project, int(name_or_id)) if int(name_or_id) <= query.INT32[1] else None
    if project is None:
        project = by_name(name_or_id)
    if project is None:
        raise NotFound(f"project {name_or_id} not found")
    return project


def validate_name(name: str) -> str:
    """``name`` if it is a valid project name by Harbor's rule (``app.naming``); raises Invalid saying why not."""
    problem = project_name_problem(name)
    if problem is not None:
        raise Invalid(f"project_name: {problem}")
    return name


def create(name: str, public: bool, owner_user_id: int | None = None) -> Project:
    """Create and commit a project; raises Invalid for a bad name and Conflict if it exists. ``owner_user_id``:
    the account that created it, made its projectAdmin in the same transaction (as Harbor does)."""
    validate_name(name)
    if by_name(name) is not None:
        raise Conflict(f"project {name} already exists")
    project = Project(name=name, public=public)
    db.session.add(project)
    if owner_user_id is not None:
        db.session.flush()
        db.session.add(ProjectMember(project_id=project.id, user_id=owner_user_id, role_id=PROJECT_ADMIN))
    try:
        commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(f"project {name} already exists") from None
    return project


def ensure(name: str) -> Project:
    """The project ``name``, created (not committed) if missing. The caller owns the transaction."""
    project = by_name(name)
    if project is None:
        project = Project(name=name, public=False)
        db.session.add(project)
        db.session.flush()
    return project


def update(project: Project, public: bool | None) -> Project:
    """Set what was given of the project's settings (today: ``public``) and commit; ``update_time`` moves."""
    if public is not None:
        project.public = public
    db.session.add(project)
    commit()
    return project


def delete(project: Project) -> None:
    """Delete the project and the history kept under it (access log, events, hook jobs), and commit.

    Raises NotDeletable (412) while it has repositories or webhook policies, as Harbor refuses then: delete
    those first.
    """
    # Their foreign keys cascade: without the row lock a policy or repository committed between the count and
    # the DELETE would be deleted with the project. Locked, such an insert waits and then fails on its key.
    db.session.execute(select(Project.id).where(Project.id == project.id).with_for_update())
    repositories = query.count(select(Repository.id).where(Repository.project_id == project.id))
    policies = query.count(select(WebhookPolicy.id).where(WebhookPolicy.project_id == project.id))
    reasons = []
    if repositories:
        reasons.append(f"{repositories} repositories")
    if policies:
        reasons.append(f"{policies} webhook policies")
    if reasons:
        raise NotDeletable(f"project {project.name} cannot be deleted: it still has {' and '.join(reasons)}")
    db.session.execute(sql_delete(Project).where(Project.id == project.id))
    commit()


def page(
    page: int,
    page_size: int,
    name: str | None = None,
    *,
    public: bool | None = None,
    q: str | None = None,
    sort: str | None = None,
    visible: ColumnElement[bool] | None = None,
) -> tuple[list[tuple[Project, int]], int]:
    """One page of projects with their repository counts, and the total; oldest first unless ``sort`` says.

    ``name`` matches a part of the name; ``q`` and ``sort`` take ``QUERY_KEYS`` (raise Invalid otherwise);
    ``visible`` (app.services.access.projects_where) keeps the projects the caller may see.
    """
    statement = query.filtered(select(Project), QUERY_KEYS, q)
    if visible is not None:
        statement = statement.where(visible)
    if name:
        statement = statement.where(Project.name.contains(name, autoescape=True))
    if public is not None:
        statement = statement.where(Project.public == public)
    statement = query.ordered(statement, QUERY_KEYS, sort, [Project.id])
    total = query.count(statement)
    repo_count = select(func.count(Repository.id)).where(Repository.project_id == Project.id).scalar_subquery()
    rows = db.session.execute(query.paged(statement.add_columns(repo_count), page, page_size)).all()
    return [(row[0], int(row[1])) for row in rows], total
