"""Policy filters (a Dockhook extension of Harbor's policy): which events of the subscribed types a policy takes.

``{"repositories": [...], "tags": [...], "media_types": [...], "operators": [...]}``, every key optional. Each
list is a set of globs matched by wcmatch (``*`` and ``?`` stay within a path segment, ``**`` crosses them,
``[abc]`` is a class, a leading ``!`` excludes); a list of only exclusions takes everything else. An event
passes when it passes every list given; an event that does not carry what a list names (a replication event
has no repository, an untagged push no tag) does not pass that list. Pure: no database, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wcmatch import glob

from app.services.errors import Invalid

KEYS = ("repositories", "tags", "media_types", "operators")
PATTERNS_MAX = 32
PATTERN_MAX = 256
# GLOBSTAR: ** crosses "/"; NEGATE: "!" excludes; NEGATEALL: only exclusions means "everything but";
# DOTGLOB: * matches a leading dot too; CASE and FORCEUNIX: the same case-sensitive POSIX matching everywhere.
FLAGS = glob.GLOBSTAR | glob.NEGATE | glob.NEGATEALL | glob.DOTGLOB | glob.CASE | glob.FORCEUNIX
# The characters a pattern may hold besides the glob syntax (*, ?, [...], [!...]): the names' own alphabets.
_ALPHABETS = {
    "repositories": re.compile(r"[a-z0-9._/\-*?\[\]!^]+"),
    "tags": re.compile(r"[A-Za-z0-9_.\-*?\[\]!^]+"),
    "operators": re.compile(r"[\x21-\x7e]+"),
}
_SINGULAR = {"repositories": "repository", "tags": "tag", "operators": "operator"}
IMAGE_MEDIA_TYPES = frozenset(
    {
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    }
)
INDEX_MEDIA_TYPES = frozenset(
    {"application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"}
)
MEDIA_KINDS = {"image": IMAGE_MEDIA_TYPES, "index": INDEX_MEDIA_TYPES}
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+\-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+\-]{0,126}")


@dataclass(frozen=True)
class Facts:
    """What an event says about the fields filters look at; ``None``: the event does not carry it."""

    operator: str
    repository: str | None = None
    tags: tuple[str, ...] | None = None
    # The artifact's media type, or how to find it, called only when a ``media_types`` filter asks: a published
    # event's is a database read, which an event no such filter looks at must not pay (the caller memoises it).
    media_type: str | Callable[[], str | None] | None = None


def validate(raw: Mapping[str, Any] | None) -> dict[str, list[str]] | None:
    """The filters as stored (empty lists dropped; ``None`` when nothing is left). Raises Invalid, naming the
    field, for an unknown key, a list that is too long, or a pattern that is empty, too long, outside the
    field's alphabet, with an unbalanced ``[`` or an empty path segment."""
    if raw is None:
        return None
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise Invalid(f"filters: unknown key {unknown[0]!r}; filters take {', '.join(KEYS)}")
    result: dict[str, list[str]] = {}
    for key in KEYS:
        values = raw.get(key)
        if values is None:
            continue
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise Invalid(f"filters.{key}: must be a list of strings")
        if len(values) > PATTERNS_MAX:
            raise Invalid(f"filters.{key}: at most {PATTERNS_MAX} entries")
        checked = [
            _media_type(key, i, v) if key == "media_types" else _pattern(key, i, v) for i, v in enumerate(values)
        ]
        if checked:
            result[key] = list(dict.fromkeys(checked))
    return result or None


def admits(filters: Mapping[str, Sequence[str]] | None, facts: Facts) -> bool:
    """True when an event with ``facts`` passes every list of ``filters`` (no filters: every event passes)."""
    if not filters:
        return True
    repositories = filters.get("repositories")
    if repositories and (facts.repository is None or not _matches(facts.repository, repositories)):
        return False
    tags = filters.get("tags")
    if tags and not (facts.tags and any(_matches(tag, tags) for tag in facts.tags)):
        return False
    media_types = filters.get("media_types")
    if media_types:
        media_type = facts.media_type() if callable(facts.media_type) else facts.media_type
        if media_type is None or not _media_matches(media_type, media_types):
            return False
    operators = filters.get("operators")
    return not operators or _matches(facts.operator, operators)


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return bool(glob.globmatch(name, list(patterns), flags=FLAGS))


def _media_matches(media_type: str, wanted: Sequence[str]) -> bool:
    media_type = media_type.split(";", 1)[0].strip().lower()
    return any(media_type in MEDIA_KINDS.get(w, frozenset({w})) for w in wanted)


def _pattern(key: str, index: int, value: str) -> str:
    where = f"filters.{key}.{index}"
    body = value[1:] if value.startswith("!") else value
    if not body:
        raise Invalid(f"{where}: a pattern must not be empty (nor a lone '!')")
    if len(value) > PATTERN_MAX:
        raise Invalid(f"{where}: at most {PATTERN_MAX} characters")
    if not _ALPHABETS[key].fullmatch(body):
        raise Invalid(f"{where}: {_quote(value)} holds a character a {_SINGULAR[key]} name never has")
    if not _brackets_balanced(body):
        raise Invalid(f"{where}: {_quote(value)} has an unbalanced '[' or ']'")
    if key == "repositories" and (body.startswith("/") or body.endswith("/") or "//" in body):
        raise Invalid(f"{where}: {_quote(value)} has an empty path segment (a leading, trailing or double '/')")
    return value


def _media_type(key: str, index: int, value: str) -> str:
    text = value.strip().lower()
    if text in MEDIA_KINDS or _MEDIA_TYPE.fullmatch(text):
        return text
    raise Invalid(f"filters.{key}.{index}: {_quote(value)} is not image, index or a media type (type/subtype)")


def _brackets_balanced(pattern: str) -> bool:
    inside = False
    for char in pattern:
        if char == "[":
            if inside:
                return False
            inside = True
        elif char == "]":
            if not inside:
                return False
            inside = False
    return not inside


def _quote(value: str) -> str:
    return repr(value if len(value) <= 64 else value[:64] + "...")
