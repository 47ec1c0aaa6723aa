"""Standard Webhooks signatures: ``webhook-signature: v1,<base64 HMAC-SHA256(id.timestamp.body)>``."""

from __future__ import annotations

import base64
import hashlib
import hmac

from app.services.signing import secret_key


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1`` signature of exactly the bytes sent, with the target's ``whsec_`` secret."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()
