"""Repositories of a project: listing with counters."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import Artifact, Project, Repository


def page(
    project: Project, page: int, page_size: int, name: str | None = None
) -> tuple[list[tuple[Repository, int]], int]:
    """One page of ``project``'s repositories (most recently updated first) with artifact counts, and the total."""
    query = select(Repository).where(Repository.project_id == project.id)
    if name:
        query = query.where(Repository.name.contains(name, autoescape=True))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    artifacts = (
        select(func.count(Artifact.id))
        .where(Artifact.repository_id == Repository.id, Artifact.deleted_time.is_(None))
        .scalar_subquery()
    )
    rows = db.session.execute(
        query.add_columns(artifacts)
        .order_by(Repository.update_time.desc(), Repository.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return [(row[0], int(row[1])) for row in rows], total
