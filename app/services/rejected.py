"""Rejected notifications (dead letters): registry events the receiver could not record, kept with their reason.

The registry retries an unaccepted envelope forever, in order, so an event that cannot be recorded must not
fail its envelope: it is kept here instead, visible through the API, and the rest of the envelope goes on.
Everything written here is bounded and cleaned in Python first: whatever an event holds, this table takes it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from app.extensions import db
from app.models import RejectedNotification
from app.services import query
from app.services.db import chunks
from app.services.errors import NotFound
from app.services.query import Key, Kind

log = logging.getLogger(__name__)

# The event is kept as JSON text up to this many characters (an envelope's body is bounded; one event's copy is
# bounded more, so a flood of large rejected events cannot grow the table faster than their count).
MAX_EVENT_CHARS = 16 * 1024
MAX_REASON_CHARS = 1024
MAX_ADDRESS_CHARS = 255
MAX_ID_CHARS = 64
# Rejected events kept per envelope. A registry sends one event per envelope; an envelope of thousands of bad
# events (1 MiB of "[1,2,3,...]" is 150,000) is garbage whose first events are evidence enough, and writing them
# all would turn one request into a long transaction.
MAX_KEPT_PER_ENVELOPE = 100
# Control characters (C0, DEL, C1) and unpaired surrogates: no registry sends them, PostgreSQL refuses NUL and
# lone surrogates outright, and a newline in a logged value forges log lines.
UNSAFE_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

# The keys of ``q`` and ``sort`` on the list.
QUERY_KEYS: dict[str, Key] = {
    "id": Key(RejectedNotification.id, Kind.INTEGER),
    "received_at": Key(RejectedNotification.received_at, Kind.TIME),
    "registry_event_id": Key(RejectedNotification.registry_event_id, Kind.TEXT),
    "registry_request_id": Key(RejectedNotification.registry_request_id, Kind.TEXT),
    "reason": Key(RejectedNotification.reason, Kind.TEXT),
    "source_address": Key(RejectedNotification.source_address, Kind.TEXT),
}


@dataclass(frozen=True)
class Rejection:
    """One event of an envelope that will not be recorded: why, and the event as the body held it (decoded
    JSON: any value, not necessarily an object)."""

    reason: str
    event: Any


def cleaned(text: str, limit: int) -> str:
    """``text`` with control characters and unpaired surrogates written as ``\\uXXXX``, cut to ``limit``."""
    return UNSAFE_CHARACTER.sub(lambda m: f"\\u{ord(m.group()):04x}", text)[:limit]


def usable_id(value: Any) -> str | None:
    """``value`` when it can stand as a registry event or request id here (a string of 1-64 safe characters)."""
    if isinstance(value, str) and 0 < len(value) <= MAX_ID_CHARS and not UNSAFE_CHARACTER.search(value):
        return value
    return None


def keep(rejections: Sequence[Rejection], source_address: str) -> int:
    """Add one row per rejected event of an envelope not kept before; return how many rows were added.

    Re-sends do not add rows: the dedupe key is the registry event id when the event has a usable one, else the
    hash of the event's JSON text. Only the first ``MAX_KEPT_PER_ENVELOPE`` rejections are kept (the rest are
    logged as a count). Flushes, never commits (the caller owns the transaction); a concurrent insert of the same
    key makes the flush or the commit raise IntegrityError, after which the caller retries and this read sees
    the other row.
    """
    rows: dict[str, RejectedNotification] = {}
    address = cleaned(source_address, MAX_ADDRESS_CHARS)
    if len(rejections) > MAX_KEPT_PER_ENVELOPE:
        log.warning(
            "an envelope from %s has %d rejected events: the first %d are kept, the others only counted",
            address or "(unknown address)",
            len(rejections),
            MAX_KEPT_PER_ENVELOPE,
        )
    for rejection in rejections[:MAX_KEPT_PER_ENVELOPE]:
        row = _row(rejection, address)
        rows.setdefault(row.dedupe_key, row)
    keys = list(rows)
    kept: set[str] = set()
    for chunk in chunks(keys):
        kept.update(
            db.session.scalars(
                select(RejectedNotification.dedupe_key).where(RejectedNotification.dedupe_key.in_(chunk))
            )
        )
    added = 0
    for key, row in rows.items():
        if key in kept:
            log.info("registry event %s rejected again (kept before): %s", row.registry_event_id or key, row.reason)
            continue
        log.warning(
            "registry event %s from %s rejected and kept aside: %s",
            row.registry_event_id or key,
            address or "(unknown address)",
            row.reason,
        )
        db.session.add(row)
        added += 1
    db.session.flush()
    return added


def _row(rejection: Rejection, source_address: str) -> RejectedNotification:
    text = _json(rejection.event)
    event = rejection.event if isinstance(rejection.event, dict) else {}
    request = event.get("request")
    event_id = usable_id(event.get("id"))
    request_id = usable_id(request.get("id")) if isinstance(request, dict) else None
    key = f"id:{event_id}" if event_id else f"sha256:{hashlib.sha256(text.encode()).hexdigest()}"
    return RejectedNotification(
        dedupe_key=key,
        registry_event_id=event_id,
        registry_request_id=request_id or "",
        reason=cleaned(rejection.reason, MAX_REASON_CHARS),
        event=text[:MAX_EVENT_CHARS],
        event_truncated=len(text) > MAX_EVENT_CHARS,
        source_address=source_address,
    )


def _json(event: Any) -> str:
    # ASCII-escaped: NUL, other control characters and lone surrogates become \u escapes, which every backend
    # stores. A decoded body is always serialisable; anything else is kept as its escaped repr.
    try:
        return json.dumps(event, ensure_ascii=True, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        return ascii(event)


def page(
    page: int, page_size: int, *, q: str | None = None, sort: str | None = None
) -> tuple[list[RejectedNotification], int]:
    """One page of rejected events, newest first unless ``sort`` says, and the total matching rows. ``q`` and
    ``sort`` take ``QUERY_KEYS`` (raise Invalid otherwise)."""
    statement = query.filtered(select(RejectedNotification), QUERY_KEYS, q)
    statement = query.ordered(
        statement, QUERY_KEYS, sort, [RejectedNotification.received_at.desc(), RejectedNotification.id.desc()]
    )
    total = query.count(statement)
    return list(db.session.scalars(query.paged(statement, page, page_size))), total


def get(rejected_id: int) -> RejectedNotification:
    """One rejected event by its id; raises NotFound."""
    row = db.session.get(RejectedNotification, rejected_id)
    if row is None:
        raise NotFound(f"rejected notification {rejected_id} not found")
    return row


def purge(before: datetime) -> int:
    """Delete rejected notifications received before ``before`` (the retention period); commit. Returns how many."""
    deleted = db.session.execute(delete(RejectedNotification).where(RejectedNotification.received_at < before))
    db.session.commit()
    return int(deleted.rowcount or 0)  # type: ignore[attr-defined]
