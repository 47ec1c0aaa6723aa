"""Transaction helpers shared by the services: commit, tell a database outage from a bug, read once per transaction."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any, TypeVar

from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from app.extensions import db
from app.models.base import Base
from app.services.errors import DatabaseUnavailable

T = TypeVar("T")
_MEMO = "dockhook.per_transaction"
# Values per IN list: well under the 999 bound parameters old SQLite builds allow per statement.
CHUNK = 500


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


def per_transaction(key: Hashable, read: Callable[[], T]) -> T:
    """``read()``, read once per database transaction: later calls with ``key`` in the same transaction get the
    first answer (an envelope's events share one read of the switches and policies they all need).

    A new transaction (after a commit or a rollback) reads again. Outside a transaction nothing is kept.
    """
    session = db.session()
    transaction = session.get_transaction()
    if transaction is None:
        return read()
    kept: tuple[Any, dict[Hashable, Any]] | None = session.info.get(_MEMO)
    if kept is None or kept[0] is not transaction:
        kept = (transaction, {})
        session.info[_MEMO] = kept
    values = kept[1]
    if key not in values:
        values[key] = read()
    return values[key]  # type: ignore[no-any-return]


def chunks(values: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """``values`` in lists of at most ``size`` (for ``IN`` lists of any length)."""
    batch: list[T] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def insert_rows(model: type[Base], rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (every row with the same keys) in bulk: one executemany, not one statement per row.

    NULLs are sent as values: by default the ORM leaves a None out of its row, splitting rows that differ in
    which values are None into separate statements (an envelope of tagged and untagged pushes, one each).
    """
    if rows:
        db.session.execute(insert(model).execution_options(render_nulls=True), rows)
