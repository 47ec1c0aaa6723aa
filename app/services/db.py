"""Transaction helpers shared by the services: commit, and tell a database outage from a bug."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from app.extensions import db
from app.services.errors import DatabaseUnavailable


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` means the database is unreachable or busy, not that the statement is wrong."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def commit() -> None:
    """Commit the session; on an outage roll back and raise DatabaseUnavailable."""
    try:
        db.session.commit()
    except DBAPIError as exc:
        db.session.rollback()
        if is_outage(exc):
            raise DatabaseUnavailable(str(exc.orig or exc)) from exc
        raise
