"""Sign-in: the credentials an ``Authorization`` header presents, checked, as a :class:`Principal`.

HTTP Basic ``name:password`` (accounts), Basic ``robot$...:secret`` and ``Bearer <secret>`` (robots), and the
bootstrap ``DOCKHOOK_API_TOKEN`` (Bearer, or Basic with it as the password). Failures are rate-limited per client
address and per account name, and logged without the secret.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from dataclasses import dataclass

from app.models import Robot, User
from app.services import passwords, robots, signin_throttle, users
from app.services.access import Principal
from app.services.errors import Unauthorized

log = logging.getLogger(__name__)
MAX_NAME = 520
MAX_SECRET = 1024
TOKEN_PRINCIPAL = "api-token"


@dataclass(frozen=True)
class Limits:
    max_failures: int
    window: int


@dataclass(frozen=True)
class Presented:
    scheme: str  # "basic" or "bearer"
    name: str | None
    secret: str


def parse(header: str) -> Presented | None:
    """What ``header`` presents, or None when it is not Basic or Bearer (or not decodable)."""
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return Presented("bearer", None, value)
    if scheme.lower() == "basic":
        try:
            name, sep, secret = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        return Presented("basic", name, secret) if sep else None
    return None


def _storable(text: str, limit: int) -> bool:
    return 0 < len(text) <= limit and "\x00" not in text and not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def authenticate(header: str, address: str, api_token: str | None, limits: Limits) -> Principal:
    """The principal ``header`` signs in as. Raises Unauthorized (nothing that signs in) or TooManyAttempts
    (this address or account failed too often: nothing is checked until the window ends)."""
    presented = parse(header)
    if presented is None:
        raise Unauthorized("the Authorization header is neither HTTP Basic nor Bearer")
    if api_token is not None and hmac.compare_digest(presented.secret.encode(), api_token.encode()):
        return Principal("token", TOKEN_PRINCIPAL, sysadmin=True)
    account = presented.name if presented.name and _storable(presented.name, MAX_NAME) else None
    names = signin_throttle.keys(address, account)
    counted = signin_throttle.check(names, limits.max_failures, limits.window)
    principal = _check(presented, account)
    if principal is None:
        signin_throttle.failed(names, limits.window)
        # The name is logged (it may be a typo of the right one), never the password or secret.
        log.warning("failed sign-in from %s as %r (%s)", address, (account or "")[:64], presented.scheme)
        raise Unauthorized("invalid credentials")
    if account is not None and f"user:{account[:250]}" in counted:
        signin_throttle.succeeded(f"user:{account[:250]}")
    return principal


def _check(presented: Presented, account: str | None) -> Principal | None:
    secret = presented.secret
    if not _storable(secret, MAX_SECRET):
        return None
    if presented.scheme == "bearer":
        robot = robots.for_bearer(secret)
        return _robot(robot, secret) if robot is not None else None
    if account is None:
        return None
    if account.startswith(robots.PREFIX):
        robot = robots.by_full_name(account)
        if robot is None:
            passwords.verify(None, secret)  # an unknown robot name costs what a known one does
            return None
        return _robot(robot, secret)
    user = users.by_name(account)
    if not passwords.verify(user.password_hash if user is not None else None, secret) or user is None:
        return None
    return user_principal(user)


def _robot(robot: Robot, secret: str) -> Principal | None:
    if not passwords.verify(robot.secret_hash, secret) or robot.disabled or robots.expired(robot):
        return None
    return robot_principal(robot)


def user_principal(user: User) -> Principal:
    """The principal an account signs in as (its system-admin flag as stored now)."""
    return Principal("user", user.username, sysadmin=user.sysadmin_flag, user_id=user.id)


def robot_principal(robot: Robot) -> Principal:
    """The principal a robot signs in as, with its permissions as stored now."""
    return Principal(
        "robot", robot.full_name, robot_id=robot.id, permissions=tuple(dict(p) for p in robot.permissions or [])
    )
