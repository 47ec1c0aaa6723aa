"""Log set-up for every Dockhook process: quiet, readable text by default, or one JSON object per line
(DOCKHOOK_LOG_FORMAT=json). Each line carries what applies of the request id, the registry event ids and the
hook job uuid (bound in context variables by the receiver, the API and the delivery job).

Log messages never hold a secret: tokens, auth headers and signing secrets are not logged anywhere, and the
formatters add only the ids above. Configuring is the entry points' job (no set-up at import).
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from typing import IO, TYPE_CHECKING, Any

from pythonjsonlogger.json import JsonFormatter

if TYPE_CHECKING:
    from flask import Flask, Response

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"
JSON_RENAMES = {"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"}
# Libraries whose INFO lines are start-up noise (alembic announces each of its plugins on import).
QUIET = {"alembic": logging.WARNING, "urllib3": logging.WARNING}

REQUEST_ID: ContextVar[str | None] = ContextVar("dockhook_request_id", default=None)
REGISTRY_EVENT_IDS: ContextVar[tuple[str, ...] | None] = ContextVar("dockhook_registry_event_ids", default=None)
HOOK_JOB: ContextVar[str | None] = ContextVar("dockhook_hook_job", default=None)
# A request id a client sends (X-Request-Id) is kept only when it is short and plain; otherwise one is made.
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# At most this many registry event ids ride on a log line (an envelope may hold hundreds).
MAX_EVENT_IDS = 10


def context() -> dict[str, Any]:
    """The ids bound where the caller runs: ``request_id``, ``registry_event_ids``, ``hook_job``."""
    found: dict[str, Any] = {}
    if (request_id := REQUEST_ID.get()) is not None:
        found["request_id"] = request_id
    if event_ids := REGISTRY_EVENT_IDS.get():
        found["registry_event_ids"] = list(event_ids)
    if (hook_job := HOOK_JOB.get()) is not None:
        found["hook_job"] = hook_job
    return found


class ContextFilter(logging.Filter):
    """Puts the bound ids on each record (as attributes, so the JSON formatter writes them as fields)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in context().items():
            setattr(record, name, value)
        return True


class TextFormatter(logging.Formatter):
    """``time LEVEL [pid] logger: message`` and, when bound, `` [request_id=... hook_job=...]``."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = [
            f"{name}={','.join(value) if isinstance(value, list) else value}"
            for name in ("request_id", "registry_event_ids", "hook_job")
            if (value := getattr(record, name, None))
        ]
        return f"{text} [{' '.join(ids)}]" if ids else text


def formatter(fmt: str) -> logging.Formatter:
    """The formatter for ``fmt`` (``text`` or ``json``)."""
    if fmt == "json":
        return JsonFormatter(JSON_FIELDS, rename_fields=JSON_RENAMES, timestamp=False)
    return TextFormatter(TEXT_FORMAT)


def handler(fmt: str = "text", stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing to ``stream`` (stderr) in ``fmt``, with the bound ids."""
    made = logging.StreamHandler(stream or sys.stderr)
    made.addFilter(ContextFilter())
    made.setFormatter(formatter(fmt))
    return made


def configure(fmt: str = "text", level: str | int = "INFO", stream: IO[str] | None = None) -> None:
    """Send every log record to ``stream`` (stderr) in ``fmt``; replaces handlers set up before."""
    root = logging.getLogger()
    root.handlers[:] = [handler(fmt, stream)]
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for name, quiet_level in QUIET.items():
        logging.getLogger(name).setLevel(quiet_level)


@contextlib.contextmanager
def hook_job_bound(uuid: str) -> Iterator[None]:
    """Within the block, log lines carry ``hook_job``: for threads that handle many hook jobs one after another."""
    token = HOOK_JOB.set(uuid)
    try:
        yield
    finally:
        HOOK_JOB.reset(token)


def bind_registry_events(event_ids: Iterator[str] | list[str] | tuple[str, ...]) -> None:
    """Until the request ends, log lines carry these registry event ids (the first MAX_EVENT_IDS)."""
    REGISTRY_EVENT_IDS.set(tuple(event_ids)[:MAX_EVENT_IDS] or None)


def install_request_ids(app: Flask) -> None:
    """Give every request an id (the client's ``X-Request-Id`` when plain, else a new one), bind it for the log
    lines of the request, and send it back in ``X-Request-Id``."""
    from flask import request

    @app.before_request
    def _bind() -> None:
        offered = request.headers.get("X-Request-Id", "")
        REQUEST_ID.set(offered if _REQUEST_ID_RE.fullmatch(offered) else uuid.uuid4().hex)
        REGISTRY_EVENT_IDS.set(None)

    @app.after_request
    def _answer(response: Response) -> Response:
        request_id = REQUEST_ID.get()
        if request_id is not None:
            response.headers["X-Request-Id"] = request_id
        return response

    @app.teardown_request
    def _unbind(_: BaseException | None) -> None:
        REQUEST_ID.set(None)
        REGISTRY_EVENT_IDS.set(None)
