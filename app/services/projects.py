"""Projects: look up, create, list."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Project, Repository
from app.naming import PROJECT_NAME_MAX, PROJECT_NAME_RE
from app.services.db import commit
from app.services.errors import Conflict, Invalid, NotFound


def by_name(name: str) -> Project | None:
    return db.session.scalar(select(Project).where(Project.name == name))


def get(name_or_id: str) -> Project:
    """The project with that numeric id (as Harbor reads a number), else with that name; raises NotFound."""
    project = db.session.get(Project, int(name_or_id)) if name_or_id.isdigit() else None
    if project is None:
        project = by_name(name_or_id)
    if project is None:
        raise NotFound(f"project {name_or_id} not found")
    return project


def validate_name(name: str) -> str:
    if not name or len(name) > PROJECT_NAME_MAX or not PROJECT_NAME_RE.fullmatch(name):
        raise Invalid(
            f"project name {name!r} is invalid: 1-{PROJECT_NAME_MAX} lower-case letters or digits, "
            "separated by single '.', '_' or '-'"
        )
    return name


def create(name: str, public: bool) -> Project:
    """Create and commit a project; raises Invalid for a bad name and Conflict if it exists."""
    validate_name(name)
    if by_name(name) is not None:
        raise Conflict(f"project {name} already exists")
    project = Project(name=name, public=public)
    db.session.add(project)
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


def page(page: int, page_size: int, name: str | None = None) -> tuple[list[tuple[Project, int]], int]:
    """One page of projects (oldest first) with their repository counts, and the total."""
    query = select(Project)
    if name:
        query = query.where(Project.name.contains(name, autoescape=True))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    repo_count = select(func.count(Repository.id)).where(Repository.project_id == Project.id).scalar_subquery()
    rows = db.session.execute(
        query.add_columns(repo_count).order_by(Project.id).limit(page_size).offset((page - 1) * page_size)
    ).all()
    return [(row[0], int(row[1])) for row in rows], total
