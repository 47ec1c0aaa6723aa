"""Webhook policies: create, read, update and delete a project's policies and the system-wide ones (no project:
they take every project's events); match them to an event.

Takes typed input (PolicyInput) and enforces the domain rules. Secrets: a target's ``auth_header`` and
signing ``secret`` are stored only encrypted (``app.services.credentials``); the API shows them masked;
no error message raised here quotes a credential, nor an address.
"""

from __future__ import annotations

import concurrent.futures
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import String, bindparam, cast, exists, func, or_, select
from sqlalchemy.exc import IntegrityError

from app import clock, netguard, queue, redact
from app.broker.topics import CHART_TYPES, EVENT_TYPES, UnknownTopicError, canonical
from app.extensions import current_settings, db
from app.models import Configuration, HookJob, PolicyEventType, Project, WebhookPolicy
from app.payloads import template
from app.payloads.chat import CHAT_TYPES
from app.services import configurations, credentials, hook_jobs, policy_filters, signing
from app.services.db import commit
from app.services.errors import Conflict, Invalid, NotFound

# Shown instead of a stored auth_header; sent back in a PUT it means "keep the stored header".
MASK = redact.MASK
TARGET_TYPES = ("http", "slack", *CHAT_TYPES)
PAYLOAD_FORMATS = ("Default", "CloudEvents", "Template")
# A media type (RFC 9110 token/token, optional parameters), as hook jobs keep it (64 characters at most).
CONTENT_TYPE_MAX = 64
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_CONTENT_TYPE = re.compile(rf"{_TOKEN}/{_TOKEN}(?:[ \t]*;[ \t]*{_TOKEN}=(?:{_TOKEN}|\"[^\"\\\x00-\x1f]*\"))*")
# Deliveries per second a target may be given at most (and at least, when it sets max_per_second).
MAX_PER_SECOND_RANGE = (0.01, 1000.0)
NAME_MAX = 256
CREATOR_MAX = 255
_QUOTE_MAX = 64
AUTH_HEADER_MAX = 4096
# RFC 9110 field-value, visible ASCII only: no leading/trailing whitespace, SP/HTAB only inside.
_FIELD_VALUE = re.compile(r"[\x21-\x7e](?:[\x20\x21-\x7e\t]*[\x21-\x7e])?")
# Saving a policy waits this long for DNS; an answer that takes longer is checked at send time.
RESOLVE_TIMEOUT = 2.0
_resolver_pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="dockhook-resolve")


class _Keep:
    """``PolicyInput.filters`` when the body did not name them: an update keeps the stored filters."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP = _Keep()


@dataclass(frozen=True)
class TargetInput:
    """A target as a client sent it, already typed (the API's schema did that). The credentials are secrets:
    no repr shows them."""

    type: str
    address: str
    auth_header: str = field(default="", repr=False)
    secret: str = field(default="", repr=False)
    skip_cert_verify: bool = False
    payload_format: str = ""
    # payload_format "Template" only: the Jinja2 template and the Content-Type of what it renders.
    template: str = ""
    content_type: str = ""
    # Deliveries per second to this target at most, across every worker (None: no limit).
    max_per_second: float | None = None


@dataclass(frozen=True)
class PolicyInput:
    """A policy as a client sent it, typed; this module enforces the domain rules on it."""

    name: str
    targets: list[TargetInput]
    event_types: list[str]
    description: str = ""
    enabled: bool = True
    creator: str = ""
    # Raw filters (policy_filters.validate checks them), None to clear them, KEEP (not sent) to keep them.
    filters: Mapping[str, Any] | _Keep | None = KEEP


def matching(project_id: int | None, event_type: str) -> list[WebhookPolicy]:
    """The enabled policies subscribed to ``event_type`` (a canonical 2.x name) that take events of
    ``project_id``: the project's own and the system-wide ones, oldest first (``project_id`` None, an event of
    no project: the system-wide ones only; ``= NULL`` matches no row); none while the global switch
    (``notification_enable``) is off. Every producer of events finds its policies here. Filters are not applied
    here (the caller knows the event: ``admitting``).

    One statement: matched in SQL through ``policy_event_types`` (only the matching policies are read, so the cost
    does not grow with other projects' policies, nor with this project's policies that do not match), the switch
    read with them.
    """
    return list(db.session.scalars(_MATCHING, {"project_id": project_id, "event_type": event_type}))


# The switch is on unless its row says false (its default is on); a JSON value read as text is the same on
# PostgreSQL (json::text keeps the text stored) and SQLite (JSON is text there).
assert configurations.DEFAULTS[configurations.NOTIFICATION_ENABLE] is True
_SWITCHED_OFF = exists().where(
    Configuration.key == configurations.NOTIFICATION_ENABLE, cast(Configuration.value, String) == "false"
)
# Built once (a statement built per call costs its cache key each time; see registry_records._keyed).
_MATCHING = (
    select(WebhookPolicy)
    .join(PolicyEventType, PolicyEventType.policy_id == WebhookPolicy.id)
    .where(
        or_(PolicyEventType.project_id == bindparam("project_id"), PolicyEventType.project_id.is_(None)),
        PolicyEventType.event_type == bindparam("event_type"),
        WebhookPolicy.enabled.is_(True),
        ~_SWITCHED_OFF,
    )
    .order_by(WebhookPolicy.id)
)


def admitting(matched: Sequence[WebhookPolicy], facts: policy_filters.Facts) -> list[WebhookPolicy]:
    """The policies of ``matched`` whose filters let an event with ``facts`` through (before any hook job)."""
    return [policy for policy in matched if policy_filters.admits(policy.filters, facts)]


def _where(project: Project | None) -> str:
    return f"in project {project.name}" if project is not None else "among the system-wide policies"


def get(project: Project | None, policy_id: int) -> WebhookPolicy:
    """The policy ``policy_id`` of ``project`` (None: a system-wide policy); raises NotFound if missing or
    elsewhere."""
    policy = db.session.get(WebhookPolicy, policy_id)
    if policy is None or policy.project_id != (project.id if project is not None else None):
        raise NotFound(f"webhook policy {policy_id} not found {_where(project)}")
    return policy


def target_of(policy: WebhookPolicy, index: int) -> dict[str, Any]:
    """The stored target at ``index`` of ``policy``; raises NotFound."""
    if not 0 <= index < len(policy.targets):
        raise NotFound(f"webhook policy {policy.id} has no target {index} (it has {len(policy.targets)})")
    return dict(policy.targets[index])


def create(project: Project | None, given: PolicyInput) -> WebhookPolicy:
    """Check ``given`` against the domain rules and commit a new policy in ``project``.

    Addresses are stored normalised and checked against the SSRF rules, credentials encrypted, event
    types canonical. Raises Invalid (nothing written) or Conflict when the project has a policy of that name.
    """
    values = _validated(given, stored_targets=None, stored_filters=None)
    _ensure_name_free(project, values["name"], policy_id=None)
    policy = WebhookPolicy(project_id=project.id if project is not None else None, creator=given.creator, **values)
    db.session.add(policy)
    _commit_named(values["name"])
    return policy


def update(project: Project | None, policy_id: int, given: PolicyInput) -> WebhookPolicy:
    """Replace the policy's name, description, enabled, targets and event types; commit.

    ``creator``, ``creation_time`` and ``project_id`` are kept from the stored row (Harbor's PUT clobbers
    them). A target whose ``auth_header`` is ``MASK`` keeps the stored header of the target at the same index,
    if that target has the same address; otherwise Invalid. Raises NotFound, Invalid or Conflict.
    """
    policy = get(project, policy_id)
    values = _validated(given, stored_targets=list(policy.targets), stored_filters=policy.filters)
    _ensure_name_free(project, values["name"], policy_id=policy.id)
    for key, value in values.items():
        setattr(policy, key, value)
    policy.update_time = clock.now()
    # Disabling a policy stops what it has not sent yet, in the same transaction.
    stopped = [] if policy.enabled else hook_jobs.stop_unsent_of_policy(policy.id, "policy disabled")
    _commit_named(values["name"])
    _discard(stopped)
    return policy


def delete(project: Project | None, policy_id: int) -> None:
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


def validate_event_types(event_types: Sequence[str]) -> list[str]:
    """Canonical 2.x names for ``event_types`` (2.x names or 1.x aliases), duplicates dropped, order kept.

    Only offered types are accepted (``EVENT_TYPES``: what Dockhook produces); chart types and types with
    no producer yet are refused with the reason, so a policy never waits for an event that cannot come.
    """
    if not event_types:
        raise Invalid("event_types: at least one event type is required")
    result: list[str] = []
    offered = ", ".join(EVENT_TYPES)
    for index, name in enumerate(event_types):
        try:
            topic = canonical(name)
        except UnknownTopicError:
            raise Invalid(f"event_types.{index}: unsupported event type {_quote(name)}; offered: {offered}") from None
        if topic in CHART_TYPES:
            raise Invalid(
                f"event_types.{index}: {_quote(name)} is a chart event; Harbor removed Helm chart support "
                f"(ChartMuseum) in 2.8 and Dockhook has no chart events to send; offered: {offered}"
            )
        if topic not in EVENT_TYPES:
            raise Invalid(
                f"event_types.{index}: {_quote(name)} is not produced by this Dockhook, so a policy for it "
                f"would never fire; offered: {offered}"
            )
        if topic.value not in result:
            result.append(topic.value)
    return result


def validate_targets(
    targets: Sequence[TargetInput], stored: list[dict[str, Any]] | None = None, event_types: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Checked, normalised targets as stored (credentials encrypted). ``stored`` (on update) lets the masked
    ``auth_header``, ``secret`` and address the API shows keep their stored values. A template is rendered
    against a sample event of the first of ``event_types`` (a push when none is given)."""
    if not targets:
        raise Invalid("targets: at least one target is required")
    now = clock.now()
    result = []
    for index, target in enumerate(targets):
        previous = stored[index] if stored is not None and index < len(stored) else None
        result.append(_target(index, target, previous, now, event_types))
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


def _target(
    index: int, target: TargetInput, previous: Mapping[str, Any] | None, now: datetime, event_types: Sequence[str]
) -> dict[str, Any]:
    where = f"targets.{index}"
    if target.type not in TARGET_TYPES:
        raise Invalid(f"{where}.type: must be one of {', '.join(TARGET_TYPES)}")
    address = _address(where, target.address, previous)
    check_destination(f"{where}.address", address)
    payload_format = target.payload_format
    if target.type != "http" and payload_format:
        raise Invalid(f"{where}.payload_format: must be empty for a {target.type} target")
    if target.type == "http":
        payload_format = payload_format or "Default"
        if payload_format not in PAYLOAD_FORMATS:
            raise Invalid(
                f"{where}.payload_format: {_quote(payload_format)} is not one of {', '.join(PAYLOAD_FORMATS)}"
            )
    same_target = previous if previous is not None and previous.get("address") == address else None
    stored = {
        "type": target.type,
        "address": address,
        "skip_cert_verify": target.skip_cert_verify,
        "payload_format": payload_format,
        "auth_header_enc": _auth_header(where, target.auth_header, same_target, previous),
        **_secret(where, target.secret, same_target, previous, now),
        **_template(where, target, payload_format, event_types),
    }
    if target.max_per_second is not None:
        low, high = MAX_PER_SECOND_RANGE
        if not low <= target.max_per_second <= high:
            raise Invalid(f"{where}.max_per_second: must be between {low} and {high:g} (or null: no limit)")
        stored["max_per_second"] = float(target.max_per_second)
    return stored


def _template(where: str, target: TargetInput, payload_format: str, event_types: Sequence[str]) -> dict[str, Any]:
    """The template fields of a ``Template`` target, checked by rendering a sample event; none for the others."""
    if payload_format != "Template":
        for name in ("template", "content_type"):
            if getattr(target, name):
                raise Invalid(f"{where}.{name}: is set only with payload_format Template")
        return {}
    if not target.template.strip():
        raise Invalid(f"{where}.template: is required with payload_format Template")
    content_type = target.content_type.strip()
    if not content_type:
        raise Invalid(f"{where}.content_type: is required with payload_format Template (e.g. application/json)")
    if len(content_type) > CONTENT_TYPE_MAX or not _CONTENT_TYPE.fullmatch(content_type):
        raise Invalid(
            f"{where}.content_type: must be a media type such as application/json or text/plain; charset=utf-8 "
            f"(at most {CONTENT_TYPE_MAX} characters)"
        )
    sample_type = event_types[0] if event_types else "PUSH_ARTIFACT"
    try:
        template.render(target.template, template.sample_payload(sample_type))
    except template.TemplateError as exc:
        raise Invalid(f"{where}.template: {exc} (rendered against a sample {sample_type} event)") from None
    return {"template": target.template, "content_type": content_type}


def _address(where: str, value: str, previous: Mapping[str, Any] | None) -> str:
    """The normalised address; the masked form of the stored address (as the API shows it) keeps it."""
    if previous is not None:
        stored = str(previous.get("address", ""))
        if value.strip() == redact.address(stored, str(previous.get("type", "http"))):
            return stored
    return normalise_address(value, f"{where}.address")


def check_destination(field: str, address: str) -> None:
    """Refuse (Invalid) an address whose host is a denied literal, or a name whose every address is denied.

    A name that does not resolve now is accepted: it may exist later, and the worker checks the address
    it connects to at send time anyway (DNS may answer differently then).
    """
    settings = current_settings()
    host = urlsplit(address).hostname or ""
    literal = netguard.literal_address(host)
    addresses = [literal] if literal is not None else _resolve_briefly(host, settings.resolver)
    rules = [netguard.denial(ip, settings.allowed_target_networks) for ip in addresses]
    if addresses and all(rules):
        where = "is" if literal is not None else "resolves only to denied addresses, first"
        raise Invalid(
            f"{field}: {where} {addresses[0]}: {rules[0]}; webhooks go only to public addresses unless "
            "the operator allows the network in DOCKHOOK_ALLOWED_TARGET_NETWORKS"
        )


def _resolve_briefly(host: str, resolver: netguard.Resolver | None) -> list[netguard.IPAddress]:
    """The name's addresses, or [] when it does not resolve within RESOLVE_TIMEOUT seconds."""
    future = _resolver_pool.submit(netguard.resolve, host, resolver)
    try:
        return future.result(timeout=RESOLVE_TIMEOUT)
    except (OSError, UnicodeError, concurrent.futures.TimeoutError):
        return []


def _secret(
    where: str, text: str, same: Mapping[str, Any] | None, previous: Mapping[str, Any] | None, now: datetime
) -> dict[str, Any]:
    """The stored signing-secret fields: none (no signature), a ``whsec_`` value the operator made (it is never
    shown again, so Dockhook does not make one), or the mask (keep the stored one, like auth_header).
    Replacing a secret keeps the old one signing during the rotation overlap."""
    if text == MASK:
        if same is None or not same.get("secret_enc"):
            reason = "the address changed" if previous is not None and same is None else "there is none to keep"
            raise Invalid(f"{where}.secret: the masked value {MASK} keeps a stored secret, and {reason}")
        return {k: same[k] for k in ("secret_enc", "previous_secret_enc", "previous_secret_until") if same.get(k)}
    if text:
        try:
            signing.secret_key(text)
        except ValueError as exc:
            raise Invalid(f"{where}.secret: {exc}") from None
    return credentials.secret_fields(previous, text, now)


def _auth_header(where: str, header: str, same: Mapping[str, Any] | None, previous: Mapping[str, Any] | None) -> str:
    """The stored (encrypted) header. Never quote the value in a message: it is a credential."""
    if header == MASK:
        if previous is None:
            raise Invalid(f"{where}.auth_header: the masked value {MASK} keeps a stored header; send the real header")
        if same is None:
            raise Invalid(f"{where}.auth_header: the address changed, so the header must be re-entered (not {MASK})")
        return str(same.get("auth_header_enc") or "")
    if len(header) > AUTH_HEADER_MAX or (header and not _FIELD_VALUE.fullmatch(header)):
        raise Invalid(
            f"{where}.auth_header: must be a valid HTTP header value of at most {AUTH_HEADER_MAX} characters: "
            "visible ASCII, with spaces or tabs only between words (no leading or trailing whitespace, "
            "no control characters)"
        )
    return credentials.encrypt(header)


def _validated(
    given: PolicyInput, stored_targets: list[dict[str, Any]] | None, stored_filters: dict[str, Any] | None
) -> dict[str, Any]:
    if not given.name.strip():
        raise Invalid("name: must not be blank")
    event_types = validate_event_types(given.event_types)
    filters = stored_filters if isinstance(given.filters, _Keep) else policy_filters.validate(given.filters)
    return {
        "filters": filters,
        "name": given.name,
        "description": given.description,
        "enabled": given.enabled,
        "targets": validate_targets(given.targets, stored_targets, event_types),
        "event_types": event_types,
    }


def _ensure_name_free(project: Project | None, name: str, policy_id: int | None) -> None:
    owner = WebhookPolicy.project_id == project.id if project is not None else WebhookPolicy.project_id.is_(None)
    query = select(WebhookPolicy.id).where(owner, WebhookPolicy.name == name)
    if policy_id is not None:
        query = query.where(WebhookPolicy.id != policy_id)
    if db.session.scalar(query) is not None:
        raise Conflict(f"webhook policy named {name} already exists {_where(project)}")


def _commit_named(name: str) -> None:
    try:
        commit()
    except IntegrityError:
        # A concurrent request took the name between the check and the commit (unique project_id, name).
        db.session.rollback()
        raise Conflict(f"webhook policy named {name} already exists") from None


def _quote(value: str) -> str:
    return repr(value if len(value) <= _QUOTE_MAX else value[:_QUOTE_MAX] + "...")
