"""The one JSON error shape (Harbor 2.x): ``{"errors": [{"code": ..., "message": ...}]}``."""

from __future__ import annotations

from flask import Response, jsonify
from werkzeug.exceptions import HTTPException

from app.services.errors import ServiceError

# Harbor's codes where it has one; the HTTP reason in upper snake case otherwise.
CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    412: "PRECONDITION",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "BAD_REQUEST",
    429: "TOO_MANY_REQUESTS",
    500: "UNKNOWN",
    503: "SERVICE_UNAVAILABLE",
}


def error_response(status: int, message: str, code: str | None = None) -> Response:
    response = jsonify({"errors": [{"code": code or CODES.get(status, "UNKNOWN"), "message": message}]})
    response.status_code = status
    return response


def from_service_error(exc: ServiceError) -> Response:
    response = error_response(exc.status, str(exc), exc.code)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def from_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    message = exc.description or exc.name
    if status == 500:
        message = "internal server error"
    # webargs puts field errors on the exception; say which field was wrong.
    messages = getattr(exc, "data", {}).get("messages") if hasattr(exc, "data") else None
    if messages:
        message = describe(messages)
        status = 400
    response = error_response(status, message)
    for name, value in exc.get_headers() if status != 400 else []:
        if name.lower() not in ("content-type", "content-length"):
            response.headers[name] = value
    return response


def describe(messages: object, prefix: str = "") -> str:
    """marshmallow/webargs field errors as one line: ``field.sub: message; other: message``."""
    if isinstance(messages, dict):
        parts = []
        for key, value in messages.items():
            # webargs nests by location (query, json, ...); drop that level from the message.
            inner = prefix if key in ("query", "json", "form", "headers", "path", "view_args") else f"{prefix}{key}."
            parts.append(describe(value, inner))
        return "; ".join(parts)
    if isinstance(messages, list):
        return f"{prefix.rstrip('.')}: {' '.join(str(m) for m in messages)}".lstrip(": ")
    return f"{prefix.rstrip('.')}: {messages}"
