"""Serialisation, CloudEvents 1.0 (structured mode) and Slack Block Kit built from a Default payload."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

CLOUDEVENTS_TYPES = {
    "PUSH_ARTIFACT": "harbor.artifact.pushed",
    "PULL_ARTIFACT": "harbor.artifact.pulled",
    "DELETE_ARTIFACT": "harbor.artifact.deleted",
    "QUOTA_EXCEED": "harbor.quota.exceeded",
    "QUOTA_WARNING": "harbor.quota.warned",
    "REPLICATION": "harbor.replication.status.changed",
    "SCANNING_FAILED": "harbor.scan.failed",
    "SCANNING_COMPLETED": "harbor.scan.completed",
    "SCANNING_STOPPED": "harbor.scan.stopped",
    "TAG_RETENTION": "harbor.tag_retention.finished",
    "WEBHOOK_TARGET_DISABLED": "dockhook.webhook.target.disabled",
    # Dockhook's target test (POST .../targets/{index}/test): not an event, never a hook job.
    "PING": "dockhook.ping",
}
PING = "PING"
CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"
JSON_CONTENT_TYPE = "application/json"


def serialise(document: dict[str, Any]) -> str:
    """The exact text sent (and signed): compact, key order kept, UTF-8 when encoded."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def cloudevents_payload(
    default: dict[str, Any], *, event_id: str, project_id: int | None, policy_id: int, request_id: str = ""
) -> dict[str, Any]:
    """CloudEvents 1.0 around a Default payload. ``event_id`` is the hook job uuid, stable across retries;
    ``project_id`` the policy's (None for a system-wide policy, whose source is ``/webhook/policies/{id}``)."""
    event_type = default["type"]
    if event_type not in CLOUDEVENTS_TYPES:
        raise ValueError(f"no CloudEvents type for {event_type}")
    occurred = datetime.fromtimestamp(default["occur_at"], UTC)
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": f"/projects/{project_id}/webhook/policies/{policy_id}"
        if project_id is not None
        else f"/webhook/policies/{policy_id}",
        "type": CLOUDEVENTS_TYPES[event_type],
        "datacontenttype": JSON_CONTENT_TYPE,
        "time": occurred.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "requestid": request_id,
        "operator": default["operator"],
        "data": default["event_data"],
    }


def slack_payload(default: dict[str, Any]) -> dict[str, Any]:
    """Harbor's Slack message: six mrkdwn sections, the event data as a code block."""
    occurred = datetime.fromtimestamp(default["occur_at"], UTC)
    fallback = occurred.strftime("%Y-%m-%d %H:%M:%S UTC")
    data = json.dumps(default["event_data"], indent="\t", ensure_ascii=False)

    def section(text: str) -> dict[str, Any]:
        return {"type": "section", "text": {"type": "mrkdwn", "text": text}}

    return {
        "blocks": [
            section("*Harbor webhook events*"),
            section(f"*event_type:* {default['type']}"),
            section(f"*occur_at:* <!date^{default['occur_at']}^{{date}} at {{time}}|{fallback}>"),
            section(f"*operator:* {default['operator'] or '-'}"),
            section("*event_data:*"),
            section(f"```{data}```"),
        ]
    }
