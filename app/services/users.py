"""Local accounts: create, change password or admin flag, delete, look up, list."""

from __future__ import annotations

import re

from sqlalchemy import delete as sql_delete
from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.services import audit, passwords, query
from app.services.db import commit
from app.services.errors import Conflict, Invalid, NotFound
from app.services.query import Key, Kind

# Harbor's rule: 1-255 characters, none of ,"~#%$ nor a space or control character. "robot$" names are robots.
USERNAME_RE = re.compile(r"[^,\"~#%$\s\x00-\x1f\x7f]{1,255}")
QUERY_KEYS: dict[str, Key] = {
    "username": Key(User.username, Kind.TEXT),
    "email": Key(User.email, Kind.TEXT),
    "sysadmin_flag": Key(User.sysadmin_flag, Kind.BOOLEAN),
    "creation_time": Key(User.creation_time, Kind.TIME),
    "update_time": Key(User.update_time, Kind.TIME),
}


def by_name(username: str) -> User | None:
    """The account named ``username``, or None."""
    return db.session.scalar(select(User).where(User.username == username))


def by_id(user_id: int) -> User | None:
    return db.session.get(User, user_id)


def get(user_id: int) -> User:
    """The account ``user_id``; raises NotFound."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def validate_username(username: str) -> str:
    """``username`` if Harbor would take it; raises Invalid."""
    if not USERNAME_RE.fullmatch(username):
        raise Invalid('username: 1 to 255 characters, without spaces, control characters or any of ,"~#%$')
    return username


def validate_password(password: str) -> str:
    """``password`` if strong enough (app.services.passwords); raises Invalid."""
    problem = passwords.password_problem(password)
    if problem is not None:
        raise Invalid(f"password: {problem}")
    return password


def create(
    username: str,
    password: str,
    *,
    sysadmin: bool = False,
    email: str = "",
    realname: str = "",
    comment: str = "",
    operator: str,
) -> User:
    """Commit a new account; the password is stored as an Argon2id hash only. Raises Invalid or Conflict."""
    validate_username(username)
    validate_password(password)
    if by_name(username) is not None:
        raise Conflict(f"user {username} already exists")
    user = User(
        username=username,
        password_hash=passwords.hash_secret(password),
        sysadmin_flag=sysadmin,
        email=email,
        realname=realname,
        comment=comment,
    )
    db.session.add(user)
    audit.record("create", "user", username, operator)
    commit()
    return user


def set_password(user: User, password: str, *, operator: str) -> None:
    """Store a new password's hash and commit (audited without the password); raises Invalid when weak."""
    validate_password(password)
    user.password_hash = passwords.hash_secret(password)
    audit.record("update", "user", user.username, operator, "password changed")
    commit()


def set_sysadmin(user: User, sysadmin: bool, *, operator: str) -> None:
    """Make the account a system administrator, or not; commit (audited)."""
    user.sysadmin_flag = sysadmin
    audit.record("update", "user", user.username, operator, f"sysadmin_flag set to {str(sysadmin).lower()}")
    commit()


def update_profile(user: User, *, email: str | None, realname: str | None, comment: str | None, operator: str) -> None:
    """Change the given profile fields (None: keep); commit (audited)."""
    for name, value in (("email", email), ("realname", realname), ("comment", comment)):
        if value is not None:
            setattr(user, name, value)
    audit.record("update", "user", user.username, operator, "profile changed")
    commit()


def delete(user: User, *, operator: str) -> None:
    """Delete the account and its memberships; commit."""
    username = user.username
    db.session.execute(sql_delete(User).where(User.id == user.id))
    audit.record("delete", "user", username, operator)
    commit()


def page(
    page: int, page_size: int, *, q: str | None = None, sort: str | None = None, username: str | None = None
) -> tuple[list[User], int]:
    """One page of accounts, oldest first unless ``sort`` says, and the total."""
    statement = query.filtered(select(User), QUERY_KEYS, q)
    if username:
        statement = statement.where(User.username.contains(username, autoescape=True))
    statement = query.ordered(statement, QUERY_KEYS, sort, [User.id])
    total = query.count(statement)
    return list(db.session.scalars(query.paged(statement, page, page_size))), total
