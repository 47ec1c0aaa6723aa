"""The audit trail of account, project-member and robot changes (Harbor's ``audit-log-exts``)."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry
from app.services import query
from app.services.query import Key, Kind

QUERY_KEYS: dict[str, Key] = {
    "operation": Key(AuditEntry.operation, Kind.TEXT),
    "resource_type": Key(AuditEntry.resource_type, Kind.TEXT),
    "resource": Key(AuditEntry.resource, Kind.TEXT),
    "username": Key(AuditEntry.username, Kind.TEXT),
    "op_time": Key(AuditEntry.op_time, Kind.TIME),
}


def record(
    operation: str,
    resource_type: str,
    resource: str,
    username: str,
    description: str = "",
    project_id: int | None = None,
) -> None:
    """Add an entry in the caller's transaction (it commits with the change it describes, or not at all).
    Never pass a secret: entries name things, they do not quote them."""
    db.session.add(
        AuditEntry(
            operation=operation,
            operation_description=description[:1024],
            resource_type=resource_type,
            resource=resource[:520],
            project_id=project_id,
            username=username[:520],
        )
    )


def page(page: int, page_size: int, *, q: str | None = None, sort: str | None = None) -> tuple[list[AuditEntry], int]:
    """One page of entries, newest first unless ``sort`` says, and the total; ``q`` and ``sort`` take
    ``QUERY_KEYS`` (raise Invalid otherwise)."""
    statement = query.filtered(select(AuditEntry), QUERY_KEYS, q)
    statement = query.ordered(statement, QUERY_KEYS, sort, [AuditEntry.op_time.desc(), AuditEntry.id.desc()])
    total = query.count(statement)
    return list(db.session.scalars(query.paged(statement, page, page_size))), total
