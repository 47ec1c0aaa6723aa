"""Webhook policies: create, read, update, delete and list a project's policies; match them to an event type.

Secrets: a target's ``auth_header`` is stored in clear (the worker sends it) but leaves this module only
masked (``redacted``); no error message raised here quotes it, nor an address (which may hold credentials).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app import queue, redact
from app.broker.topics import EVENT_TYPES, UnknownTopicError, canonical
from app.extensions import current_settings, db
from app.models import HookJob, Project, WebhookPolicy, utcnow
from app.services import hook_jobs, signing
from app.services.db import commit
from app.services.errors import Conflict, Invalid, NotFound

# Shown instead of a stored auth_header; sent back in a PUT it means "keep the stored header".
MASK = redact.MASK
TARGET_TYPES = ("http", "slack")
PAYLOAD_FORMATS = ("Default", "CloudEvents")
NAME_MAX = 256
CREATOR_MAX = 255
_QUOTE_MAX = 64


def matching(project_id: int, event_type: str) -> list[WebhookPolicy]:
    """The project's enabled policies subscribed to ``event_type`` (a canonical 2.x name), oldest first."""
    policies = db.session.scalars(
        select(WebhookPolicy)
        .where(WebhookPolicy.project_id == project_id, WebhookPolicy.enabled.is_(True))
        .order_by(WebhookPolicy.id)
    )
    return [p for p in policies if event_type in p.event_types]


def get(project: Project, policy_id: int) -> WebhookPolicy:
    """The policy ``policy_id`` of ``project``; raises NotFound if missing or in another project."""
    policy = db.session.get(WebhookPolicy, policy_id)
    if policy is None or policy.project_id != project.id:
        raise NotFound(f"webhook policy {policy_id} not found in project {project.name}")
    return policy


def page(project: Project, page: int, page_size: int) -> tuple[list[WebhookPolicy], int]:
    """One page of ``project``'s policies, newest first, and the total."""
    query = select(WebhookPolicy).where(WebhookPolicy.project_id == project.id)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(
        query.order_by(WebhookPolicy.creation_time.desc(), WebhookPolicy.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    return list(rows), total


def create(project: Project, fields: Mapping[str, Any]) -> WebhookPolicy:
    """Validate ``fields`` (name, description, enabled, targets, event_types, creator) and commit a new policy.

    ``project_id`` comes from ``project``, never from ``fields``. Addresses are stored normalised and event
    types canonical. Raises Invalid (nothing written) or Conflict when the project has a policy of that name.
    """
    values = _validated(fields, stored_targets=None)
    creator = _text(fields.get("creator"), "creator")
    if len(creator) > CREATOR_MAX:
        raise Invalid(f"creator: must be at most {CREATOR_MAX} characters")
    _ensure_name_free(project, values["name"], policy_id=None)
    policy = WebhookPolicy(project_id=project.id, creator=creator, **values)
    db.session.add(policy)
    _commit_named(values["name"])
    return policy


def update(project: Project, policy_id: int, fields: Mapping[str, Any]) -> WebhookPolicy:
    """Replace the policy's name, description, enabled, targets and event types; commit.

    ``creator``, ``creation_time`` and ``project_id`` are kept from the stored row (Harbor's PUT clobbers
    them). A target whose ``auth_header`` is ``MASK`` keeps the stored header of the target at the same index,
    if that target has the same address; otherwise Invalid. Raises NotFound, Invalid or Conflict.
    """
    policy = get(project, policy_id)
    values = _validated(fields, stored_targets=list(policy.targets))
    _ensure_name_free(project, values["name"], policy_id=policy.id)
    for key, value in values.items():
        setattr(policy, key, value)
    policy.update_time = utcnow()
    # Disabling a policy stops what it has not sent yet, in the same transaction.
    stopped = [] if policy.enabled else hook_jobs.stop_unsent_of_policy(policy.id, "policy disabled")
    _commit_named(values["name"])
    _discard(stopped)
    return policy


def delete(project: Project, policy_id: int) -> None:
    """Delete the policy and commit; its unsent hook jobs are stopped first. Its hook jobs stay as history
    (``policy_id`` set to NULL, ``policy_name`` kept). Raises NotFound."""
    policy = get(project, policy_id)
    stopped = hook_jobs.stop_unsent_of_policy(policy.id, "policy deleted")
    db.session.delete(policy)
    commit()
    _discard(stopped)


def _discard(uuids: list[str]) -> None:
    """Take stopped jobs off their RQ queues (best effort: a stopped job cannot be claimed anyway)."""
    redis_url = current_settings().redis_url
    if uuids and redis_url:
        queue.discard(redis_url, uuids)


def last_triggers(project: Project) -> list[dict[str, Any]]:
    """One row per (policy, event type) of ``project``: ``policy_name``, ``event_type``, ``enabled``,
    ``creation_time`` and, if a hook job was ever created for it, ``last_trigger_time``."""
    policies = db.session.scalars(
        select(WebhookPolicy)
        .where(WebhookPolicy.project_id == project.id)
        .order_by(WebhookPolicy.creation_time.desc(), WebhookPolicy.id.desc())
    ).all()
    if not policies:
        return []
    newest = select(HookJob.policy_id, HookJob.event_type, func.max(HookJob.creation_time)).where(
        HookJob.policy_id.in_([p.id for p in policies])
    )
    last = {
        (policy_id, event_type): moment
        for policy_id, event_type, moment in db.session.execute(newest.group_by(HookJob.policy_id, HookJob.event_type))
    }
    rows = []
    for policy in policies:
        for event_type in policy.event_types:
            row: dict[str, Any] = {
                "policy_name": policy.name,
                "event_type": event_type,
                "enabled": policy.enabled,
                "creation_time": policy.creation_time,
            }
            if (policy.id, event_type) in last:
                row["last_trigger_time"] = last[(policy.id, event_type)]
            rows.append(row)
    return rows


def redacted(policy: WebhookPolicy) -> dict[str, Any]:
    """The policy as the API shows it: every target's ``auth_header`` replaced by ``MASK`` (``""`` if unset)."""
    return {
        "id": policy.id,
        "name": policy.name,
        "description": policy.description,
        "project_id": policy.project_id,
        "targets": [
            {
                "type": t.get("type", ""),
                "address": t.get("address", ""),
                "auth_header": MASK if t.get("auth_header") else "",
                "secret": MASK if t.get("secret") else "",
                "skip_cert_verify": bool(t.get("skip_cert_verify")),
                "payload_format": t.get("payload_format") or "",
                "disabled": bool(t.get("disabled")),
                **({"disabled_reason": t["disabled_reason"]} if t.get("disabled_reason") else {}),
            }
            for t in policy.targets
        ],
        "event_types": list(policy.event_types),
        "enabled": policy.enabled,
        "creator": policy.creator,
        "creation_time": policy.creation_time,
        "update_time": policy.update_time,
    }


def validate_event_types(event_types: Any) -> list[str]:
    """Canonical 2.x names for ``event_types`` (2.x names or 1.x aliases), duplicates dropped, order kept."""
    if not isinstance(event_types, list) or not event_types:
        raise Invalid("event_types: at least one event type is required")
    result: list[str] = []
    for index, name in enumerate(event_types):
        if not isinstance(name, str):
            raise Invalid(f"event_types.{index}: must be a string")
        try:
            topic = canonical(name)
        except UnknownTopicError:
            topic = None
        if topic is None or topic not in EVENT_TYPES:
            raise Invalid(f"event_types.{index}: unsupported event type {_quote(name)}")
        if topic.value not in result:
            result.append(topic.value)
    return result


def validate_targets(targets: Any, stored: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Checked, normalised targets. ``stored`` (on update) lets a masked ``auth_header`` keep its value."""
    if not isinstance(targets, list) or not targets:
        raise Invalid("targets: at least one target is required")
    result = []
    for index, target in enumerate(targets):
        if not isinstance(target, Mapping):
            raise Invalid(f"targets.{index}: must be an object")
        previous = stored[index] if stored is not None and index < len(stored) else None
        result.append(_target(index, target, previous))
    return result


def normalise_address(address: Any, field: str = "address") -> str:
    """``address`` trimmed, without trailing ``/``, scheme and host in lower case; http(s) only, host required.

    Error messages never quote the address (it may carry credentials).
    """
    if not isinstance(address, str):
        raise Invalid(f"{field}: is required and must be a string")
    text = address.strip()
    if not text:
        raise Invalid(f"{field}: is required")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in text):
        raise Invalid(f"{field}: must not contain spaces or control characters")
    if "://" not in text:
        raise Invalid(f"{field}: has no scheme; it must start with http:// or https://")
    text = text.rstrip("/")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise Invalid(f"{field}: is not a valid URL (bad host or port)") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise Invalid(f"{field}: scheme {_quote(parts.scheme)} is not supported; use http:// or https://")
    if parts.username is not None or parts.password is not None:
        raise Invalid(f"{field}: must not contain credentials (user:password@); use auth_header instead")
    host = (parts.hostname or "").lower()
    if not host:
        raise Invalid(f"{field}: has no host")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    # The fragment is dropped: it is never sent over HTTP.
    return urlunsplit((scheme, netloc, parts.path, parts.query, ""))


def _target(index: int, target: Mapping[str, Any], previous: Mapping[str, Any] | None) -> dict[str, Any]:
    where = f"targets.{index}"
    kind = target.get("type")
    if kind not in TARGET_TYPES:
        raise Invalid(f"{where}.type: must be one of {', '.join(TARGET_TYPES)}")
    address = normalise_address(target.get("address"), f"{where}.address")
    payload_format = _text(target.get("payload_format"), f"{where}.payload_format")
    if kind == "slack" and payload_format:
        raise Invalid(f"{where}.payload_format: must be empty for a slack target")
    if kind == "http":
        payload_format = payload_format or "Default"
        if payload_format not in PAYLOAD_FORMATS:
            raise Invalid(
                f"{where}.payload_format: {_quote(payload_format)} is not one of {', '.join(PAYLOAD_FORMATS)}"
            )
    skip = target.get("skip_cert_verify", False)
    if skip is None:
        skip = False
    if not isinstance(skip, bool):
        raise Invalid(f"{where}.skip_cert_verify: must be a boolean")
    return {
        "type": kind,
        "address": address,
        "auth_header": _auth_header(where, target.get("auth_header"), address, previous),
        "skip_cert_verify": skip,
        "payload_format": payload_format,
        "secret": _secret(where, target.get("secret"), address, previous),
    }


def _secret(where: str, value: Any, address: str, previous: Mapping[str, Any] | None) -> str:
    """The target's signing secret: ``""`` (no signature), a ``whsec_`` value the operator made (it is never
    shown again, so Dockhook does not make one), or the mask (keep the stored one, like auth_header)."""
    text = _text(value, f"{where}.secret")
    if text == MASK:
        if previous is None or previous.get("address") != address or not previous.get("secret"):
            raise Invalid(f"{where}.secret: the masked value {MASK} keeps a stored secret, and there is none to keep")
        return str(previous["secret"])
    if text:
        try:
            signing.secret_key(text)
        except ValueError as exc:
            raise Invalid(f"{where}.secret: {exc}") from None
    return text


def _auth_header(where: str, value: Any, address: str, previous: Mapping[str, Any] | None) -> str:
    # Never quote the value in a message: it is a credential.
    header = _text(value, f"{where}.auth_header")
    if "\r" in header or "\n" in header:
        raise Invalid(f"{where}.auth_header: must not contain CR or LF characters")
    if header != MASK:
        return header
    if previous is None:
        raise Invalid(f"{where}.auth_header: the masked value {MASK} keeps a stored header; send the real header")
    if previous.get("address") != address:
        raise Invalid(f"{where}.auth_header: the address changed, so the header must be re-entered (not {MASK})")
    return str(previous.get("auth_header") or "")


def _validated(fields: Mapping[str, Any], stored_targets: list[dict[str, Any]] | None) -> dict[str, Any]:
    name = fields.get("name")
    if not isinstance(name, str) or not name.strip():
        raise Invalid("name: is required")
    if len(name) > NAME_MAX:
        raise Invalid(f"name: must be at most {NAME_MAX} characters")
    enabled = fields.get("enabled", True)
    if not isinstance(enabled, bool):
        raise Invalid("enabled: must be a boolean")
    return {
        "name": name,
        "description": _text(fields.get("description"), "description"),
        "enabled": enabled,
        "targets": validate_targets(fields.get("targets"), stored_targets),
        "event_types": validate_event_types(fields.get("event_types")),
    }


def _ensure_name_free(project: Project, name: str, policy_id: int | None) -> None:
    query = select(WebhookPolicy.id).where(WebhookPolicy.project_id == project.id, WebhookPolicy.name == name)
    if policy_id is not None:
        query = query.where(WebhookPolicy.id != policy_id)
    if db.session.scalar(query) is not None:
        raise Conflict(f"webhook policy named {name} already exists in project {project.name}")


def _commit_named(name: str) -> None:
    try:
        commit()
    except IntegrityError:
        # A concurrent request took the name between the check and the commit (unique project_id, name).
        db.session.rollback()
        raise Conflict(f"webhook policy named {name} already exists") from None


def _text(value: Any, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Invalid(f"{field}: must be a string")
    return value


def _quote(value: str) -> str:
    return repr(value if len(value) <= _QUOTE_MAX else value[:_QUOTE_MAX] + "...")
