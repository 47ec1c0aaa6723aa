"""Repositories of a project: listing with counters, one by name, and an artifact's recorded media type."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, or_, select

from app.extensions import db
from app.models import Artifact, Project, Repository
from app.services import query
from app.services.errors import NotFound
from app.services.query import Key, Kind

# The keys of ``q`` and ``sort`` on a project's repository list (``name`` is the full name, ``library/nginx``).
QUERY_KEYS: dict[str, Key] = {
    "id": Key(Repository.id, Kind.INTEGER),
    "name": Key(Repository.name, Kind.TEXT),
    "pull_count": Key(Repository.pull_count, Kind.INTEGER),
    "push_count": Key(Repository.push_count, Kind.INTEGER),
    "last_push_time": Key(Repository.last_push_time, Kind.TIME),
    "last_pull_time": Key(Repository.last_pull_time, Kind.TIME),
    "creation_time": Key(Repository.creation_time, Kind.TIME),
    "update_time": Key(Repository.update_time, Kind.TIME),
}


def _artifact_count() -> ColumnElement[Any]:
    return (
        select(func.count(Artifact.id))
        .where(Artifact.repository_id == Repository.id, Artifact.deleted_time.is_(None))
        .scalar_subquery()
    )


def page(
    project: Project,
    page: int,
    page_size: int,
    name: str | None = None,
    *,
    q: str | None = None,
    sort: str | None = None,
) -> tuple[list[tuple[Repository, int]], int]:
    """One page of ``project``'s repositories with artifact counts, and the total; most recently updated first
    unless ``sort`` says. ``name`` matches a part of the name; ``q`` and ``sort`` take ``QUERY_KEYS``."""
    statement = query.filtered(select(Repository).where(Repository.project_id == project.id), QUERY_KEYS, q)
    if name:
        statement = statement.where(Repository.name.contains(name, autoescape=True))
    statement = query.ordered(statement, QUERY_KEYS, sort, [Repository.update_time.desc(), Repository.id.desc()])
    total = query.count(statement)
    rows = db.session.execute(query.paged(statement.add_columns(_artifact_count()), page, page_size)).all()
    return [(row[0], int(row[1])) for row in rows], total


def count(project: Project) -> int:
    """How many repositories ``project`` has."""
    return query.count(select(Repository.id).where(Repository.project_id == project.id))


def get(project: Project, name: str) -> tuple[Repository, int]:
    """The repository ``name`` of ``project`` (the name without the project, as Harbor's path has it; ``a/b``
    for ``project/a/b``) with its artifact count; raises NotFound.

    A single-segment repository of the default project keeps its own name (``alpine``): found by it too.
    """
    names = [Repository.name == f"{project.name}/{name}"]
    if "/" not in name:
        names.append(Repository.name == name)
    row = db.session.execute(
        select(Repository, _artifact_count())
        .where(Repository.project_id == project.id, or_(*names))
        .order_by(func.length(Repository.name).desc())
        .limit(1)
    ).first()
    if row is None:
        raise NotFound(f"repository {name} not found in project {project.name}")
    return row[0], int(row[1])


def media_type_of(repository: str, digest: str) -> str | None:
    """The media type recorded for the manifest ``digest`` of ``repository`` (its full name, ``library/nginx``)
    from the registry's push or pull of it; None when Dockhook never saw it."""
    found = db.session.scalar(
        select(Artifact.media_type)
        .join(Repository, Repository.id == Artifact.repository_id)
        .where(Repository.name == repository, Artifact.digest == digest)
    )
    return found or None
