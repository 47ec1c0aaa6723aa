"""P5 memory soak (``make bench-soak``; not in CI): web and worker RSS over a steady stream of notifications.

gunicorn (the deployment's config) and one Dockhook worker take registry pushes at ``--rate`` per second
(3 policies × 2 targets on a loopback sink: 6 deliveries each) for ``--minutes``. Every 10 s the RSS of each
gunicorn worker and of the RQ worker is read from /proc; growth = the last minute's mean over the mean of the
first minute after a one-minute warm-up. Goal: under 10 %.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import requests

from bench import harness, stack
from bench.run import RESULTS, progress

SAMPLE_EVERY = 10.0


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def growth(series: list[tuple[float, int]], warm_up: float, window: float) -> float | None:
    """Mean of the last ``window`` seconds over the mean of the first ``window`` after ``warm_up``, minus 1."""
    end = series[-1][0]
    first = [v for t, v in series if warm_up <= t < warm_up + window]
    last = [v for t, v in series if t > end - window]
    if not first or not last or end - window < warm_up + window:
        return None
    return (sum(last) / len(last)) / (sum(first) / len(first)) - 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0, help="notifications per second")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default=None)
    parser.add_argument("--output", type=Path, default=RESULTS.with_name("soak.json"))
    args = parser.parse_args(argv)
    harness.quiet_logging()
    backend = args.backend or harness.backends()[-1]
    duration = args.minutes * 60
    warm_up = min(60.0, duration / 5)
    window = min(60.0, duration / 5)
    sink = harness.sink()
    series: dict[str, list[tuple[float, int]]] = {}
    sent = 0
    with harness.redis_on_loopback() as redis_url, harness.database(backend) as database_url:
        app = harness.make_app(database_url, redis_url)
        harness.add_policies(app, sink.url)
        with (
            stack.gunicorn("wsgi:app", database_url, redis_url) as base,
            stack.workers("dockhook", 1, redis_url, database_url) as workers,
        ):
            web = children(stack.last_gunicorn_pid[0])
            pids = {f"web-{n}": pid for n, pid in enumerate(web)} | {"worker": workers[0].pid}
            stop = threading.Event()

            def sample() -> None:
                began = time.monotonic()
                while not stop.is_set():
                    for name, pid in pids.items():
                        series.setdefault(name, []).append((time.monotonic() - began, rss_kib(pid)))
                    stop.wait(SAMPLE_EVERY)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            session = requests.Session()
            session.trust_env = False
            began = time.monotonic()
            progress(f"soak: {backend}, {args.rate:g} notifications/s for {args.minutes:g} min, RSS every 10 s")
            batch = 1000
            while time.monotonic() - began < duration:
                for notification in harness.manifest_pushes(batch):
                    pause = began + sent / args.rate - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                    if time.monotonic() - began >= duration:
                        break
                    session.post(base + harness.NOTIFY_PATH, data=notification.body, headers=notification.headers)
                    sent += 1
            stop.set()
            sampler.join()
    sink.close()
    result = {
        name: {"growth": growth(values, warm_up, window), "first_kib": values[0][1], "last_kib": values[-1][1]}
        for name, values in series.items()
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"backend": backend, "sent": sent, "processes": result, "series": series}) + "\n")
    print(f"memory soak, {backend}: {sent} notifications in {args.minutes:g} min ({sent * 6} deliveries)")
    print(f"  {'process':<10}{'RSS start KiB':>15}{'RSS end KiB':>13}{'growth':>9}   goal < 10 %")
    for name, values in result.items():
        shown = "-" if values["growth"] is None else f"{values['growth'] * 100:.1f} %"
        print(f"  {name:<10}{values['first_kib']:>15}{values['last_kib']:>13}{shown:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
