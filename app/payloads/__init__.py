"""Webhook payload formats (pure): Harbor's Default, CloudEvents 1.0, Slack, the chat formats and per-target
templates; serialised once, sent as is."""

from app.payloads import template
from app.payloads.artifact import ArtifactContext, default_payload
from app.payloads.formats import cloudevents_payload, serialise, slack_payload

__all__ = ["ArtifactContext", "cloudevents_payload", "default_payload", "serialise", "slack_payload", "template"]
