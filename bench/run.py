"""Run every benchmark (``make bench``): a table on stdout, the figures in bench/results/latest.json.

Every figure comes with a ratio against a baseline measured in the same run, round by round (these
machines are noisy): ratio = time (or memory) per item ÷ the baseline's, in the same round; the median
over the rounds is shown. SQLite always; PostgreSQL too when TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import text

from app.extensions import db
from bench import delivery, harness, memory, receiver, scaling

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- summaries -----------------------------------------------------------------------------


def _medians(rounds: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    keys = rounds[0].keys()
    result: dict[str, float | None] = {}
    for key in keys:
        values = [r[key] for r in rounds if r[key] is not None]
        result[key] = harness.median(values) if values else None
    return result


def _ratios(rounds: Sequence[dict[str, Any]], baseline: Sequence[dict[str, Any]], key: str) -> list[float | None]:
    ratios: list[float | None] = []
    for mine, base in zip(rounds, baseline, strict=True):
        ok = mine[key] is not None and base[key] is not None and base[key] > 0
        ratios.append(mine[key] / base[key] if ok else None)
    return ratios


def summarise(
    rounds: dict[str, list[dict[str, Any]]], labels: dict[str, str], baseline: str, key: str
) -> dict[str, Any]:
    """Per scenario: every round, the medians, and the median of the per-round ratios of ``key`` to the baseline."""
    scenarios = {}
    for scenario, values in rounds.items():
        ratios = _ratios(values, rounds[baseline], key)
        known = [r for r in ratios if r is not None]
        scenarios[scenario] = {
            "label": labels[scenario],
            "rounds": values,
            "median": _medians(values),
            "ratio_rounds": ratios,
            "ratio": harness.median(known) if known else None,
        }
    return {"baseline": baseline, "ratio_of": key, "scenarios": scenarios}


# --- the table -----------------------------------------------------------------------------


def _cell(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _speed_table(title: str, unit: str, result: dict[str, Any]) -> list[str]:
    lines = [title, f"  {'scenario':<48}{unit + '/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}{'ratio':>8}"]
    for name, scenario in result["scenarios"].items():
        m = scenario["median"]
        label = scenario["label"] + (" [baseline]" if name == result["baseline"] else "")
        lines.append(
            f"  {label:<48}{m['per_s']:>10.0f}{_cell(m['p50_ms']):>9}{_cell(m['p95_ms']):>9}"
            f"{_cell(m['mean_ms']):>9}{_cell(scenario['ratio']):>8}"
        )
    return lines


def _memory_table(title: str, result: dict[str, Any]) -> list[str]:
    lines = [
        title,
        f"  {'scenario':<48}{'RSS peak+ KiB':>14}{'ratio':>7}{'RSS kept+ KiB':>14}"
        f"{'traced peak/req KiB':>20}{'traced kept KiB':>16}",
    ]
    for name, scenario in result["scenarios"].items():
        m = scenario["median"]
        label = scenario["label"] + (" [baseline]" if name == result["baseline"] else "")
        lines.append(
            f"  {label:<48}{_cell(m['rss_peak_growth_kib'], 0):>14}{_cell(scenario['ratio']):>7}"
            f"{_cell(m['rss_retained_growth_kib'], 0):>14}{_cell(m['traced_request_peak_kib'], 0):>20}"
            f"{_cell(m['traced_retained_kib'], 0):>16}"
        )
    return lines


def _scaling_table(title: str, result: dict[str, Any], seconds: bool = False) -> list[str]:
    head = f"  {'scenario':<48}{'events/s':>10}{'mean ms':>9}" + (
        f"{'events':>8}{'answer s':>10}{'queued s':>10}" if seconds else ""
    )
    lines = [title, head + f"{'ratio':>8}"]
    for name, scenario in result["scenarios"].items():
        m = scenario["median"]
        label = scenario["label"] + (" [baseline]" if name == result["baseline"] else "")
        extra = f"{m['events']:>8.0f}{m['seconds']:>10.2f}{m['queued_seconds']:>10.2f}" if seconds else ""
        lines.append(f"  {label:<48}{m['per_s']:>10.0f}{_cell(m['mean_ms']):>9}{extra}{_cell(scenario['ratio']):>8}")
    return lines


def _redis_lines(result: dict[str, Any]) -> list[str]:
    lines = [f"  {'Redis used_memory per hook job':<58}{'bytes':>10}{'ratio':>8}"]
    for name, scenario in result["scenarios"].items():
        label = scenario["label"] + (" [baseline]" if name == result["baseline"] else "")
        lines.append(f"  {label:<58}{scenario['median']['b_per_job']:>10.0f}{_cell(scenario['ratio']):>8}")
    return lines


def table(results: dict[str, Any], output: Path) -> str:
    s = results["settings"]
    lines = [
        f"Dockhook benchmarks, {results['started_at']}, commit {results['commit']} ({results['machine']['cpus']} CPUs, "
        f"Python {results['machine']['python']}), {s['rounds']} rounds, medians shown.",
        "ratio = cost per item / the baseline's cost per item, measured in the same round (median of rounds).",
    ]
    for backend, parts in results["backends"].items():
        lines += ["", f"== {backend} ({parts['server']}) =="]
        lines += _speed_table(
            f"receiver: {s['requests']} notifications per round, Flask test client in-process",
            "notif",
            parts["receiver"],
        )
        lines += _speed_table(
            f"delivery: {parts['delivery_jobs']} hook jobs per round to a loopback sink (p50/p95: gaps at the sink)",
            "jobs",
            parts["delivery"],
        )
        lines += _redis_lines(parts["delivery_redis_memory"])
        lines += _memory_table(
            f"memory: fresh process, {s['memory_requests']} notifications (RSS), {s['memory_traced']} (tracemalloc)",
            parts["memory"],
        )
        lines += _scaling_table(
            f"per-event cost against other policies: {s['scaling_events']} pushes per round", parts["policies"]
        )
        lines += _scaling_table("one envelope at the 1 MiB body limit", parts["envelope"], seconds=True)
    lines += ["", f"total run time {results['duration_s']:.0f} s; figures in {_shown(output)}"]
    return "\n".join(lines)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# --- running -------------------------------------------------------------------------------


def _server(database_url: str) -> str:
    if database_url.startswith("sqlite"):
        return f"SQLite {sqlite3.sqlite_version}"
    app = harness.make_app(database_url, None)
    with app.app_context():
        version = db.session.scalar(text("SHOW server_version"))
        db.session.remove()
        db.engine.dispose()
    return f"PostgreSQL {version}"


def _commit() -> str | None:
    """The checked-out commit (read-only ``git rev-parse``), so figures can be tied to the code they measured."""
    try:
        found = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True, text=True
        )
    except OSError:
        return None
    return found.stdout.strip() or None


def _stepper(backend: str) -> Callable[[str], None]:
    return lambda what: progress(f"{backend}: {what}")


def bench_backend(backend: str, redis_url: str, args: argparse.Namespace) -> dict[str, Any]:
    sink = harness.sink()
    try:
        with harness.database(backend) as database_url:
            app = harness.make_app(database_url, redis_url)
            step = _stepper(backend)
            step(f"receiver, {args.rounds} x 3 x {args.requests} notifications")
            speeds = receiver.run(app, redis_url, sink.url, args.requests, args.rounds)
            step(f"delivery, {args.rounds} x {args.jobs} hook jobs, raw and through the worker")
            deliveries, redis_memory = delivery.run(app, redis_url, sink, args.jobs, args.rounds)
            step(f"memory, {args.rounds} x 3 child processes")
            memories = memory.run(
                app, database_url, redis_url, sink.url, args.memory_requests, args.memory_traced, args.rounds
            )
            step(f"scaling, {args.rounds} x (0/100/10,000 other policies, the 1 MiB envelope)")
            per_event, envelopes = scaling.run(app, redis_url, sink.url, args.scaling_events, args.rounds)
            result = {
                "server": _server(database_url),
                "delivery_jobs": deliveries["raw"][0].count,
                "receiver": summarise(
                    {k: [s.summary() for s in v] for k, v in speeds.items()}, receiver.LABELS, "blob", "mean_ms"
                ),
                "delivery": summarise(
                    {k: [s.summary() for s in v] for k, v in deliveries.items()}, delivery.LABELS, "raw", "mean_ms"
                ),
                "delivery_redis_memory": summarise(redis_memory, delivery.REDIS_LABELS, "queued", "b_per_job"),
                "memory": summarise(memories, receiver.LABELS, "blob", "rss_peak_growth_kib"),
                "policies": summarise(per_event, scaling.POLICY_LABELS, "others_0", "mean_ms"),
                "envelope": summarise(envelopes, scaling.ENVELOPE_LABELS, "blob", "mean_ms"),
            }
            with app.app_context():
                db.session.remove()
                db.engine.dispose()  # PostgreSQL: the throwaway database can only be dropped once we are gone
            return result
    finally:
        sink.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="rounds per measurement; the median is reported")
    parser.add_argument("--requests", type=int, default=500, help="notifications per receiver measurement")
    parser.add_argument("--jobs", type=int, default=600, help="hook jobs per delivery measurement (multiple of 6)")
    parser.add_argument("--memory-requests", type=int, default=500, help="notifications per RSS measurement")
    parser.add_argument("--memory-traced", type=int, default=100, help="notifications per tracemalloc measurement")
    parser.add_argument("--scaling-events", type=int, default=100, help="pushes per other-policies measurement")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], action="append", help="default: all available")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON results")
    args = parser.parse_args(argv)
    harness.quiet_logging()
    backends = args.backend or harness.backends()
    if "postgresql" not in backends:
        progress("PostgreSQL skipped: set TEST_DATABASE_URL to include it")
    began = time.monotonic()
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "settings": {k: v for k, v in vars(args).items() if k not in ("output", "backend")},
        "backends": {},
    }
    with harness.redis_on_loopback() as redis_url:
        connection = redis.Redis.from_url(redis_url)
        results["machine"]["redis"] = connection.info("server")["redis_version"]
        connection.close()
        for backend in backends:
            results["backends"][backend] = bench_backend(backend, redis_url, args)
    results["duration_s"] = round(time.monotonic() - began, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results, args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
