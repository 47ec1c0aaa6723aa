"""Harbor's Default payload for PUSH/PULL/DELETE_ARTIFACT."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ArtifactContext:
    """Everything an artifact payload says, gathered by the handler (no database access here)."""

    event_type: str
    occurred_at: datetime
    operator: str
    project_name: str
    project_public: bool
    repository: str
    digest: str
    tags: list[str] = field(default_factory=list)
    repository_created: datetime | None = None
    # host[:port] clients use for the registry: DOCKHOOK_EXTERNAL_URL, else the Host the client sent.
    registry_host: str = ""
    request_id: str = ""


def resource_url(host: str, repository: str, tag: str, digest: str) -> str:
    """``<host>/<repository>:<tag>``, or ``@<digest>`` without a tag; no scheme (as Harbor writes it)."""
    reference = f":{tag}" if tag else f"@{digest}"
    prefix = f"{host}/" if host else ""
    return f"{prefix}{repository}{reference}"


def default_payload(ctx: ArtifactContext) -> dict[str, Any]:
    """Harbor 2.x Default format: one resource per tag (Harbor reports only the first: #17657).

    Without a tag the resource names the digest, and ``tag`` carries the digest as Harbor does.
    """
    resources: list[dict[str, Any]] = []
    for tag in ctx.tags or [""]:
        resource: dict[str, Any] = {}
        if ctx.digest:
            resource["digest"] = ctx.digest
        resource["tag"] = tag or ctx.digest
        resource["resource_url"] = resource_url(ctx.registry_host, ctx.repository, tag, ctx.digest)
        resources.append(resource)
    namespace, _, name = ctx.repository.partition("/")
    repository: dict[str, Any] = {}
    if ctx.repository_created is not None:
        repository["date_created"] = int(ctx.repository_created.timestamp())
    repository.update(
        {
            "name": name or namespace,
            "namespace": ctx.project_name,
            "repo_full_name": ctx.repository,
            "repo_type": "public" if ctx.project_public else "private",
        }
    )
    return {
        "type": ctx.event_type,
        "occur_at": int(ctx.occurred_at.timestamp()),
        "operator": ctx.operator,
        "event_data": {"resources": resources, "repository": repository},
    }
