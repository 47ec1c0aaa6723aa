"""Password and robot-secret hashing (Argon2id, argon2-cffi's defaults), verification, and secret generation."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app import clock

# argon2-cffi's RFC 9106 "low memory" profile: Argon2id, t=3, m=64 MiB, p=4.
_HASHER = PasswordHasher()
# Successful verifications, remembered briefly in this process: a client that sends Basic credentials on
# every request pays for Argon2 once every few minutes, not on every call. Keyed by an HMAC of (hash,
# secret) under a key that lives only in this process: a changed password or refreshed secret has a new
# hash, so no old entry can match it. Failures are never remembered (each costs a full verification).
_VERIFIED: dict[bytes, datetime] = {}
_CACHE_KEY = secrets.token_bytes(32)
_VERIFIED_FOR = timedelta(minutes=5)
_VERIFIED_MAX = 4096
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256


@cache
def _dummy() -> str:
    """Verified against when the account does not exist, so a wrong name costs as long as a wrong password (made
    on first use: nothing is hashed at import time)."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def hash_secret(secret: str) -> str:
    """The Argon2id hash (a PHC string carrying its salt and parameters) of ``secret``."""
    return _HASHER.hash(secret)


def verify(stored_hash: str | None, secret: str) -> bool:
    """Whether ``secret`` matches ``stored_hash`` (None: no such account; still costs one verification)."""
    now = clock.now()
    key = hmac.new(_CACHE_KEY, f"{stored_hash}\0{secret}".encode(), hashlib.sha256).digest() if stored_hash else b""
    seen = _VERIFIED.get(key)
    if seen is not None and timedelta(0) <= now - seen < _VERIFIED_FOR:
        return True
    try:
        matched = _HASHER.verify(stored_hash or _dummy(), secret) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False
    if matched:
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[key] = now
    return matched


def generate() -> str:
    """A new random secret (32 bytes, URL-safe base64): robot secrets and generated passwords."""
    return secrets.token_urlsafe(32)


def password_problem(password: str) -> str | None:
    """Why ``password`` is not acceptable, or None. Harbor asks for 8+ characters with upper, lower and digit."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        return f"the password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters long"
    if not (any(c.isupper() for c in password) and any(c.islower() for c in password)):
        return "the password must contain upper- and lower-case letters"
    if not any(c.isdigit() for c in password):
        return "the password must contain a digit"
    return None
