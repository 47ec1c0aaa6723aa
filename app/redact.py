"""Secrets out of sight: the mask shown for secret values, and target addresses as they may be shown (pure)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "******"

# Chat services whose incoming-webhook URL carries its credential in the path: (host pattern, path pattern).
# The groups that match are the secret segments.
_PATH_TOKENS = (
    (re.compile(r"(^|\.)slack\.com$"), re.compile(r"^/services/[^/]+/[^/]+/([^/]+)")),
    (re.compile(r"(^|\.)slack\.com$"), re.compile(r"^/(?:triggers|workflows)/[^/]+/[^/]+/([^/]+)")),
    (re.compile(r"(^|\.)(discord|discordapp)\.com$"), re.compile(r"^/api/webhooks/[^/]+/([^/]+)")),
    (re.compile(r"(^|\.)webhook\.office\.com$"), re.compile(r"^/webhookb2/(.+)$")),
    (re.compile(r".*"), re.compile(r"^(?:/[^/]+)*/hooks/([^/]+)$")),  # Mattermost (any host)
)

# Target types whose webhook URL ends in its token, whatever the host (self-hosted Mattermost, proxies).
_LAST_SEGMENT_KINDS = ("slack", "mattermost", "discord")


def mask(secret: str | None) -> str:
    """The mask for a set secret, ``""`` for none."""
    return MASK if secret else ""


def address(url: str, kind: str = "http") -> str:
    """``url`` as it may be shown: user-info, every query-string value and chat webhook path tokens masked.

    ``kind`` is the target type: for a ``slack``, ``mattermost`` or ``discord`` target the last path segment is a
    token whatever the host (Teams workflow and Google Chat URLs carry theirs in the query, masked anyway).
    The stored address stays whole; only what is shown is masked.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return MASK
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    if "@" in parts.netloc:
        netloc = f"{MASK}@{netloc}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(name, MASK if value else "") for name, value in pairs], safe="*") if pairs else MASK
    return urlunsplit((parts.scheme, netloc, _path(host, parts.path, kind), query, ""))


def _path(host: str, path: str, kind: str) -> str:
    for host_pattern, path_pattern in _PATH_TOKENS:
        found = path_pattern.match(path) if host_pattern.search(host) else None
        if found:
            start, end = found.span(1)
            return path[:start] + MASK + path[end:]
    if kind in _LAST_SEGMENT_KINDS and path.strip("/"):
        head, _, _ = path.rstrip("/").rpartition("/")
        return f"{head}/{MASK}"
    return path
