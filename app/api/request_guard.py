"""What every ``/api/`` request must be before a view sees it: a body within DOCKHOOK_MAX_API_BODY_BYTES, JSON
nested at most MAX_JSON_DEPTH deep without NaN, Infinity or out-of-range numbers, and no NUL or lone surrogate in
a string of the body, the query or the path. Anything else is a 4xx in Harbor's shape, before anything is read
from or written to the database. The registry receiver (``/service/notifications``) keeps its own limit."""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from app.errors import error_response
from app.extensions import current_settings

PREFIX = "/api/"
MAX_JSON_DEPTH = 32
# Integer literals beyond a signed 64-bit integer are refused (and the digit count is bounded before int()).
INT64 = (-(2**63), 2**63 - 1)
_INT_LITERAL_MAX = 20
# NUL (PostgreSQL text cannot hold it) and unpaired UTF-16 surrogates (no encoding can store them).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# A JSON string, escapes included (unrolled: no backtracking on long strings).
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class Refused(ValueError):
    """The body is not one the API takes; the message says why without quoting it."""


def install(app: Flask) -> None:
    """Check every ``/api/`` request (after the token check, which ``init_api`` registered first)."""
    app.before_request(_guard)


def _guard() -> Response | None:
    if not request.path.startswith(PREFIX):
        return None
    limit = current_settings().max_api_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return _too_large(limit)
    # Per request (Flask 3.1): the receiver keeps its own limit (DOCKHOOK_MAX_BODY_BYTES). A body without
    # Content-Length (chunked) is read up to one byte past the limit, so "over" can be told from "exactly".
    request.max_content_length = limit if request.content_length is not None else limit + 1
    problem = _unstorable_in_url()
    if problem is not None:
        return error_response(400, problem)
    if not request.is_json:
        return None
    try:
        body = request.get_data(cache=True)
    except RequestEntityTooLarge:
        return _too_large(limit)
    if len(body) > limit:
        return _too_large(limit)
    if not body:
        return None
    try:
        check_json(body)
    except Refused as exc:
        return error_response(400, str(exc))
    return None


def _too_large(limit: int) -> Response:
    return error_response(413, f"the request body is over the {limit}-byte limit (DOCKHOOK_MAX_API_BODY_BYTES)")


def _unstorable_in_url() -> str | None:
    if _UNSTORABLE.search(request.path):
        return "the path contains a NUL character or an unpaired surrogate"
    for key, value in request.args.items(multi=True):
        if _UNSTORABLE.search(key) or _UNSTORABLE.search(value):
            return f"query argument {_shown(key)}: contains a NUL character or an unpaired surrogate"
    return None


def check_json(body: bytes) -> Any:
    """The parsed body; raises Refused when it is not UTF-8 JSON, is nested deeper than MAX_JSON_DEPTH, holds
    NaN, Infinity, a number out of range, or a string (key or value) with NUL or an unpaired surrogate."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("the request body is not UTF-8") from None
    # Before parsing: a deeply nested document would exhaust the parser's recursion.
    if json_depth(text) > MAX_JSON_DEPTH:
        raise Refused(f"the request body is nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        document = json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except Refused:
        raise
    except (ValueError, RecursionError):
        raise Refused("the request body is not valid JSON") from None
    _check_strings(document, "body")
    return document


def json_depth(text: str) -> int:
    """How deep the arrays and objects of ``text`` nest (brackets inside strings do not count)."""
    brackets = _NOT_BRACKETS.sub("", _JSON_STRING.sub("", text))
    return max(accumulate(_STEP[c] for c in brackets), default=0)


def _constant(name: str) -> Any:
    raise Refused(f"the request body holds {name}, which is not a JSON number")


def _float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise Refused("the request body holds a number out of range")
    return value


def _int(literal: str) -> int:
    if len(literal) > _INT_LITERAL_MAX or not INT64[0] <= int(literal) <= INT64[1]:
        raise Refused("the request body holds an integer beyond 64 bits")
    return int(literal)


def _check_strings(value: Any, where: str) -> None:
    if isinstance(value, str):
        if _UNSTORABLE.search(value):
            raise Refused(f"{where}: contains a NUL character or an unpaired surrogate")
    elif isinstance(value, dict):
        for key, item in value.items():
            if _UNSTORABLE.search(key):
                raise Refused(f"{where}: a key contains a NUL character or an unpaired surrogate")
            _check_strings(item, f"{where}.{_shown(key)}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_strings(item, f"{where}.{index}")


def _shown(name: str) -> str:
    """A key as a message may show it: printable ASCII, at most 64 characters."""
    safe = "".join(c if c.isascii() and c.isprintable() else "?" for c in name[:64])
    return safe + ("..." if len(name) > 64 else "")
