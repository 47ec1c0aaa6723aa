"""The HTTP sender: POST one hook job's exact body and classify what came back."""

from __future__ import annotations

import http.cookiejar
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from requests import exceptions as rx
from urllib3.exceptions import HTTPError, InsecureRequestWarning

from app import clock, redact
from app.netguard import BlockedAddress, IPNetwork, Resolver
from app.services.hook_jobs import RESPONSE_BODY_CAP, AttemptResult
from app.version import __version__
from jobs import signing
from jobs.transport import GuardedAdapter

USER_AGENT = f"Dockhook/{__version__} (webhooks)"

_sessions: dict[tuple[int, tuple[IPNetwork, ...], Resolver | None], requests.Session] = {}


@dataclass(frozen=True)
class Request:
    """What to send. ``auth_header`` and ``secrets`` are secrets: the header goes on the wire, the signing
    secrets only into the signature, and neither anywhere else (not even a repr)."""

    hook_id: str
    address: str
    body: bytes
    content_type: str
    auth_header: str = field(default="", repr=False)
    # The current signing secret first, then a replaced one still in its rotation overlap.
    secrets: tuple[str, ...] = field(default=(), repr=False)
    verify_tls: bool = True
    connect_timeout: float = 10.0
    read_timeout: float = 10.0
    allowed_networks: tuple[IPNetwork, ...] = ()
    resolver: Resolver | None = None
    kind: str = "http"  # the target type: how its address is masked in messages


def session(allowed: tuple[IPNetwork, ...] = (), resolver: Resolver | None = None) -> requests.Session:
    """One keep-alive session per process and guard; a forked child builds its own (pid-keyed), never shares one.

    Every connection goes through the SSRF guard (jobs.transport): the address connected to is checked.
    """
    key = (os.getpid(), allowed, resolver)
    if key not in _sessions:
        s = requests.Session()
        s.trust_env = False  # no proxy or netrc from the environment: targets are addressed as configured
        # No cookie is ever kept: the session is shared by every policy's deliveries to a host, and a cookie one
        # target set would go along with another policy's (another tenant's) deliveries there.
        s.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        adapter = GuardedAdapter(allowed=allowed, resolver=resolver)
        s.mount("http://", adapter)
        s.mount("https://", adapter)
        _sessions[key] = s
    return _sessions[key]


def headers(request: Request, timestamp: int) -> dict[str, str]:
    result = {
        "Content-Type": request.content_type,
        "User-Agent": USER_AGENT,
        "webhook-id": request.hook_id,
        "webhook-timestamp": str(timestamp),
    }
    if request.auth_header:
        result["Authorization"] = request.auth_header
    if request.secrets:
        # Standard Webhooks rotation: one signature per secret, space-separated; a receiver accepts any match.
        result["webhook-signature"] = " ".join(
            signing.signature(secret, request.hook_id, timestamp, request.body) for secret in request.secrets
        )
    return result


def send(request: Request) -> AttemptResult:
    """POST once; never raises for a network or HTTP failure (the result says what happened).

    Redirects are not followed (a 3xx is a failure), TLS is verified unless told not to, and
    at most RESPONSE_BODY_CAP bytes of the response body are read.
    """
    started_at = clock.now()
    began = time.monotonic()

    def done(**values: Any) -> AttemptResult:
        return AttemptResult(started_at=started_at, duration_ms=int((time.monotonic() - began) * 1000), **values)

    try:
        with warnings.catch_warnings():
            # skip_cert_verify is the operator's explicit choice for this target: no warning per delivery.
            warnings.simplefilter("ignore", InsecureRequestWarning)
            response = session(request.allowed_networks, request.resolver).post(
                request.address,
                data=request.body,
                headers=headers(request, int(started_at.timestamp())),
                timeout=(request.connect_timeout, request.read_timeout),
                verify=request.verify_tls,
                allow_redirects=False,
                stream=True,
            )
    except BlockedAddress as exc:
        # Refused before any connect: the target resolved to a network the operator did not allow.
        return done(error_class="blocked_address", error_message=str(exc))
    except rx.InvalidHeader:
        # requests quotes the offending value, and the value is the auth header: never repeat it.
        return done(error_class="invalid_header", error_message="the auth_header is not a valid HTTP header value")
    except rx.SSLError as exc:
        return done(error_class="tls_error", error_message=_short(exc, request))
    except rx.ConnectTimeout as exc:
        return done(error_class="connect_timeout", error_message=_short(exc, request))
    except rx.ReadTimeout as exc:
        return done(error_class="read_timeout", error_message=_short(exc, request))
    except rx.ConnectionError as exc:
        return done(error_class=_connection_class(exc), error_message=_short(exc, request))
    except (rx.InvalidURL, rx.MissingSchema, rx.InvalidSchema) as exc:
        return done(error_class="invalid_url", error_message=_short(exc, request))
    except rx.RequestException as exc:
        return done(error_class="request_error", error_message=_short(exc, request))
    try:
        body = _read_capped(response)
    except (rx.RequestException, OSError, HTTPError) as exc:
        response.close()
        if 200 <= response.status_code < 300:
            # The target accepted the webhook; only its answer's body was lost on the way back.
            return done(
                status_code=response.status_code, error_message=f"response body unreadable: {_short(exc, request)}"
            )
        return done(status_code=response.status_code, error_class="read_error", error_message=_short(exc, request))
    response.close()
    code = response.status_code
    retry_after = response.headers.get("Retry-After")
    if 200 <= code < 300:
        return done(status_code=code, response_body=body)
    error_class = "redirect" if 300 <= code < 400 else "http_status"
    message = f"HTTP {code}"
    if error_class == "redirect" and response.headers.get("Location"):
        message += f" to {redact.address(response.headers['Location'][:200])} (redirects are not followed)"
    return done(
        status_code=code, response_body=body, error_class=error_class, error_message=message, retry_after=retry_after
    )


def _read_capped(response: requests.Response) -> str:
    raw = response.raw.read(RESPONSE_BODY_CAP, decode_content=True) or b""
    return bytes(raw[:RESPONSE_BODY_CAP]).decode("utf-8", errors="replace")


def _connection_class(exc: rx.ConnectionError) -> str:
    text = repr(exc)
    if "NameResolutionError" in text or "Name or service not known" in text or "getaddrinfo" in text:
        return "dns_error"
    if "Connection refused" in text or "ConnectionRefusedError" in text:
        return "connection_refused"
    if "RemoteDisconnected" in text or "Connection aborted" in text or "ConnectionResetError" in text:
        return "connection_reset"
    return "connection_error"


def _short(exc: BaseException, request: Request) -> str:
    # requests' messages name the URL; URLs come from policies and may embed credentials,
    # so messages keep only the exception's innermost reason, with the address's tokens masked.
    reason: BaseException = exc
    while True:
        inner = reason.args[0] if reason.args and isinstance(reason.args[0], BaseException) else None
        inner = inner or getattr(reason, "reason", None) or reason.__cause__
        if not isinstance(inner, BaseException) or inner is reason:
            break
        reason = inner
    return _scrub(f"{type(reason).__name__}: {str(reason)[:500]}", request)


def _scrub(text: str, request: Request) -> str:
    """``text`` with the address, its path and its query replaced by their masked forms."""
    shown = redact.address(request.address, request.kind)
    try:
        real, masked = urlsplit(request.address), urlsplit(shown)
    except ValueError:
        return text.replace(request.address, shown)
    for secret, mask in ((request.address, shown), (real.path, masked.path), (real.query, masked.query)):
        if len(secret) > 1 and secret != mask:
            text = text.replace(secret, mask)
    return text
