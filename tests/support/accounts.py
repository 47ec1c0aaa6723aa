"""Accounts, members and robots for tests, written straight to the database with real Argon2id hashes.

The hashes are made once per session (Argon2 is slow by design) and the sign-in cache remembers a verified
(hash, secret) pair, so a table of a dozen principals costs a few verifications, not hundreds."""

from __future__ import annotations

import base64
from functools import cache
from typing import Any

from app import clock
from app.extensions import db
from app.models import Project, ProjectMember, Robot, User
from app.services import passwords

PASSWORD = "Passw0rd-of-tests"
ROBOT_SECRET = "Robot-s3cret-of-tests"


@cache
def password_hash() -> str:
    return passwords.hash_secret(PASSWORD)


@cache
def robot_secret_hash() -> str:
    return passwords.hash_secret(ROBOT_SECRET)


def basic(name: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{secret}".encode()).decode()}


def user(name: str, *, sysadmin: bool = False) -> User:
    """An account with PASSWORD (in the session; the caller commits)."""
    row = User(username=name, password_hash=password_hash(), sysadmin_flag=sysadmin)
    db.session.add(row)
    db.session.flush()
    return row


def member(project: Project, account: User, role_id: int) -> None:
    db.session.add(ProjectMember(project_id=project.id, user_id=account.id, role_id=role_id))
    db.session.flush()


def robot(
    name: str,
    permissions: list[dict[str, Any]],
    *,
    project: Project | None = None,
    disabled: bool = False,
    expires_at: int = -1,
) -> Robot:
    """A robot with ROBOT_SECRET (in the session; the caller commits). ``expires_at=0``: already expired."""
    full_name = "robot$" + (f"{project.name}+{name}" if project is not None else name)
    row = Robot(
        name=name,
        full_name=full_name,
        level="project" if project is not None else "system",
        project_id=project.id if project is not None else None,
        secret_hash=robot_secret_hash(),
        disabled=disabled,
        duration=-1,
        expires_at=expires_at if expires_at != 0 else int(clock.now().timestamp()) - 1,
        permissions=permissions,
        creator="tests",
    )
    db.session.add(row)
    db.session.flush()
    return row


def grant(namespace: str, *pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "kind": "project",
            "namespace": namespace,
            "access": [{"resource": r, "action": a, "effect": "allow"} for r, a in pairs],
        }
    ]
