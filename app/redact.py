"""Secrets out of sight: the mask shown for secret values and URL credentials (pure)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

MASK = "******"


def mask(secret: str | None) -> str:
    """The mask for a set secret, ``""`` for none."""
    return MASK if secret else ""


def redact_url(url: str) -> str:
    """``url`` with any password in its user-info replaced by the mask."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{MASK}@{host}"))
