"""Delivery topics (``http``, ``slack`` and the chat types): one hook event per policy target becomes one pending
hook job row, with the exact body for that target; and the fan-out every event handler uses to reach them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.broker import Broker, Topic
from app.extensions import current_settings
from app.models import WebhookPolicy
from app.models.hook_job import new_uuid
from app.payloads import cloudevents_payload, serialise, slack_payload, template
from app.payloads.chat import chat_payload
from app.payloads.formats import CLOUDEVENTS_CONTENT_TYPE, JSON_CONTENT_TYPE
from app.services import hook_jobs, policies
from app.services.db import per_transaction
from app.services.event_rows import NewEvent
from app.services.policy_filters import Facts


@dataclass(frozen=True)
class HookEvent:
    """One (event × policy × target), with the Default payload built once for the whole fan-out.

    ``event`` is the event's row, not written yet: an envelope's events and jobs are written together.
    """

    event: NewEvent
    project_id: int | None
    policy: WebhookPolicy
    target_index: int
    target: dict[str, Any]
    event_type: str
    payload: dict[str, Any]
    request_id: str = ""


def fan_out(
    broker: Broker,
    *,
    row: NewEvent,
    project_id: int | None,
    event_type: str,
    facts: Facts,
    payload: Callable[[], dict[str, Any]],
    request_id: str = "",
) -> int:
    """Publish one hook event per enabled target of every policy that takes this event: the project's and the
    system-wide policies subscribed to ``event_type`` (``policies.matching``) whose filters admit ``facts``; an
    event of no project (``project_id`` None) only the system-wide ones.
    A filtered-out event makes no hook job. ``payload`` builds the Default payload, once, only if some policy
    takes the event. Returns how many hook events were published."""
    # Read once per transaction (an envelope of many events asks the same questions), the switch with them.
    matched = per_transaction(("matching", project_id, event_type), lambda: policies.matching(project_id, event_type))
    taken = policies.admitting(matched, facts)
    if not taken:
        return 0
    document = payload()
    published = 0
    for policy in taken:
        for index, target in enumerate(policy.targets):
            if target.get("disabled"):
                continue  # disabled after a 410 Gone; a PUT of the policy re-enables it
            hook = HookEvent(
                event=row,
                project_id=project_id,
                policy=policy,
                target_index=index,
                target=target,
                event_type=event_type,
                payload=document,
                request_id=request_id,
            )
            broker.publish(str(target.get("type", "http")), hook)
            published += 1
    return published


def handle_http(topic: Topic, hook: HookEvent) -> None:
    """Create the hook job with the exact body for this target's payload format."""
    uuid = new_uuid()
    if hook.target.get("payload_format") == "Template":
        _create_templated(hook, uuid)
        return
    if hook.target.get("payload_format") == "CloudEvents":
        document = cloudevents_payload(
            hook.payload,
            event_id=uuid,
            project_id=hook.policy.project_id,
            policy_id=hook.policy.id,
            request_id=hook.request_id,
        )
        content_type = CLOUDEVENTS_CONTENT_TYPE
    else:
        document, content_type = hook.payload, JSON_CONTENT_TYPE
    _create(hook, serialise(document), content_type, uuid)


def handle_slack(topic: Topic, hook: HookEvent) -> None:
    """Slack targets get Harbor's Block Kit message; they go to their own queue."""
    _create(hook, serialise(slack_payload(hook.payload)), JSON_CONTENT_TYPE, new_uuid())


def handle_chat(topic: Topic, hook: HookEvent) -> None:
    """Teams, Mattermost, Discord and Google Chat targets get their own readable message; like Slack, they go
    to the chat queue and take turns per webhook URL."""
    body = serialise(chat_payload(str(hook.target.get("type")), hook.payload))
    _create(hook, body, JSON_CONTENT_TYPE, new_uuid())


def _create_templated(hook: HookEvent, uuid: str) -> None:
    """The target's template rendered over the Default payload. A template that fails (it was checked against a
    sample when saved, but this event may differ) must not fail the envelope: the job is recorded, ended with a
    ``template_error`` attempt, and the rest of the fan-out goes on."""
    content_type = str(hook.target.get("content_type") or JSON_CONTENT_TYPE)
    try:
        body = template.render(str(hook.target.get("template") or ""), hook.payload)
    except template.TemplateError as exc:
        _create(hook, "", content_type, uuid, failure=("template_error", f"the template {exc}"))
        return
    _create(hook, body, content_type, uuid)


def _create(hook: HookEvent, body: str, content_type: str, uuid: str, failure: tuple[str, str] | None = None) -> None:
    schedule = current_settings().retry_schedule
    hook_jobs.create(
        event=hook.event,
        # The policy's project: a system-wide policy's jobs have none (only system admins see them).
        project_id=hook.policy.project_id,
        policy=hook.policy,
        target_index=hook.target_index,
        target=hook.target,
        event_type=hook.event_type,
        payload=body,
        content_type=content_type,
        max_attempts=1 + len(schedule),
        uuid=uuid,
        failure=failure,
    )
