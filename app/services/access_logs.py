"""The access log of a project: newest first, filtered by operation and repository."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import AccessLog, Project

OPERATIONS = ("push", "pull", "delete")


def page(
    project: Project,
    page: int,
    page_size: int,
    operation: str | None = None,
    repository: str | None = None,
) -> tuple[list[AccessLog], int]:
    """One page of ``project``'s access log, newest first, and the total matching rows."""
    query = select(AccessLog).where(AccessLog.project_id == project.id)
    if operation:
        query = query.where(AccessLog.operation == operation)
    if repository:
        query = query.where(AccessLog.repo_name == repository)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(
        query.order_by(AccessLog.op_time.desc(), AccessLog.id.desc()).limit(page_size).offset((page - 1) * page_size)
    )
    return list(rows), total
