"""Robot accounts (Harbor 2.x): system or project level, explicit permissions, an expiry, a secret shown once
and stored only as an Argon2id hash."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, true

from app import clock
from app.extensions import db
from app.models import Project, Robot
from app.services import access, audit, passwords, query, roles
from app.services.access import Principal
from app.services.db import commit
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.query import Key, Kind

PREFIX = "robot$"
NAME_RE = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")
MAX_NAME = 255
MAX_DURATION_DAYS = 36500
# Secrets Dockhook generates begin with the robot's id, so ``Authorization: Bearer <secret>`` finds the robot
# without a searchable copy of the secret.
GENERATED_RE = re.compile(r"([0-9]{1,10})\.[A-Za-z0-9_-]{43}")
QUERY_KEYS: dict[str, Key] = {
    "name": Key(Robot.full_name, Kind.TEXT),
    "Level": Key(Robot.level, Kind.TEXT),
    "level": Key(Robot.level, Kind.TEXT),
    "ProjectID": Key(Robot.project_id, Kind.INTEGER),
    "project_id": Key(Robot.project_id, Kind.INTEGER),
    "disable": Key(Robot.disabled, Kind.BOOLEAN),
    "creation_time": Key(Robot.creation_time, Kind.TIME),
}


@dataclass(frozen=True)
class RobotInput:
    name: str
    level: str
    permissions: list[dict[str, Any]]
    duration: int = -1
    description: str = ""
    disable: bool = False
    secret: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def by_id(robot_id: int) -> Robot | None:
    return db.session.get(Robot, robot_id)


def get(robot_id: int) -> Robot:
    """The robot ``robot_id``; raises NotFound."""
    robot = db.session.get(Robot, robot_id)
    if robot is None:
        raise NotFound(f"robot {robot_id} not found")
    return robot


def by_full_name(full_name: str) -> Robot | None:
    """The robot named ``robot$...``, or None."""
    return db.session.scalar(select(Robot).where(Robot.full_name == full_name))


def for_bearer(secret: str) -> Robot | None:
    """The robot a generated secret names (by its id prefix), or None; the secret is not checked here."""
    match = GENERATED_RE.fullmatch(secret)
    return db.session.get(Robot, int(match.group(1))) if match and int(match.group(1)) < 2**31 else None


def expired(robot: Robot) -> bool:
    """Whether the robot's ``expires_at`` has passed (-1 never does)."""
    return robot.expires_at != -1 and robot.expires_at <= int(clock.now().timestamp())


def _duration(days: int) -> int:
    if days != -1 and not 0 < days <= MAX_DURATION_DAYS:
        raise Invalid(f"duration: -1 (never expires) or 1 to {MAX_DURATION_DAYS} days")
    return days


def _expires_at(days: int) -> int:
    return -1 if days == -1 else int(clock.now().timestamp()) + days * 86400


def _permissions(level: str, permissions: list[dict[str, Any]]) -> tuple[Project | None, list[dict[str, Any]]]:
    """Validated permissions, and for a project robot its project. Raises Invalid or NotFound."""
    if not permissions:
        raise Invalid("permissions: a robot needs at least one")
    cleaned = []
    for index, permission in enumerate(permissions):
        where = f"permissions.{index}"
        if permission.get("kind") != "project":
            raise Invalid(f'{where}.kind: Dockhook has project permissions only ("kind": "project")')
        namespace = str(permission.get("namespace", ""))
        if namespace != "*" and db.session.scalar(select(Project.id).where(Project.name == namespace)) is None:
            raise NotFound(f"{where}.namespace: project {namespace} not found")
        access_list = []
        for position, item in enumerate(permission.get("access") or []):
            resource, action = str(item.get("resource", "")), str(item.get("action", ""))
            if action not in roles.ROBOT_GRANTABLE.get(resource, ()):
                grantable = "; ".join(f"{r}: {', '.join(a)}" for r, a in roles.ROBOT_GRANTABLE.items())
                raise Invalid(f"{where}.access.{position}: {resource} {action} cannot be granted ({grantable})")
            access_list.append({"resource": resource, "action": action, "effect": "allow"})
        if not access_list:
            raise Invalid(f"{where}.access: at least one {{resource, action}}")
        cleaned.append({"kind": "project", "namespace": namespace, "access": access_list})
    if level == "system":
        return None, cleaned
    if len(cleaned) != 1 or cleaned[0]["namespace"] == "*":
        raise Invalid("permissions: a project robot has exactly one permission, naming its project")
    project = db.session.scalar(select(Project).where(Project.name == cleaned[0]["namespace"]))
    return project, cleaned


def _may_grant(creator: Principal, project: Project | None, permissions: list[dict[str, Any]]) -> None:
    """A robot is made by a system admin, or by someone who may manage robots of its project and holds every
    permission it is given (Harbor: a robot cannot exceed its creator)."""
    if creator.sysadmin:
        return
    if creator.is_robot:
        raise Forbidden("a robot account cannot create or change robot accounts")
    if project is None:
        raise Forbidden("only a system administrator may manage system robot accounts")
    access.require(creator, project, "robot", "create")
    for item in permissions[0]["access"]:
        if not access.can(creator, project, item["resource"], item["action"]):
            raise Forbidden(f"{creator.name} cannot grant {item['resource']} {item['action']}: it does not hold it")


def create(given: RobotInput, creator: Principal) -> tuple[Robot, str]:
    """Commit a new robot; return it and its secret (shown once: only its hash is stored).

    Raises Invalid, NotFound (a namespace names no project), Forbidden or Conflict (the name is taken)."""
    if given.level not in ("system", "project"):
        raise Invalid('level: "system" or "project"')
    if len(given.name) > MAX_NAME or not NAME_RE.fullmatch(given.name):
        raise Invalid("name: lower-case letters and digits, with . _ - between them")
    project, permissions = _permissions(given.level, given.permissions)
    _may_grant(creator, project, permissions)
    full_name = PREFIX + (f"{project.name}+{given.name}" if project is not None else given.name)
    if by_full_name(full_name) is not None:
        raise Conflict(f"robot {full_name} already exists")
    duration = _duration(given.duration)
    robot = Robot(
        name=given.name,
        full_name=full_name,
        level=given.level,
        project_id=project.id if project is not None else None,
        description=given.description,
        secret_hash="",
        disabled=given.disable,
        duration=duration,
        expires_at=_expires_at(duration),
        permissions=permissions,
        creator=creator.name,
    )
    db.session.add(robot)
    db.session.flush()
    secret = _new_secret(robot, given.secret)
    audit.record("create", "robot", full_name, creator.name, project_id=robot.project_id)
    commit()
    return robot, secret


def _new_secret(robot: Robot, chosen: str | None) -> str:
    if chosen is not None:
        problem = passwords.password_problem(chosen)
        if problem is not None:
            raise Invalid(f"secret: {problem.replace('password', 'secret')}")
        secret = chosen
    else:
        secret = f"{robot.id}.{passwords.generate()}"
    robot.secret_hash = passwords.hash_secret(secret)
    return secret


def require_manage(robot: Robot, principal: Principal, action: str) -> None:
    """Raise Forbidden unless ``principal`` may ``action`` (read, update, delete) this robot."""
    if principal.sysadmin:
        return
    if principal.is_robot and action != "read":
        raise Forbidden("a robot account cannot create or change robot accounts")
    project = db.session.get(Project, robot.project_id) if robot.project_id is not None else None
    if project is None:
        raise Forbidden("only a system administrator may manage system robot accounts")
    access.require(principal, project, "robot", action)


def update(robot: Robot, given: RobotInput, operator: Principal) -> None:
    """Harbor's PUT: description, disable, duration and permissions change; name and level may not."""
    if given.name not in (robot.name, robot.full_name) or given.level != robot.level:
        raise Invalid("the name and level of a robot cannot be changed")
    project, permissions = _permissions(robot.level, given.permissions)
    if project is not None and project.id != robot.project_id:
        raise Invalid("a project robot's permission must name its own project")
    _may_grant(operator, project, permissions)
    if given.duration != robot.duration:
        robot.duration = _duration(given.duration)
        robot.expires_at = _expires_at(robot.duration)
    robot.description = given.description
    robot.disabled = given.disable
    robot.permissions = permissions
    audit.record("update", "robot", robot.full_name, operator.name, project_id=robot.project_id)
    commit()


def refresh(robot: Robot, chosen: str | None, operator: Principal) -> str:
    """Give the robot a new secret (``chosen``, or a generated one); commit; return it (shown once)."""
    secret = _new_secret(robot, chosen)
    audit.record("update", "robot", robot.full_name, operator.name, "secret refreshed", robot.project_id)
    commit()
    return secret


def delete(robot: Robot, operator: Principal) -> None:
    """Delete the robot (its secret stops working at once); commit (audited)."""
    full_name, project_id = robot.full_name, robot.project_id
    db.session.delete(robot)
    audit.record("delete", "robot", full_name, operator.name, project_id=project_id)
    commit()


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """A condition on ``Robot``: the robots ``principal`` may list (none for a robot)."""
    if principal.sysadmin:
        return true()
    if principal.is_robot:
        return false()
    return Robot.project_id.in_(access.project_ids_where(principal, "robot", "list"))


def page(
    principal: Principal, page: int, page_size: int, *, q: str | None = None, sort: str | None = None
) -> tuple[list[Robot], int]:
    """One page of the robots ``principal`` may see (oldest first unless ``sort`` says) and the total."""
    statement = query.filtered(select(Robot), QUERY_KEYS, q).where(or_(visible_to(principal)))
    statement = query.ordered(statement, QUERY_KEYS, sort, [Robot.id])
    total = query.count(statement)
    return list(db.session.scalars(query.paged(statement, page, page_size))), total
