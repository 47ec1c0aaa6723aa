"""Memory of the receiver handling N notifications, in a fresh process (so earlier work does not pollute RSS).

:func:`run` (in ``bench/run.py``'s process) prepares the database (empty, plus 3 policies × 2 targets for
``fanout``), then starts ``python -m bench.memory SCENARIO DATABASE_URL REDIS_URL N TRACED``, which prints one
JSON object. Scenarios as in ``bench.receiver``; ``blob`` (dropped events) is the baseline.

After a warm-up of 50 notifications, two passes:
- RSS over N notifications: peak growth (VmHWM after the pass, its high-water mark reset before, minus VmRSS
  before) and retained growth (VmRSS after minus before), from /proc/self/status;
- tracemalloc over TRACED notifications (it slows Python down about threefold): the largest per-request peak
  of Python allocations, and what stayed allocated after the pass (caches filling; flat with N, no leak).
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from bench import harness

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("blob", "manifest", "fanout")
WARMUP = 50


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux ≥ 4.0)
        return True
    except OSError:
        return False


def notifications(scenario: str, count: int) -> Iterator[harness.Notification]:
    if scenario == "blob":
        blob = harness.blob_push()
        return iter([blob] * count)
    return iter(harness.manifest_pushes(count))


def _post(client: FlaskClient, notification: harness.Notification) -> None:
    response = client.post(harness.NOTIFY_PATH, data=notification.body, headers=notification.headers)
    if response.status_code != 200:
        raise RuntimeError(f"receiver answered {response.status_code}: {response.get_data(as_text=True)[:200]}")


def measure(scenario: str, database_url: str, redis_url: str, count: int, traced: int) -> dict[str, float | None]:
    """In this process: warm up, then the RSS pass and the tracemalloc pass (see the module docstring)."""
    harness.quiet_logging()
    app = harness.make_app(database_url, redis_url)
    client = app.test_client()
    bodies = notifications(scenario, WARMUP + count + traced)
    for _ in range(WARMUP):
        _post(client, next(bodies))

    gc.collect()
    before = _status_kib("VmRSS")
    hwm_reset = _reset_peak_rss()
    for _ in range(count):
        _post(client, next(bodies))
    peak = _status_kib("VmHWM")
    gc.collect()
    after = _status_kib("VmRSS")

    tracemalloc.start()
    start, _ = tracemalloc.get_traced_memory()
    request_peak = 0
    for _ in range(traced):
        tracemalloc.reset_peak()
        current, _ = tracemalloc.get_traced_memory()
        _post(client, next(bodies))
        request_peak = max(request_peak, tracemalloc.get_traced_memory()[1] - current)
    gc.collect()
    retained, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "rss_peak_growth_kib": (peak - before) if hwm_reset else None,
        "rss_retained_growth_kib": after - before,
        "traced_request_peak_kib": request_peak / 1024,
        "traced_retained_kib": (retained - start) / 1024,
    }


def run(
    app: Flask, database_url: str, redis_url: str, target_url: str, count: int, traced: int, rounds: int
) -> dict[str, list[dict[str, float | None]]]:
    """Each scenario in a fresh child process, ``rounds`` times (interleaved); the child is waited for."""
    samples: dict[str, list[dict[str, float | None]]] = {scenario: [] for scenario in SCENARIOS}
    for _ in range(rounds):
        for scenario in SCENARIOS:
            harness.reset(app, redis_url)
            if scenario == "fanout":
                harness.add_policies(app, target_url)
            argv = [sys.executable, "-m", "bench.memory", scenario, database_url, redis_url, str(count), str(traced)]
            child = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
            if child.returncode != 0:
                raise RuntimeError(f"memory {scenario}: exit {child.returncode}\n{child.stderr[-2000:]}")
            samples[scenario].append(json.loads(child.stdout.strip().splitlines()[-1]))
    return samples


def main(argv: list[str]) -> int:
    scenario, database_url, redis_url, count, traced = argv
    print(json.dumps(measure(scenario, database_url, redis_url, int(count), int(traced))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
