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


class Unprocessable(ServiceError):
    """Well-formed, but not what the request may do: an Idempotency-Key reused for a different request."""

    code = "UNPROCESSABLE_ENTITY"
    status = 422


class DatabaseUnavailable(ServiceError):
    """The database could not be reached or could not commit; nothing was recorded."""

    code = "SERVICE_UNAVAILABLE"
    status = 503


class Unauthorized(ServiceError):
    """No credentials, or credentials that do not sign in."""

    code = "UNAUTHORIZED"
    status = 401


class Forbidden(ServiceError):
    """Signed in, but without the permission the request needs."""

    code = "FORBIDDEN"
    status = 403


class TooManyAttempts(ServiceError):
    """Too many failed sign-ins from this address or for this account; ``retry_after`` in seconds."""

    code = "TOO_MANY_REQUESTS"
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(ServiceError):
    """Too many requests of one kind for one resource within a window; ``retry_after`` in seconds."""

    code = "TOO_MANY_REQUESTS"
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
