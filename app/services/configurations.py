"""System configuration kept in the database: the global ``notification_enable`` switch (off: no policy matches,
events are still recorded; policies.matching reads it with the policies)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Configuration
from app.services.db import commit
from app.services.errors import Invalid

NOTIFICATION_ENABLE = "notification_enable"
DEFAULTS: dict[str, Any] = {NOTIFICATION_ENABLE: True}


def get(key: str) -> Any:
    """The stored value of ``key``, or its default."""
    row = db.session.get(Configuration, key)
    return DEFAULTS[key] if row is None else row.value


def current() -> dict[str, Any]:
    """Every known key with its stored value or default."""
    return {key: get(key) for key in DEFAULTS}


def set(key: str, value: Any) -> None:
    """Store ``value`` for ``key`` and commit; idempotent.

    Raises Invalid for an unknown key or a value not of the default's type (booleans are not numbers here).
    """
    if key not in DEFAULTS:
        raise Invalid(f"{key}: unknown configuration key")
    if type(value) is not type(DEFAULTS[key]):
        raise Invalid(f"{key}: must be a {type(DEFAULTS[key]).__name__}")
    for attempt in (1, 2):
        row = db.session.get(Configuration, key)
        if row is None:
            db.session.add(Configuration(key=key, value=value))
        else:
            row.value = value
        try:
            commit()
            return
        except IntegrityError:
            # Another request inserted the key first; the second pass updates its row.
            db.session.rollback()
            if attempt == 2:
                raise
