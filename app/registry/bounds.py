"""What a kept registry event may hold before it is recorded: lengths, characters and names (pure).

Checked in Python so that every backend takes the same events (SQLite would store an over-long value that
PostgreSQL refuses, and PostgreSQL refuses NUL and unpaired surrogates outright): the database never decides.
The lengths are read from the columns the values go to; the names follow the OCI distribution specification,
which docker/distribution enforces before it sends an event, and Harbor's project-name rule.
"""

from __future__ import annotations

import re

from sqlalchemy import String

from app.models import AccessLog, Artifact, Event, Repository, Tag
from app.models.base import Base
from app.naming import project_name_problem
from app.registry.actions import RegistryAction
from app.services.rejected import UNSAFE_CHARACTER

# Repository names, tags and digests as the OCI distribution specification defines them.
REPOSITORY_RE = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*")
TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
DIGEST_RE = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[A-Za-z0-9=_-]+")
# The largest size an artifact row holds (a signed 64-bit integer).
MAX_SIZE = 2**63 - 1


def _width(model: type[Base], column: str) -> int:
    kind = model.__table__.c[column].type
    assert isinstance(kind, String) and kind.length is not None, f"{model.__name__}.{column} has no length"
    return kind.length


def widths() -> dict[str, int]:
    """Each field the receiver records, as the registry names it, and the most characters its columns hold."""
    return {
        "id": min(_width(AccessLog, "registry_event_id"), _width(Event, "registry_event_id")),
        "target.repository": min(
            _width(AccessLog, "repo_name"), _width(Repository, "name"), _width(Event, "repository")
        ),
        "target.tag": min(_width(AccessLog, "repo_tag"), _width(Tag, "name")),
        "target.digest": min(_width(AccessLog, "digest"), _width(Artifact, "digest")),
        "target.mediaType": _width(Artifact, "media_type"),
        "actor.name": min(_width(AccessLog, "username"), _width(Event, "operator")),
        "request.id": min(_width(AccessLog, "registry_request_id"), _width(Event, "registry_request_id")),
        "request.useragent": _width(AccessLog, "user_agent"),
        # Not a column: the default host of payloads' resource_url, bounded as a host name with a port.
        "request.host": 255,
    }


WIDTHS = widths()


def recorded_values(action: RegistryAction) -> dict[str, str]:
    """The text values of ``action`` that reach the database, by the registry's field names."""
    return {
        "id": action.event_id,
        "target.repository": action.repository,
        "target.tag": action.tag,
        "target.digest": action.digest,
        "target.mediaType": action.media_type,
        "actor.name": action.username,
        "request.id": action.request_id,
        "request.useragent": action.user_agent,
        "request.host": action.registry_host,
    }


def problem(action: RegistryAction) -> str | None:
    """Why ``action`` cannot be recorded as it is, or None. (A single-segment name belongs to the default
    project, which the settings checked.)"""
    for name, value in recorded_values(action).items():
        if len(value) > WIDTHS[name]:
            return f"{name} has {len(value)} characters; at most {WIDTHS[name]} are kept"
        bad = UNSAFE_CHARACTER.search(value)
        if bad:
            return f"{name} holds a control character or an unpaired surrogate (U+{ord(bad.group()):04X})"
    if action.size is not None and action.size > MAX_SIZE:
        return f"target.size is over {MAX_SIZE}"
    return _names(action)


def _names(action: RegistryAction) -> str | None:
    repository = action.repository
    if "/" in repository:
        project = repository.split("/", 1)[0]
        why = project_name_problem(project)
        if why:
            return f"project {_shown(project)} (the first segment of target.repository) is refused: {why}"
    if not REPOSITORY_RE.fullmatch(repository):
        return (
            f"target.repository {_shown(repository)} is not a repository name: lower-case letters and digits in "
            "path components separated by /, each separated inside by ., _, __ or dashes"
        )
    if action.tag and not TAG_RE.fullmatch(action.tag):
        return f"target.tag {_shown(action.tag)} is not a tag: letters, digits, _, . and -, at most 128"
    if action.digest and not DIGEST_RE.fullmatch(action.digest):
        return f"target.digest {_shown(action.digest)} is not a digest (algorithm:encoded)"
    return None


def _shown(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:80] + "...")
