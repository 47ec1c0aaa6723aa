"""Dockhook settings: the only module that reads the environment; every value is validated at start-up."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

from app.naming import PROJECT_NAME_RE
from app.netguard import IPNetwork, Resolver, parse_networks

DEFAULT_UA_DENYLIST = ("harbor-registry-client", "harbor-replication-service")
# Delays before retry 1, 2, ... (Svix's schedule): 8 attempts over about 27.6 hours.
DEFAULT_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)
INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"
# A bind other than loopback exposes the receiver and the API: both tokens must be set, and this long.
MIN_EXPOSED_TOKEN_LENGTH = 32
GENERATE_KEY_HINT = (
    'generate one with: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


CHAT_TARGET_TYPES = ("slack", "teams", "mattermost", "discord", "googlechat")
DEFAULT_CHAT_INTERVALS: tuple[tuple[str, float], ...] = tuple((kind, 1.0) for kind in CHAT_TARGET_TYPES)


class ConfigError(ValueError):
    """A setting has a value Dockhook cannot run with; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Validated settings. Build with :meth:`from_env`; tests may pass overrides."""

    database_url: str
    redis_url: str | None = None
    notify_token: str | None = None
    api_token: str | None = None
    # /metrics accepts this bearer token besides the API token (a scraper need not hold the API's credentials).
    metrics_token: str | None = None
    # Where prometheus_client's multi-process mode keeps every process's values (read by /metrics); None: per process.
    metrics_dir: str | None = None
    log_format: str = "text"
    log_level: str = "INFO"
    default_project: str = "library"
    auto_create_projects: bool = True
    pull_ua_denylist: tuple[str, ...] = DEFAULT_UA_DENYLIST
    max_body_bytes: int = 1024 * 1024
    publish_untagged_pushes: bool = False
    external_url: str | None = None
    http_connect_timeout: float = 10.0
    http_read_timeout: float = 10.0
    job_timeout: int = 60
    retry_schedule: tuple[int, ...] = DEFAULT_SCHEDULE
    retry_overload_minimum: float = 60.0
    sweep_grace: int = 10
    retention_days: int = 30
    # Fernet keys for auth headers and signing secrets at rest: the first encrypts, all decrypt.
    secret_keys: tuple[str, ...] = ()
    allowed_target_networks: tuple[IPNetwork, ...] = ()
    secret_rotation_overlap: int = 86400
    max_targets: int = 20
    max_api_body_bytes: int = 1024 * 1024
    # Failed sign-ins allowed per client address and per account name within the window (seconds).
    signin_max_failures: int = 10
    signin_window: int = 300
    # Seconds between two messages to one chat webhook URL, per chat target type (Slack allows about one a second).
    chat_intervals: tuple[tuple[str, float], ...] = DEFAULT_CHAT_INTERVALS
    # A target whose every attempt failed for this long (and at least DISABLE_MIN_ATTEMPTS times) is disabled.
    disable_after: int = 5 * 86400
    # Answers DNS for target names instead of the system resolver: a boundary tests own (never from the env).
    resolver: Resolver | None = None

    def chat_interval(self, kind: str) -> float:
        """Seconds between two messages to one webhook URL of chat target type ``kind`` (1.0 unless configured)."""
        return dict(self.chat_intervals).get(kind, 1.0)

    def __repr__(self) -> str:
        # Tokens and keys are secrets: a repr (a traceback, a debug log) shows only whether they are set.
        shown = {
            "notify_token": "******" if self.notify_token else None,
            "api_token": "******" if self.api_token else None,
            "metrics_token": "******" if self.metrics_token else None,
            "secret_keys": f"<{len(self.secret_keys)} keys>",
        }
        fields = ", ".join(f"{name}={shown.get(name, getattr(self, name))!r}" for name in self.__dataclass_fields__)
        return f"Settings({fields})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read and validate ``DATABASE_URL``, ``REDIS_URL`` and the ``DOCKHOOK_*`` variables.

        Raises :class:`ConfigError` naming the first bad variable.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {
            "database_url": _database_url(env.get("DATABASE_URL")),
            "redis_url": _optional_url(env, "REDIS_URL", ("redis://", "rediss://", "unix://")),
            "notify_token": _token(env.get("DOCKHOOK_NOTIFY_TOKEN")),
            "api_token": _token(env.get("DOCKHOOK_API_TOKEN"), "DOCKHOOK_API_TOKEN"),
            "metrics_token": _token(env.get("DOCKHOOK_METRICS_TOKEN"), "DOCKHOOK_METRICS_TOKEN"),
            "metrics_dir": _metrics_dir(env.get("PROMETHEUS_MULTIPROC_DIR")),
            "log_format": _choice(env, "DOCKHOOK_LOG_FORMAT", ("text", "json"), "text"),
            "log_level": _choice(env, "DOCKHOOK_LOG_LEVEL", LOG_LEVELS, "INFO"),
            "default_project": _project_name(env.get("DOCKHOOK_DEFAULT_PROJECT", "library")),
            "auto_create_projects": _bool(env, "DOCKHOOK_AUTO_CREATE_PROJECTS", True),
            "pull_ua_denylist": _denylist(env.get("DOCKHOOK_PULL_UA_DENYLIST")),
            "max_body_bytes": _positive_int(env, "DOCKHOOK_MAX_BODY_BYTES", 1024 * 1024),
            "publish_untagged_pushes": _bool(env, "DOCKHOOK_PUBLISH_UNTAGGED_PUSHES", False),
            "external_url": _external_url(env.get("DOCKHOOK_EXTERNAL_URL")),
            "http_connect_timeout": _positive_float(env, "DOCKHOOK_HTTP_CONNECT_TIMEOUT", 10.0),
            "http_read_timeout": _positive_float(env, "DOCKHOOK_HTTP_READ_TIMEOUT", 10.0),
            "job_timeout": _positive_int(env, "DOCKHOOK_JOB_TIMEOUT", 60),
            "retry_schedule": _schedule(env.get("DOCKHOOK_RETRY_SCHEDULE")),
            "retry_overload_minimum": _positive_float(env, "DOCKHOOK_RETRY_OVERLOAD_MIN", 60.0),
            "sweep_grace": _positive_int(env, "DOCKHOOK_SWEEP_GRACE", 10),
            "retention_days": _positive_int(env, "DOCKHOOK_RETENTION_DAYS", 30),
            "secret_keys": _secret_keys(env.get("DOCKHOOK_SECRET_KEYS")),
            "allowed_target_networks": _networks(env.get("DOCKHOOK_ALLOWED_TARGET_NETWORKS")),
            "secret_rotation_overlap": _duration(env, "DOCKHOOK_SECRET_ROTATION_OVERLAP", 86400),
            "max_targets": _positive_int(env, "DOCKHOOK_MAX_TARGETS", 20),
            "max_api_body_bytes": _positive_int(env, "DOCKHOOK_MAX_API_BODY_BYTES", 1024 * 1024),
            "signin_max_failures": _positive_int(env, "DOCKHOOK_SIGNIN_MAX_FAILURES", 10),
            "signin_window": _duration(env, "DOCKHOOK_SIGNIN_WINDOW", 300),
            "chat_intervals": _chat_intervals(env.get("DOCKHOOK_CHAT_INTERVALS")),
            "disable_after": _duration(env, "DOCKHOOK_DISABLE_AFTER", 5 * 86400),
        }
        values.update(overrides)
        if not values["secret_keys"]:
            raise ConfigError(
                "DOCKHOOK_SECRET_KEYS is not set: Dockhook encrypts auth headers and signing secrets with it "
                f"(comma-separated Fernet keys, the first encrypts); {GENERATE_KEY_HINT}"
            )
        return cls(**values)


def exposure_problem(bind_hosts: list[str], settings: Settings) -> str | None:
    """Why serving on ``bind_hosts`` (addresses the web tier listens on) is unsafe with ``settings``, or None.

    Loopback binds and unix sockets are local; any other bind needs both tokens, each at least
    MIN_EXPOSED_TOKEN_LENGTH characters, or the receiver and the API would be open to the network.
    """
    exposed = [host for host in bind_hosts if not _is_local(host)]
    if not exposed:
        return None
    weak = [
        name
        for name, token in (
            ("DOCKHOOK_NOTIFY_TOKEN", settings.notify_token),
            ("DOCKHOOK_API_TOKEN", settings.api_token),
        )
        if token is None or len(token) < MIN_EXPOSED_TOKEN_LENGTH
    ]
    if not weak:
        return None
    return (
        f"refusing to listen on {', '.join(exposed)} (not loopback) while {' and '.join(weak)} "
        f"{'is' if len(weak) == 1 else 'are'} unset or shorter than {MIN_EXPOSED_TOKEN_LENGTH} characters: "
        "the receiver and the API would be open to anyone who can reach this address. Set both tokens "
        '(e.g. python -c "import secrets; print(secrets.token_urlsafe(32))"), or bind to 127.0.0.1.'
    )


def _is_local(host: str) -> bool:
    """``host`` as a listener reports it: an IP address (loopback?) or a unix socket path."""
    if host.startswith(("unix:", "/")):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def _database_url(raw: str | None) -> str:
    if raw is None or not raw.strip():
        return f"sqlite:///{INSTANCE_DIR / 'dockhook.db'}"
    url = raw.strip()
    # Heroku-style and bare postgresql:// URLs name the driver we ship: psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith(("postgresql+psycopg://", "sqlite://")):
        return url
    raise ConfigError(
        f"DATABASE_URL={url.split('://')[0]}://... is not supported: use postgresql://... or sqlite:///path"
    )


def _optional_url(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> str | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if not raw.startswith(schemes):
        raise ConfigError(f"{name} must start with one of {', '.join(schemes)}")
    return raw


def _token(raw: str | None, name: str = "DOCKHOOK_NOTIFY_TOKEN") -> str | None:
    if raw is None or raw == "":
        return None
    if raw != raw.strip() or any(c.isspace() for c in raw):
        raise ConfigError(f"{name} must not contain whitespace")
    return raw


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    for value in allowed:
        if raw.strip().lower() == value.lower():
            return value
    raise ConfigError(f"{name}={raw!r} is not one of {', '.join(allowed)}")


def _metrics_dir(raw: str | None) -> str | None:
    """prometheus_client's multi-process directory: it must exist (the process manager creates and empties it)."""
    if raw is None or not raw.strip():
        return None
    if not Path(raw).is_dir():
        raise ConfigError(f"PROMETHEUS_MULTIPROC_DIR={raw!r} is not a directory (create it before starting Dockhook)")
    return raw


def _secret_keys(raw: str | None) -> tuple[str, ...]:
    """Comma-separated Fernet keys; a bad one is named by position, never quoted (it is a secret)."""
    if raw is None or not raw.strip():
        return ()
    keys = tuple(part.strip() for part in raw.split(",") if part.strip())
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ConfigError(
                f"DOCKHOOK_SECRET_KEYS: key {position} is not a Fernet key (32 url-safe base64-encoded bytes); "
                f"{GENERATE_KEY_HINT}"
            ) from None
    return keys


def _networks(raw: str | None) -> tuple[IPNetwork, ...]:
    try:
        return parse_networks(raw or "")
    except ValueError as exc:
        raise ConfigError(f"DOCKHOOK_ALLOWED_TARGET_NETWORKS: {exc}") from None


def _duration(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        values = parse_schedule(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    if len(values) != 1:
        raise ConfigError(f"{name}={raw!r} must be one duration (e.g. 24h)")
    return values[0]


def _chat_intervals(raw: str | None) -> tuple[tuple[str, float], ...]:
    """``teams=1,discord=0.5s``: seconds between two messages to one webhook URL, per chat type (others: 1 s)."""
    intervals = dict(DEFAULT_CHAT_INTERVALS)
    for part in (p.strip() for p in (raw or "").split(",")):
        if not part:
            continue
        kind, _, value = part.partition("=")
        kind = kind.strip().lower()
        if kind not in intervals:
            raise ConfigError(
                f"DOCKHOOK_CHAT_INTERVALS: {kind!r} is not a chat target type ({', '.join(CHAT_TARGET_TYPES)})"
            )
        try:
            seconds = float(value.strip().removesuffix("s"))
        except ValueError:
            raise ConfigError(f"DOCKHOOK_CHAT_INTERVALS: {part!r} is not type=seconds (e.g. teams=1)") from None
        if not 0 <= seconds <= 3600:
            raise ConfigError(f"DOCKHOOK_CHAT_INTERVALS: {part!r} must be between 0 and 3600 seconds")
        intervals[kind] = seconds
    return tuple(intervals.items())


def _project_name(raw: str) -> str:
    name = raw.strip()
    if not PROJECT_NAME_RE.fullmatch(name):
        raise ConfigError(
            f"DOCKHOOK_DEFAULT_PROJECT={raw!r} is not a valid project name "
            "(lower-case letters, digits and . _ - between them)"
        )
    return name


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use true or false)")


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} must be greater than 0")
    return value


def _denylist(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return DEFAULT_UA_DENYLIST
    return tuple(sorted({part.strip().lower() for part in raw.split(",") if part.strip()}))


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds") from None
    if not value > 0:
        raise ConfigError(f"{name}={raw!r} must be greater than 0")
    return value


def _external_url(raw: str | None) -> str | None:
    """The registry's public address as clients use it (``https://registry.example.com``)."""
    if raw is None or not raw.strip():
        return None
    value = raw.strip().rstrip("/")
    parts = urlsplit(value if "://" in value else f"https://{value}")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"DOCKHOOK_EXTERNAL_URL={raw!r} is not an http(s) URL with a host")
    return value


def _schedule(raw: str | None) -> tuple[int, ...]:
    """Retry delays after attempt 1, 2, ...; ``""`` (or ``none``) means no retries."""
    if raw is None:
        return DEFAULT_SCHEDULE
    if raw.strip().lower() in ("", "none"):
        return ()
    try:
        return parse_schedule(raw)
    except ValueError as exc:
        raise ConfigError(f"DOCKHOOK_RETRY_SCHEDULE: {exc}") from None


def parse_schedule(raw: str) -> tuple[int, ...]:
    """``"5s,5m,30m,2h"`` → seconds; a bare number is seconds. Raises ValueError with the bad part."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    result = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        number, unit = (part[:-1], part[-1]) if part[-1] in units else (part, "s")
        try:
            value = float(number)
        except ValueError:
            raise ValueError(f"{part!r} is not a duration (use e.g. 5s, 5m, 2h)") from None
        if value < 0:
            raise ValueError(f"{part!r} is negative")
        result.append(round(value * units[unit]))
    return tuple(result)
