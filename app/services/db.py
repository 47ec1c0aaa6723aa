"""Transaction helpers shared by the services: commit, tell a database outage from a bug, read once per transaction."""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any, TypeVar, cast

from sqlalchemy import JSON, ColumnElement, Dialect, Table, insert, select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import Tuple
from sqlalchemy.sql.schema import CallableColumnDefault, ScalarElementColumnDefault
from sqlalchemy.types import TypeDecorator, TypeEngine

from app.extensions import db
from app.models.base import Base
from app.services.errors import DatabaseUnavailable

T = TypeVar("T")
_MEMO = "dockhook.per_transaction"
# Values per IN list: well under the 999 bound parameters old SQLite builds allow per statement.
CHUNK = 500
# insert_rows_ids: below this many rows one INSERT ... RETURNING; from it on insert_rows and a read-back.
RETURNING_ROWS = 64


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
    """Insert ``rows`` (every row with the same keys) in bulk, in the session's transaction.

    PostgreSQL takes them with ``COPY`` (psycopg's copy support): a third of an executemany's time for an
    envelope's rows. Elsewhere one executemany, with NULLs sent as values: by default the ORM leaves a None out
    of its row, splitting rows that differ in which values are None into separate statements. Errors are
    SQLAlchemy's, as for any statement (IntegrityError for a duplicate key, OperationalError for an outage).
    """
    if not rows:
        return
    if db.session.get_bind().dialect.name == "postgresql":
        _copy_rows(model, rows)
        return
    db.session.execute(insert(model).execution_options(render_nulls=True), rows)


def insert_rows_ids(
    model: type[Base], rows: list[dict[str, Any]], key: QueryableAttribute[Any], id_column: QueryableAttribute[int]
) -> dict[Any, int]:
    """:func:`insert_rows`, and the new rows' ids by their unique ``key``.

    An envelope's usual few rows go in one ``INSERT ... RETURNING`` (one round trip); from RETURNING_ROWS rows on,
    :func:`insert_rows` writes them (COPY on PostgreSQL: the cheaper way to write many rows) and :func:`ids_by`
    reads their ids back.
    """
    if not rows:
        return {}
    if len(rows) >= RETURNING_ROWS:
        insert_rows(model, rows)
        return ids_by(key, id_column, (row[key.key] for row in rows))
    table = cast(Table, model.__table__)
    statement = insert(table).returning(table.c[key.key], table.c[id_column.key])
    return {row[0]: row[1] for row in db.session.execute(statement, rows)}


def ids_by(
    key: ColumnElement[Any] | QueryableAttribute[Any], id_column: QueryableAttribute[int], keys: Iterable[Any]
) -> dict[Any, int]:
    """The ids of the rows whose unique ``key`` (a column, or a ``tuple_`` of columns) is in ``keys``, chunked:
    how rows written by :func:`insert_rows` get their ids (a tuple key's values come back as tuples)."""
    ids: dict[Any, int] = {}
    columns = list(key.clauses) if isinstance(key, Tuple) else [key]
    for batch in chunks(dict.fromkeys(keys)):
        for row in db.session.execute(select(*columns, id_column).where(key.in_(batch))):
            ids[tuple(row[:-1]) if len(columns) > 1 else row[0]] = row[-1]
    return ids


def _copy_rows(model: type[Base], rows: list[dict[str, Any]]) -> None:
    connection = db.session.connection()
    dialect = connection.dialect
    table = cast(Table, model.__table__)
    names = list(rows[0])
    # COPY knows nothing of the models' Python-side defaults: apply them as an INSERT would.
    defaults = {
        column.key: _default_of(column.default)
        for column in table.columns
        if column.key not in rows[0] and isinstance(column.default, ScalarElementColumnDefault | CallableColumnDefault)
    }
    columns = [table.c[name] for name in [*names, *defaults]]
    convert = [_copy_value(column.type, dialect) for column in columns]
    statement = f"COPY {table.name} ({', '.join(column.key for column in columns)}) FROM STDIN"
    driver = connection.connection.driver_connection
    assert driver is not None
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                values = [*(row[name] for name in names), *(default() for default in defaults.values())]
                copy.write_row([to(value) for to, value in zip(convert, values, strict=True)])
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(statement, None, exc, dialect.loaded_dbapi.Error) from exc


def _default_of(default: ScalarElementColumnDefault | CallableColumnDefault) -> Callable[[], Any]:
    if isinstance(default, ScalarElementColumnDefault):
        return lambda: default.arg
    # SQLAlchemy wraps a default such as clock.now to take an execution context, which it does not read.
    made = cast(Callable[[Any], Any], default.arg)
    return lambda: made(None)


def _copy_value(kind: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any]:
    """How a value of a column of ``kind`` is written by COPY: as the statement's parameter would be."""
    if isinstance(kind, TypeDecorator):
        decorator = kind
        inner = _copy_value(decorator.impl_instance, dialect)
        return lambda value: inner(decorator.process_bind_param(value, dialect))
    if isinstance(kind, JSON):
        return lambda value: None if value is None else json.dumps(value)
    return lambda value: value
