"""The HTTP sender: POST one hook job's exact body and classify what came back."""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass
from typing import Any

import requests
from requests import exceptions as rx
from urllib3.exceptions import InsecureRequestWarning

from app import clock
from app.services.hook_jobs import RESPONSE_BODY_CAP, AttemptResult
from app.version import __version__
from jobs import signing

USER_AGENT = f"Dockhook/{__version__} (webhooks)"

_sessions: dict[int, requests.Session] = {}


@dataclass(frozen=True)
class Request:
    """What to send. ``auth_header`` and ``secret`` are secrets: the header goes on the wire, the secret
    only into the signature, and neither anywhere else."""

    hook_id: str
    address: str
    body: bytes
    content_type: str
    auth_header: str = ""
    secret: str = ""
    verify_tls: bool = True
    connect_timeout: float = 10.0
    read_timeout: float = 10.0


def session() -> requests.Session:
    """One keep-alive session per process; a forked child builds its own (pid-keyed), never shares one."""
    pid = os.getpid()
    if pid not in _sessions:
        s = requests.Session()
        s.trust_env = False  # no proxy or netrc from the environment: targets are addressed as configured
        _sessions[pid] = s
    return _sessions[pid]


def headers(request: Request, timestamp: int) -> dict[str, str]:
    result = {
        "Content-Type": request.content_type,
        "User-Agent": USER_AGENT,
        "webhook-id": request.hook_id,
        "webhook-timestamp": str(timestamp),
    }
    if request.auth_header:
        result["Authorization"] = request.auth_header
    if request.secret:
        result["webhook-signature"] = signing.signature(request.secret, request.hook_id, timestamp, request.body)
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
            response = session().post(
                request.address,
                data=request.body,
                headers=headers(request, int(started_at.timestamp())),
                timeout=(request.connect_timeout, request.read_timeout),
                verify=request.verify_tls,
                allow_redirects=False,
                stream=True,
            )
    except rx.SSLError as exc:
        return done(error_class="tls_error", error_message=_short(exc))
    except rx.ConnectTimeout as exc:
        return done(error_class="connect_timeout", error_message=_short(exc))
    except rx.ReadTimeout as exc:
        return done(error_class="read_timeout", error_message=_short(exc))
    except rx.ConnectionError as exc:
        return done(error_class=_connection_class(exc), error_message=_short(exc))
    except (rx.InvalidURL, rx.MissingSchema, rx.InvalidSchema) as exc:
        return done(error_class="invalid_url", error_message=_short(exc))
    except rx.RequestException as exc:
        return done(error_class="request_error", error_message=_short(exc))
    try:
        body = _read_capped(response)
    except (rx.RequestException, OSError) as exc:
        response.close()
        return done(status_code=response.status_code, error_class="read_error", error_message=_short(exc))
    response.close()
    code = response.status_code
    retry_after = response.headers.get("Retry-After")
    if 200 <= code < 300:
        return done(status_code=code, response_body=body)
    error_class = "redirect" if 300 <= code < 400 else "http_status"
    message = f"HTTP {code}"
    if error_class == "redirect" and response.headers.get("Location"):
        message += f" to {response.headers['Location'][:200]} (redirects are not followed)"
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


def _short(exc: BaseException) -> str:
    # requests' messages name the URL; URLs come from policies and may embed credentials,
    # so messages keep only the exception's innermost reason.
    reason: BaseException = exc
    while True:
        inner = reason.args[0] if reason.args and isinstance(reason.args[0], BaseException) else None
        inner = inner or getattr(reason, "reason", None) or reason.__cause__
        if not isinstance(inner, BaseException) or inner is reason:
            break
        reason = inner
    return f"{type(reason).__name__}: {str(reason)[:500]}"
