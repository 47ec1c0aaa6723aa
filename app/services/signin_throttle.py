"""The sign-in rate limit: failures counted per client address and per account name, in the database so
every gunicorn worker and machine shares them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from app import clock
from app.extensions import db
from app.models import SigninFailure
from app.services.db import commit
from app.services.errors import TooManyAttempts


def keys(address: str, account: str | None) -> list[str]:
    found = [f"addr:{address[:250]}"]
    if account:
        found.append(f"user:{account[:250]}")
    return found


def check(names: list[str], max_failures: int, window: int) -> set[str]:
    """Raise TooManyAttempts (with the seconds until the window ends) when any key is over the limit; return
    the keys that have failures counted."""
    now = clock.now()
    rows = db.session.execute(
        select(SigninFailure.key, SigninFailure.failures, SigninFailure.window_start).where(
            SigninFailure.key.in_(names)
        )
    ).all()
    for row in rows:
        ends = row.window_start + timedelta(seconds=window)
        if row.failures >= max_failures and now < ends:
            what = "this address" if row.key.startswith("addr:") else "this account"
            retry_after = max(1, int((ends - now).total_seconds()) + 1)
            raise TooManyAttempts(f"too many failed sign-ins from {what}; try again later", retry_after)
    return {row.key for row in rows}


def failed(names: list[str], window: int) -> None:
    """Count one failure against each key (a new window when the last one ended); commit."""
    now = clock.now()
    start_before = now - timedelta(seconds=window)
    for name in names:
        renewed = db.session.execute(
            update(SigninFailure)
            .where(SigninFailure.key == name, SigninFailure.window_start <= start_before)
            .values(failures=1, window_start=now)
            .execution_options(synchronize_session=False)
        )
        if renewed.rowcount:  # type: ignore[attr-defined]
            continue
        counted = db.session.execute(
            update(SigninFailure)
            .where(SigninFailure.key == name)
            .values(failures=SigninFailure.failures + 1)
            .execution_options(synchronize_session=False)
        )
        if counted.rowcount:  # type: ignore[attr-defined]
            continue
        try:
            with db.session.begin_nested():
                db.session.add(SigninFailure(key=name, failures=1, window_start=now))
        except IntegrityError:  # another process counted the first failure at the same moment
            db.session.execute(
                update(SigninFailure).where(SigninFailure.key == name).values(failures=SigninFailure.failures + 1)
            )
    commit()


def succeeded(account_key: str) -> None:
    """A good sign-in clears the account's count (not the address's); commit."""
    db.session.execute(delete(SigninFailure).where(SigninFailure.key == account_key))
    commit()
