"""Signing secrets of webhook targets (Standard Webhooks ``whsec_<base64>``): validation and key bytes."""

from __future__ import annotations

import base64
import binascii

PREFIX = "whsec_"
MIN_BYTES, MAX_BYTES = 24, 64


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret. Raises ValueError (never quoting it) when it is not one."""
    if not secret.startswith(PREFIX):
        raise ValueError(f"must start with {PREFIX}")
    encoded = secret[len(PREFIX) :]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"must be {PREFIX} followed by base64") from None
    if not MIN_BYTES <= len(key) <= MAX_BYTES:
        raise ValueError(f"must encode {MIN_BYTES} to {MAX_BYTES} random bytes")
    return key
