"""Which registry events Dockhook keeps, and as what (DESIGN §5). Pure: no database, no Flask."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.registry.actions import Operation, RegistryAction

# Every manifest kind: Docker schema 2 and schema 1, manifest lists, OCI manifests, indexes, artifacts.
MANIFEST_MEDIA_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.artifact.manifest.v1+json",
    }
)


@dataclass(frozen=True)
class FilterRules:
    pull_ua_denylist: frozenset[str]
    publish_untagged_pushes: bool = False


def is_manifest(media_type: str) -> bool:
    return media_type.split(";", 1)[0].strip().lower() in MANIFEST_MEDIA_TYPES


def classify(event: dict[str, Any], rules: FilterRules, received_at: datetime) -> RegistryAction | str:
    """Return the action to record for a parsed registry event, or the reason it is dropped."""
    action = event["action"]
    target = event["target"]
    request = event["request"]
    operation: Operation
    if action == "mount":
        return "mount"
    if action in ("push", "pull"):
        if not is_manifest(target["mediaType"]):
            return "blob" if target["mediaType"] in ("", "application/octet-stream") else "not a manifest"
        operation = "push" if action == "push" else "pull"
    elif action == "delete":
        if not target["digest"] and not target["tag"]:
            return "repository delete"
        operation = "delete"
    else:
        return f"unknown action {action[:32]!r}"
    if not target["repository"]:
        return "no repository"
    user_agent = request["useragent"]
    if operation == "pull":
        if request["method"].upper() == "HEAD":
            return "HEAD request"
        if user_agent.strip().lower() in rules.pull_ua_denylist:
            return "denied user agent"
    return RegistryAction(
        event_id=event["id"],
        operation=operation,
        repository=target["repository"],
        occurred_at=event["timestamp"] or received_at,
        username=event["actor"]["name"] or "anonymous",
        tag=target["tag"],
        digest=target["digest"],
        media_type=target["mediaType"],
        size=target["size"],
        request_id=request["id"],
        user_agent=user_agent,
        registry_host=request["host"],
        publish=operation != "push" or bool(target["tag"]) or rules.publish_untagged_pushes,
    )
