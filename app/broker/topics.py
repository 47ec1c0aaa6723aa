"""The topic catalogue: every topic Dockhook knows, Harbor 2.x names canonical, 1.x names as aliases."""

from __future__ import annotations

from enum import StrEnum


class Topic(StrEnum):
    PUSH_ARTIFACT = "PUSH_ARTIFACT"
    PULL_ARTIFACT = "PULL_ARTIFACT"
    DELETE_ARTIFACT = "DELETE_ARTIFACT"
    SCANNING_COMPLETED = "SCANNING_COMPLETED"
    SCANNING_FAILED = "SCANNING_FAILED"
    SCANNING_STOPPED = "SCANNING_STOPPED"
    QUOTA_EXCEED = "QUOTA_EXCEED"
    QUOTA_WARNING = "QUOTA_WARNING"
    REPLICATION = "REPLICATION"
    TAG_RETENTION = "TAG_RETENTION"
    UPLOAD_CHART = "UPLOAD_CHART"
    DOWNLOAD_CHART = "DOWNLOAD_CHART"
    DELETE_CHART = "DELETE_CHART"
    # Dockhook's own: a target failed for DOCKHOOK_DISABLE_AFTER and was disabled (app.services.target_health).
    WEBHOOK_TARGET_DISABLED = "WEBHOOK_TARGET_DISABLED"
    # Delivery topics: one hook event per policy target, named after the target type.
    HTTP = "http"
    SLACK = "slack"
    TEAMS = "teams"
    MATTERMOST = "mattermost"
    DISCORD = "discord"
    GOOGLECHAT = "googlechat"


# The event types the publish API accepts (app.notification.published handles them): a scanner, a quota
# controller, replication, retention, CI.
PUBLISHED_TYPES: tuple[Topic, ...] = (
    Topic.SCANNING_COMPLETED,
    Topic.SCANNING_FAILED,
    Topic.SCANNING_STOPPED,
    Topic.QUOTA_EXCEED,
    Topic.QUOTA_WARNING,
    Topic.REPLICATION,
    Topic.TAG_RETENTION,
)

# Event types a webhook policy may subscribe to: exactly those something in Dockhook produces. A type
# joins when its producer does; start-up fails if one here has no handler (app.notification).
EVENT_TYPES: tuple[Topic, ...] = (
    Topic.PUSH_ARTIFACT,
    Topic.PULL_ARTIFACT,
    Topic.DELETE_ARTIFACT,
    Topic.WEBHOOK_TARGET_DISABLED,
    *PUBLISHED_TYPES,  # produced by POST /api/v2.0/events
)

# Harbor removed Helm chart support (ChartMuseum) in 2.8; policies asking for these are refused, saying so.
CHART_TYPES: tuple[Topic, ...] = (Topic.UPLOAD_CHART, Topic.DOWNLOAD_CHART, Topic.DELETE_CHART)

DELIVERY_TOPICS: tuple[Topic, ...] = (
    Topic.HTTP,
    Topic.SLACK,
    Topic.TEAMS,
    Topic.MATTERMOST,
    Topic.DISCORD,
    Topic.GOOGLECHAT,
)

# Harbor 1.x policy event types and topic strings, accepted wherever a topic name is.
ALIASES: dict[str, Topic] = {
    "pushImage": Topic.PUSH_ARTIFACT,
    "pullImage": Topic.PULL_ARTIFACT,
    "deleteImage": Topic.DELETE_ARTIFACT,
    "uploadChart": Topic.UPLOAD_CHART,
    "downloadChart": Topic.DOWNLOAD_CHART,
    "deleteChart": Topic.DELETE_CHART,
    "scanningCompleted": Topic.SCANNING_COMPLETED,
    "scanningFailed": Topic.SCANNING_FAILED,
    "projectQuota": Topic.QUOTA_EXCEED,
    "OnPushImage": Topic.PUSH_ARTIFACT,
    "OnPullImage": Topic.PULL_ARTIFACT,
    "OnDeleteImage": Topic.DELETE_ARTIFACT,
    "OnUploadChart": Topic.UPLOAD_CHART,
    "OnDownloadChart": Topic.DOWNLOAD_CHART,
    "OnDeleteChart": Topic.DELETE_CHART,
    "OnScanningCompleted": Topic.SCANNING_COMPLETED,
    "OnScanningFailed": Topic.SCANNING_FAILED,
    "OnQuotaExceed": Topic.QUOTA_EXCEED,
    "OnQuotaWarning": Topic.QUOTA_WARNING,
}


class UnknownTopicError(ValueError):
    """The name is neither a topic of the catalogue nor a 1.x alias of one."""


def canonical(name: str) -> Topic:
    """Return the catalogue topic for ``name`` (a 2.x name, a delivery topic or a 1.x alias)."""
    if name in ALIASES:
        return ALIASES[name]
    try:
        return Topic(name)
    except ValueError:
        raise UnknownTopicError(f"unknown topic or event type: {name!r}") from None
