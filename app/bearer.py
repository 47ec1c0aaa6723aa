"""The one token check: the credential an ``Authorization`` header presents, compared in constant time (pure)."""

from __future__ import annotations

import base64
import binascii
import hmac


def presented(header: str, *, basic: bool = False) -> str | None:
    """The token in ``Bearer <token>`` (or, with ``basic``, the password of HTTP Basic, as Harbor clients
    send it); None when the header holds neither."""
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value
    if basic and scheme.lower() == "basic":
        try:
            _, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return password
    return None


def matches(header: str, token: str, *, basic: bool = False) -> bool:
    """Whether ``header`` presents ``token``. Constant-time, so the token cannot be guessed byte by byte."""
    value = presented(header, basic=basic)
    return value is not None and hmac.compare_digest(value.encode(), token.encode())
