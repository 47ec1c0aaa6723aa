"""Target credentials at rest: auth headers and signing secrets, Fernet-encrypted with ``DOCKHOOK_SECRET_KEYS``.

A policy target stores ``auth_header_enc`` and ``secret_enc`` (and, while a replaced signing secret is still
in its overlap, ``previous_secret_enc`` and ``previous_secret_until``); nothing else holds them. Hook jobs
keep only a snapshot without secrets, and the worker reads the current credentials at send time.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import inspect, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.extensions import current_settings, db
from app.models import Configuration, HookJob, WebhookPolicy
from app.services.db import commit, is_outage

log = logging.getLogger(__name__)

# The stored fields that hold ciphertext, and the non-secret fields a hook job's snapshot keeps.
ENCRYPTED_FIELDS = ("auth_header_enc", "secret_enc", "previous_secret_enc")
SNAPSHOT_FIELDS = ("type", "address", "skip_cert_verify", "payload_format")
# A known value encrypted with the keys in use: tells a wrong DOCKHOOK_SECRET_KEYS at start-up.
KEY_CHECK = "secret_key_check"
_KEY_CHECK_TEXT = b"dockhook: DOCKHOOK_SECRET_KEYS opens this"


class KeyMismatch(Exception):
    """None of the configured keys decrypts what the database holds."""


@dataclass(frozen=True)
class TargetCredentials:
    """What a worker needs from the policy at send time. The secrets never show in a repr."""

    address: str
    skip_cert_verify: bool
    auth_header: str = field(default="", repr=False)
    signing_secrets: tuple[str, ...] = field(default=(), repr=False)
    # Deliveries per second this target takes at most, across every worker (None: no limit).
    max_per_second: float | None = None


def _box(keys: tuple[str, ...] | None = None) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in (keys or current_settings().secret_keys)])


def encrypt(value: str, keys: tuple[str, ...] | None = None) -> str:
    """The ciphertext of ``value`` under the first key; ``""`` stays ``""`` (nothing set)."""
    return _box(keys).encrypt(value.encode()).decode() if value else ""


def decrypt(token: str, keys: tuple[str, ...] | None = None) -> str:
    """The clear value of ``token`` (any configured key); raises KeyMismatch when no key opens it."""
    if not token:
        return ""
    try:
        return _box(keys).decrypt(token.encode()).decode()
    except InvalidToken:
        raise KeyMismatch("no key in DOCKHOOK_SECRET_KEYS decrypts a stored secret") from None


def snapshot(target: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a target a hook job keeps for its history: no credential, encrypted or not."""
    return {key: target[key] for key in SNAPSHOT_FIELDS if key in target}


def signing_secrets(target: Mapping[str, Any], now: datetime) -> tuple[str, ...]:
    """The target's current signing secret, then the replaced one while its overlap lasts."""
    secrets = [decrypt(str(target.get("secret_enc") or ""))]
    until = target.get("previous_secret_until")
    if target.get("previous_secret_enc") and until and datetime.fromisoformat(str(until)) > now:
        secrets.append(decrypt(str(target["previous_secret_enc"])))
    return tuple(s for s in secrets if s)


def secret_fields(stored: Mapping[str, Any] | None, new_secret: str, now: datetime) -> dict[str, Any]:
    """The stored signing-secret fields of a target whose secret is set to ``new_secret`` (clear, or ``""``).

    Replacing a secret keeps the old one signing for DOCKHOOK_SECRET_ROTATION_OVERLAP (Standard Webhooks
    rotation: both signatures in ``webhook-signature``); setting the same secret again keeps an overlap
    already running; removing it ends signing at once.
    """
    if not new_secret:
        return {"secret_enc": ""}
    old_enc = str((stored or {}).get("secret_enc") or "")
    if old_enc and decrypt(old_enc) == new_secret:
        kept = {k: stored[k] for k in ("previous_secret_enc", "previous_secret_until") if stored and stored.get(k)}
        return {"secret_enc": old_enc, **(kept if len(kept) == 2 else {})}
    fields: dict[str, Any] = {"secret_enc": encrypt(new_secret)}
    if old_enc:
        until = now + timedelta(seconds=current_settings().secret_rotation_overlap)
        fields.update(previous_secret_enc=old_enc, previous_secret_until=until.isoformat())
    return fields


def current_target(targets: list[dict[str, Any]], snapshot: Mapping[str, Any], index: int) -> dict[str, Any] | None:
    """The policy target a job's ``snapshot`` (made at ``index``) delivers to now, or None when it is gone.

    The target at the job's index if it still has the snapshot's address and type, else the first target
    with that address and type (targets were reordered). A target whose address changed or was removed is
    gone: its new credentials must never go to the old address.
    """
    wanted = (snapshot.get("address"), snapshot.get("type"))
    candidates = ([targets[index]] if index < len(targets) else []) + list(targets)
    return next((t for t in candidates if (t.get("address"), t.get("type")) == wanted), None)


def for_job(job: HookJob, now: datetime) -> TargetCredentials | None:
    """The current credentials of the policy target ``job`` delivers to (``current_target``), or None."""
    policy = db.session.get(WebhookPolicy, job.policy_id) if job.policy_id is not None else None
    target = current_target(list(policy.targets), job.target, job.target_index) if policy is not None else None
    if target is None:
        return None
    return for_target(target, now)


def for_target(target: Mapping[str, Any], now: datetime) -> TargetCredentials:
    """The address and decrypted credentials of a stored target (its ``*_enc`` fields)."""
    return TargetCredentials(
        address=str(target["address"]),
        skip_cert_verify=bool(target.get("skip_cert_verify")),
        auth_header=decrypt(str(target.get("auth_header_enc") or "")),
        signing_secrets=signing_secrets(target, now),
        max_per_second=float(target["max_per_second"]) if target.get("max_per_second") else None,
    )


def check_keys() -> None:
    """Start-up check: the configured keys open the database's secrets; commit the check value if it is new.

    Raises KeyMismatch (with what to do) when none of the keys decrypts the stored check value.
    """
    row = db.session.get(Configuration, KEY_CHECK)
    if row is None:
        db.session.add(Configuration(key=KEY_CHECK, value=encrypt(_KEY_CHECK_TEXT.decode())))
        try:
            commit()
            return
        except IntegrityError:
            # Another process starting at the same moment (make run starts web, worker and sweeper at once)
            # stored its check value first: check against that one.
            row = db.session.get(Configuration, KEY_CHECK)
            if row is None:
                raise
    try:
        decrypt(str(row.value))
    except KeyMismatch:
        db.session.rollback()
        raise KeyMismatch(
            "DOCKHOOK_SECRET_KEYS cannot decrypt the secrets in this database: none of its keys is the one they "
            "were encrypted with. Put the old key back (after a new one, to rotate) and run "
            "`flask --app wsgi secrets rotate`."
        ) from None


def startup_problem() -> str | None:
    """What stops this process from using the stored secrets (a wrong key, no schema), or None. In an app context.

    An unreachable database is not a key problem: the check is skipped with a warning, and the process
    starts (the receiver answers 503 until the database is back; workers retry).
    """
    try:
        if not inspect(db.engine).has_table("configurations"):
            return "the database has no Dockhook schema yet: run `flask --app wsgi db upgrade` first"
        check_keys()
    except KeyMismatch as exc:
        return str(exc)
    except DBAPIError as exc:
        if not is_outage(exc):
            raise
        log.warning("database unreachable: the secret-key check is skipped until the next start")
    finally:
        db.session.remove()
    return None


def rotate() -> int:
    """Re-encrypt every stored secret, and the check value, with the first key; commit. Returns how many
    values were re-encrypted. Raises KeyMismatch (nothing changed) if a value opens with no key."""
    box = _box()
    count = 0
    for policy in db.session.scalars(select(WebhookPolicy).order_by(WebhookPolicy.id).with_for_update()):
        targets = []
        for target in policy.targets:
            target = dict(target)
            for name in ENCRYPTED_FIELDS:
                if target.get(name):
                    target[name] = _rotated(box, str(target[name]))
                    count += 1
            targets.append(target)
        policy.targets = targets
    row = db.session.get(Configuration, KEY_CHECK)
    if row is None:
        db.session.add(Configuration(key=KEY_CHECK, value=encrypt(_KEY_CHECK_TEXT.decode())))
    else:
        row.value = _rotated(box, str(row.value))
    commit()
    return count


def _rotated(box: MultiFernet, token: str) -> str:
    try:
        return box.rotate(token.encode()).decode()
    except InvalidToken:
        db.session.rollback()
        raise KeyMismatch("a stored secret opens with none of DOCKHOOK_SECRET_KEYS; nothing was re-encrypted") from None
