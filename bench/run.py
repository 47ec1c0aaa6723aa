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
from bench import delivery, harness, memory, queries, receiver, scaling, versus, web

PARTS = ("p1", "p2", "p3", "p4", "isolation", "queries", "micro")
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


def compare(
    runs: dict[str, list[Any]], labels: dict[str, str], pairs: Sequence[tuple[str, str, str, str]]
) -> dict[str, Any]:
    """Per scenario its rounds and medians; per (scenario, baseline, key, goal) the median of per-round ratios
    ``scenario[key] / baseline[key]`` (throughput: higher is better; latency or cost: lower is better)."""
    rounds = {name: [r.summary() if hasattr(r, "summary") else r for r in values] for name, values in runs.items()}
    result: dict[str, Any] = {
        "scenarios": {
            name: {"label": labels[name], "rounds": values, "median": _medians(values)}
            for name, values in rounds.items()
            if values
        },
        "ratios": [],
    }
    for scenario, baseline, key, goal in pairs:
        ratios = [r for r in _ratios(rounds[scenario], rounds[baseline], key) if r is not None]
        result["ratios"].append(
            {
                "scenario": scenario,
                "baseline": baseline,
                "of": key,
                "goal": goal,
                "ratio_rounds": ratios,
                "ratio": harness.median(ratios) if ratios else None,
            }
        )
    return result


def _versus_table(title: str, result: dict[str, Any], columns: Sequence[tuple[str, str]]) -> list[str]:
    head = "".join(f"{name:>10}" for name, _ in columns)
    lines = [title, f"  {'scenario':<52}{head}"]
    for scenario in result["scenarios"].values():
        m = scenario["median"]
        lines.append(f"  {scenario['label']:<52}" + "".join(f"{_cell(m.get(key), 1):>10}" for _, key in columns))
    for ratio in result["ratios"]:
        mine, base = result["scenarios"][ratio["scenario"]], result["scenarios"][ratio["baseline"]]
        lines.append(
            f"  ratio {ratio['of']}: {mine['label']} / {base['label']} = {_cell(ratio['ratio'])}x"
            f"  (goal {ratio['goal']})"
        )
    return lines


_SPEED = (("items/s", "per_s"), ("mean ms", "mean_ms"), ("p50 ms", "p50_ms"), ("p99 ms", "p99_ms"))


def _queries_table(title: str, result: dict[str, Any]) -> list[str]:
    lines = [title]
    for query in result["queries"].values():
        cells = "  ".join(f"{size} rows: p50 {p50 * 1000:.1f} ms" for size, p50 in query["p50_s"].items())
        lines.append(f"  {query['label']:<52}{cells}  ratio {_cell(query['ratio'])}x (goal <= 1.5)")
    return lines


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
        if "p1" in parts:
            lines += _versus_table(
                "P1 delivery: hook jobs/s, enqueue -> last arrival at the sink (Dockhook: all success, attempts kept)",
                parts["p1"],
                _SPEED[:2],
            )
        if "p2" in parts:
            lines += _versus_table(
                "P2 ingestion through gunicorn (deploy/gunicorn.conf.py): notifications/s; p50/p99 per request",
                parts["p2"],
                (_SPEED[0], _SPEED[2], _SPEED[3]),
            )
        if "p3" in parts:
            lines += _versus_table(
                f"P3 latency at {parts['p3']['rate']:.0f}/s (half the lowest maximum of P1 at 1 worker, P2 and one "
                "sender alone): sent -> target 2xx",
                parts["p3"],
                (_SPEED[2], _SPEED[3]),
            )
        if "p4" in parts:
            lines += _versus_table("P4 fan-out: cost per delivery by targets per event", parts["p4"], _SPEED[:2])
            lines += _versus_table(
                f"P4 backlog: {parts['p4_backlog_jobs']} jobs queued at once (scaled down from 100,000), 1 worker",
                parts["p4_backlog"],
                _SPEED[:2],
            )
        if "p4_queries" in parts:
            lines += _queries_table("P4 queries (in-process API, PostgreSQL)", parts["p4_queries"])
        if "isolation" in parts:
            lines += _versus_table(
                "isolation: a healthy target's burst, alone and behind a slow target's backlog (1 worker)",
                parts["isolation"],
                _SPEED,
            )
        if "receiver" not in parts:
            continue
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


def bench_versus(backend: str, redis_url: str, args: argparse.Namespace) -> dict[str, Any]:
    """P1-P4 and isolation: Dockhook's processes against the baselines a user would pick, in the same rounds."""
    sink = harness.sink()
    result: dict[str, Any] = {}
    parts = set(args.parts)
    try:
        with harness.database(backend) as database_url:
            app = harness.make_app(database_url, redis_url)
            offline = harness.make_app(database_url, None)
            step = _stepper(backend)
            result["server"] = _server(database_url)
            if "p1" in parts or "p3" in parts:
                runs = versus.delivery(
                    app, offline, database_url, redis_url, sink, args.p1_jobs, args.naive_jobs, args.rounds, step
                )
                result["p1"] = compare(
                    runs,
                    versus.LABELS,
                    [
                        ("dockhook_1", "rq_simple_1", "per_s", ">= 1.0"),
                        ("dockhook_4", "rq_simple_4", "per_s", ">= 1.0"),
                        ("dockhook_1", "rq_fork_1", "per_s", ">= 8"),
                    ],
                )
            if "p2" in parts or "p3" in parts:
                runs = web.ingestion(app, database_url, redis_url, sink, args.p2_requests, 8, args.rounds, step)
                result["p2"] = compare(
                    runs,
                    web.INGEST_LABELS,
                    [
                        ("dockhook", "bare_flask", "per_s", ">= 0.5"),
                        ("bare_durable", "bare_flask", "per_s", "none: the floor's own ratio"),
                        ("dockhook", "bare_durable", "per_s", "none: against the floor"),
                    ],
                )
            if "p3" in parts:
                # P3's policy has one target: one delivery per notification. Its one sender waits for each answer, so
                # it cannot go faster than one transaction after the other (P2's 8 senders share transactions).
                sequential = web.sequential_rate(app, database_url, redis_url, sink)
                most = min(
                    result["p1"]["scenarios"]["dockhook_1"]["median"]["per_s"],
                    result["p2"]["scenarios"]["dockhook"]["median"]["per_s"],
                    sequential,
                )
                rate = max(1.0, most / 2)
                runs = web.latency(app, database_url, redis_url, sink, rate, args.p3_requests, args.rounds, step)
                result["p3"] = compare(
                    runs,
                    web.LATENCY_LABELS,
                    [("dockhook", "rq_enqueue", "p50_ms", "<= 1.5"), ("dockhook", "rq_enqueue", "p99_ms", "<= 1.5")],
                )
                result["p3"]["rate"] = rate
                result["p3"]["sequential_per_s"] = sequential
            if "p4" in parts:
                runs, drains = versus.fanout(
                    app, offline, database_url, redis_url, sink, args.p1_jobs, args.backlog, args.rounds, step
                )
                result["p4"] = compare(
                    runs,
                    versus.FANOUT_LABELS,
                    [
                        ("targets_10", "targets_1", "mean_ms", "<= 1.25"),
                        ("targets_100", "targets_1", "mean_ms", "<= 1.25"),
                    ],
                )
                result["p4_backlog_jobs"] = args.backlog
                result["p4_backlog"] = compare(
                    drains,
                    {"steady": "10 targets per event, steady", "backlog": "backlog, drained"},
                    [("backlog", "steady", "per_s", ">= 0.9")],
                )
            if "isolation" in parts:
                runs = versus.isolation(
                    app, offline, database_url, redis_url, sink, args.isolation_jobs, args.slow_jobs, args.rounds, step
                )
                result["isolation"] = compare(
                    runs,
                    versus.ISOLATION_LABELS,
                    [
                        ("beside_slow", "alone", "per_s", ">= 0.9"),
                        ("beside_slow", "alone", "p50_ms", "<= 1.1"),
                    ],
                )
            for one in (app, offline):
                with one.app_context():
                    db.session.remove()
                    db.engine.dispose()
            if "queries" in parts and backend == "postgresql":
                timings = queries.run(database_url, redis_url, sink, tuple(args.query_rows), args.query_samples, step)
                result["p4_queries"] = {"queries": {}}
                for name, sizes in timings.items():
                    p50 = {size: harness.median(values) for size, values in sizes.items()}
                    values = list(p50.values())
                    first, last = values[0], values[-1]
                    result["p4_queries"]["queries"][name] = {
                        "label": queries.LABELS[name],
                        "p50_s": p50,
                        "timings": sizes,
                        "ratio": last / first if first else None,
                    }
        return result
    finally:
        sink.close()


def bench_backend(backend: str, redis_url: str, args: argparse.Namespace) -> dict[str, Any]:
    result = bench_versus(backend, redis_url, args)
    if "micro" not in args.parts:
        return result
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
            result |= {
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
    parser.add_argument("--p1-jobs", type=int, default=600, help="hook jobs per P1 / P4 fan-out measurement")
    parser.add_argument("--naive-jobs", type=int, default=120, help="jobs for the naive forking rq worker")
    parser.add_argument("--p2-requests", type=int, default=400, help="notifications per P2 measurement")
    parser.add_argument("--p3-requests", type=int, default=200, help="notifications per P3 latency measurement")
    parser.add_argument("--backlog", type=int, default=3000, help="P4 backlog (hook jobs; the issue's 100,000 scaled)")
    parser.add_argument("--isolation-jobs", type=int, default=300, help="healthy hook jobs per isolation measurement")
    parser.add_argument("--slow-jobs", type=int, default=40, help="jobs queued for the slow target first")
    parser.add_argument("--query-rows", type=int, nargs="+", default=[1000, 1_000_000], help="P4 query sizes")
    parser.add_argument("--query-samples", type=int, default=30, help="requests per query and size")
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS, help="what to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="1 round of everything, small counts (a smoke run)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON results")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.requests, args.jobs, args.memory_requests, args.memory_traced = 1, 60, 60, 60, 20
        args.scaling_events, args.p1_jobs, args.naive_jobs, args.p2_requests, args.p3_requests = 10, 120, 24, 60, 40
        args.backlog, args.isolation_jobs, args.slow_jobs, args.query_rows = 300, 60, 10, [1000, 20_000]
        args.query_samples = 10
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
