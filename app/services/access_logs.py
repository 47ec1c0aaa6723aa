"""The access log: a project's or every project's, newest first, filtered by operation, repository and ``q``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, case, literal_column, select

from app.extensions import db
from app.models import AccessLog, Project
from app.services import query
from app.services.query import Key, Kind

OPERATIONS = ("push", "pull", "delete")

# What the API shows as ``resource``: ``repo:tag``, else ``repo@digest``, else the repository.
RESOURCE: ColumnElement[Any] = case(
    (AccessLog.repo_tag != "", AccessLog.repo_name + ":" + AccessLog.repo_tag),
    (AccessLog.digest != "", AccessLog.repo_name + "@" + AccessLog.digest),
    else_=AccessLog.repo_name,
)

# The keys of ``q`` and ``sort`` on both access-log lists (Harbor's audit-log keys and ours).
QUERY_KEYS: dict[str, Key] = {
    "id": Key(AccessLog.id, Kind.INTEGER),
    "username": Key(AccessLog.username, Kind.TEXT),
    "operation": Key(AccessLog.operation, Kind.TEXT),
    "resource": Key(RESOURCE, Kind.TEXT),
    "resource_type": Key(literal_column("'artifact'"), Kind.TEXT, sortable=False),
    "op_time": Key(AccessLog.op_time, Kind.TIME),
    "project_id": Key(AccessLog.project_id, Kind.INTEGER),
    "repo_name": Key(AccessLog.repo_name, Kind.TEXT),
    "repo_tag": Key(AccessLog.repo_tag, Kind.TEXT),
    "digest": Key(AccessLog.digest, Kind.TEXT),
}


def page(
    project: Project | None,
    page: int,
    page_size: int,
    operation: str | None = None,
    repository: str | None = None,
    *,
    q: str | None = None,
    sort: str | None = None,
    project_ids: Any = None,
) -> tuple[list[AccessLog], int]:
    """One page of ``project``'s access log (every project's when None), newest first unless ``sort`` says,
    and the total matching rows. ``q`` and ``sort`` take ``QUERY_KEYS`` (raise Invalid otherwise).
    ``project_ids`` (a select of project ids) keeps only those projects' rows."""
    statement = query.filtered(select(AccessLog), QUERY_KEYS, q)
    if project_ids is not None:
        statement = statement.where(AccessLog.project_id.in_(project_ids))
    if project is not None:
        statement = statement.where(AccessLog.project_id == project.id)
    if operation:
        statement = statement.where(AccessLog.operation == operation)
    if repository:
        statement = statement.where(AccessLog.repo_name == repository)
    statement = query.ordered(statement, QUERY_KEYS, sort, [AccessLog.op_time.desc(), AccessLog.id.desc()])
    total = query.count(statement)
    return list(db.session.scalars(query.paged(statement, page, page_size))), total
