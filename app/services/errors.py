"""Domain exceptions raised by the services; the API and the receiver map them to HTTP in one place each."""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every domain error. ``code`` is the Harbor 2.x error code."""

    code = "UNKNOWN"
    status = 500


class NotFound(ServiceError):
    code = "NOT_FOUND"
    status = 404


class Conflict(ServiceError):
    code = "CONFLICT"
    status = 409


class Invalid(ServiceError):
    code = "BAD_REQUEST"
    status = 400


class DatabaseUnavailable(ServiceError):
    """The database could not be reached or could not commit; nothing was recorded."""

    code = "SERVICE_UNAVAILABLE"
    status = 503
