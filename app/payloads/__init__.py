"""Webhook payload formats (pure): Harbor's Default, CloudEvents 1.0 and Slack; serialised once, sent as is."""

from app.payloads.artifact import ArtifactContext, default_payload
from app.payloads.formats import cloudevents_payload, serialise, slack_payload

__all__ = ["ArtifactContext", "cloudevents_payload", "default_payload", "serialise", "slack_payload"]
