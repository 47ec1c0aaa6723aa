"""Delivery topics (``http``, ``slack``): one hook event per policy target becomes one pending hook job row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.broker import Topic
from app.extensions import current_settings
from app.models import WebhookPolicy
from app.models.hook_job import new_uuid
from app.payloads import cloudevents_payload, serialise, slack_payload
from app.payloads.formats import CLOUDEVENTS_CONTENT_TYPE, JSON_CONTENT_TYPE
from app.services import hook_jobs
from app.services.event_rows import NewEvent


@dataclass(frozen=True)
class HookEvent:
    """One (event × policy × target), with the Default payload built once for the whole fan-out.

    ``event`` is the event's row, not written yet: an envelope's events and jobs are written together.
    """

    event: NewEvent
    project_id: int
    policy: WebhookPolicy
    target_index: int
    target: dict[str, Any]
    event_type: str
    payload: dict[str, Any]
    request_id: str = ""


def handle_http(topic: Topic, hook: HookEvent) -> None:
    """Create the hook job with the exact body for this target's payload format."""
    uuid = new_uuid()
    if hook.target.get("payload_format") == "CloudEvents":
        document = cloudevents_payload(
            hook.payload,
            event_id=uuid,
            project_id=hook.project_id,
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


def _create(hook: HookEvent, body: str, content_type: str, uuid: str) -> None:
    schedule = current_settings().retry_schedule
    hook_jobs.create(
        event=hook.event,
        project_id=hook.project_id,
        policy=hook.policy,
        target_index=hook.target_index,
        target=hook.target,
        event_type=hook.event_type,
        payload=body,
        content_type=content_type,
        max_attempts=1 + len(schedule),
        uuid=uuid,
    )
