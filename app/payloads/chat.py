"""Chat messages (pure): Microsoft Teams, Mattermost, Discord and Google Chat, built from a Default payload.

Every format says the same thing: a title (what happened to what) and a short list of facts. Artifact events
(PUSH/PULL/DELETE_ARTIFACT) get their own sentence; any other event type gets a generic rendering of its
``event_data`` (bounded: a chat message is for people, the full data is in the hook job).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Target types whose message is built here; ``slack`` keeps Harbor's own Block Kit message (formats.py).
CHAT_TYPES = ("teams", "mattermost", "discord", "googlechat")
# How many facts a message shows at most, and how long a fact's value may be.
MAX_FACTS = 12
MAX_VALUE = 300
MAX_RESOURCES = 5

_VERBS = {"PUSH_ARTIFACT": "pushed", "PULL_ARTIFACT": "pulled", "DELETE_ARTIFACT": "deleted"}
# Discord embed colours (and Mattermost attachment colours) per kind of event.
_COLOURS = {"PUSH_ARTIFACT": 0x2EB67D, "PULL_ARTIFACT": 0x1F6FEB, "DELETE_ARTIFACT": 0xD1242F}
_OTHER_COLOUR = 0x6E7781
_SKIPPED_KEYS = ("repository", "resources")


@dataclass(frozen=True)
class Message:
    """What every chat format shows: a title and (name, value) facts, in order."""

    title: str
    facts: tuple[tuple[str, str], ...]
    event_type: str
    occurred_at: datetime


def message(default: dict[str, Any]) -> Message:
    """The readable message for a Default payload of any event type."""
    event_type = str(default.get("type", ""))
    occurred = datetime.fromtimestamp(int(default.get("occur_at") or 0), UTC)
    data: dict[str, Any] = _mapping(default.get("event_data"))
    repository: dict[str, Any] = _mapping(data.get("repository"))
    resources = [r for r in data.get("resources") or [] if isinstance(r, dict)]
    full_name = str(repository.get("repo_full_name") or "")
    operator = str(default.get("operator") or "")
    facts: list[tuple[str, str]] = []
    if event_type in _VERBS:
        tags = [str(r["tag"]) for r in resources if r.get("tag") and r.get("tag") != r.get("digest")]
        reference = f"{full_name}:{tags[0]}" if tags else full_name
        title = f"Artifact {_VERBS[event_type]}: {reference}"
        facts.append(("Repository", full_name))
        if tags:
            facts.append(("Tags", ", ".join(tags)))
        digest = next((str(r["digest"]) for r in resources if r.get("digest")), "")
        if digest:
            facts.append(("Digest", digest))
    else:
        title = event_type.replace("_", " ").capitalize() or "Event"
        if full_name:
            title = f"{title}: {full_name}"
            facts.append(("Repository", full_name))
        facts.append(("Event type", event_type))
    if resources and resources[0].get("resource_url"):
        urls = [str(r["resource_url"]) for r in resources[:MAX_RESOURCES] if r.get("resource_url")]
        facts.append(("Resource" if len(urls) == 1 else "Resources", ", ".join(urls)))
    if repository.get("namespace"):
        facts.append(("Project", str(repository["namespace"])))
    facts.append(("Operator", operator or "-"))
    facts.append(("Occurred", occurred.strftime("%Y-%m-%d %H:%M:%S UTC")))
    if event_type not in _VERBS:
        for key, value in data.items():
            if key not in _SKIPPED_KEYS:
                facts.append((key, _text(value)))
    return Message(
        title=_clip(title, 200),
        facts=tuple((_clip(name, 64), _clip(value, MAX_VALUE)) for name, value in facts[:MAX_FACTS]),
        event_type=event_type,
        occurred_at=occurred,
    )


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def teams_payload(default: dict[str, Any]) -> dict[str, Any]:
    """An Adaptive Card message, as a Teams workflow ("When a Teams webhook request is received") or an
    incoming webhook takes it."""
    msg = message(default)
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {"type": "TextBlock", "text": msg.title, "weight": "Bolder", "size": "Medium", "wrap": True},
                        {"type": "FactSet", "facts": [{"title": name, "value": value} for name, value in msg.facts]},
                    ],
                },
            }
        ],
    }


def mattermost_payload(default: dict[str, Any]) -> dict[str, Any]:
    """A Mattermost (Slack-compatible) incoming-webhook message: the title as text, the facts as an attachment."""
    msg = message(default)
    return {
        "text": f"**{msg.title}**",
        "attachments": [
            {
                "fallback": msg.title,
                "color": f"#{_colour(msg.event_type):06x}",
                "fields": [{"short": False, "title": name, "value": value} for name, value in msg.facts],
            }
        ],
    }


def discord_payload(default: dict[str, Any]) -> dict[str, Any]:
    """A Discord webhook message with one embed (within Discord's limits); no mention in it can ping anyone."""
    msg = message(default)
    return {
        "allowed_mentions": {"parse": []},
        "embeds": [
            {
                "title": msg.title,
                "color": _colour(msg.event_type),
                "timestamp": msg.occurred_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "fields": [{"name": name, "value": value or "-", "inline": False} for name, value in msg.facts],
            }
        ],
    }


def googlechat_payload(default: dict[str, Any]) -> dict[str, Any]:
    """A Google Chat message with one card (cards v2); text is escaped, since Google Chat reads it as HTML."""
    msg = message(default)
    return {
        "fallbackText": msg.title,
        "cardsV2": [
            {
                "cardId": "dockhook-event",
                "card": {
                    "header": {"title": msg.title, "subtitle": "Dockhook"},
                    "sections": [
                        {
                            "widgets": [
                                {"decoratedText": {"topLabel": name, "text": _html(value), "wrapText": True}}
                                for name, value in msg.facts
                            ]
                        }
                    ],
                },
            }
        ],
    }


def _colour(event_type: str) -> int:
    return _COLOURS.get(event_type, _OTHER_COLOUR)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


RENDERERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "teams": teams_payload,
    "mattermost": mattermost_payload,
    "discord": discord_payload,
    "googlechat": googlechat_payload,
}


def chat_payload(target_type: str, default: dict[str, Any]) -> dict[str, Any]:
    """The message for a chat target of ``target_type`` (one of CHAT_TYPES); KeyError for any other."""
    return RENDERERS[target_type](default)
