"""docs/performance.svg from a `make bench` run (bench/results/latest.json): delivery throughput against workers,
and latency percentiles, Dockhook beside its baselines. Plain SVG written here: no plotting dependency.

``.venv/bin/python -m bench.chart [results.json] [output.svg]``: writes the chart and prints the markdown table
of every comparison (the one in docs/performance.md).
"""

from __future__ import annotations

import json
import sys
from html import escape
from pathlib import Path
from typing import Any

from bench.run import RESULTS

OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "performance.svg"
COLOURS = {"Dockhook": "#2b6cb0", "baseline": "#a0aec0"}
WIDTH, HEIGHT = 760, 330


def _bars(
    title: str, unit: str, groups: list[tuple[str, list[tuple[str, float]]]], left: float, width: float
) -> list[str]:
    top, bottom = 50.0, HEIGHT - 60.0
    most = max((value for _, bars in groups for _, value in bars), default=1.0) or 1.0
    parts = [
        f'<text x="{left + width / 2:.0f}" y="24" text-anchor="middle" font-weight="bold">{escape(title)}</text>',
        f'<text x="{left:.0f}" y="40" font-size="11" fill="#4a5568">{escape(unit)}</text>',
        f'<line x1="{left:.0f}" y1="{bottom:.0f}" x2="{left + width:.0f}" y2="{bottom:.0f}" stroke="#4a5568"/>',
    ]
    slot = width / max(1, len(groups))
    for number, (label, bars) in enumerate(groups):
        x0 = left + number * slot + slot * 0.15
        bar = slot * 0.7 / max(1, len(bars))
        for index, (name, value) in enumerate(bars):
            h = (bottom - top) * value / most
            x = x0 + index * bar
            colour = COLOURS["Dockhook"] if name == "Dockhook" else COLOURS["baseline"]
            parts += [
                f'<rect x="{x:.1f}" y="{bottom - h:.1f}" width="{bar - 2:.1f}" height="{h:.1f}" fill="{colour}"/>',
                f'<text x="{x + bar / 2:.1f}" y="{bottom - h - 4:.1f}" text-anchor="middle" font-size="10">'
                f"{value:.0f}</text>",
            ]
        parts.append(
            f'<text x="{left + number * slot + slot / 2:.1f}" y="{bottom + 16:.0f}" text-anchor="middle" '
            f'font-size="11">{escape(label)}</text>'
        )
    return parts


def render(results: dict[str, Any]) -> str:
    backend = "postgresql" if "postgresql" in results["backends"] else next(iter(results["backends"]))
    parts_of = results["backends"][backend]
    p1 = parts_of["p1"]["scenarios"]
    throughput = [
        (
            f"{n} worker{'s' if n > 1 else ''}",
            [
                ("Dockhook", p1[f"dockhook_{n}"]["median"]["per_s"]),
                ("bare RQ", p1[f"rq_simple_{n}"]["median"]["per_s"]),
            ],
        )
        for n in (1, 4)
    ] + [("forking rq worker", [("baseline", p1["rq_fork_1"]["median"]["per_s"])])]
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" '
        'font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
    ]
    svg += _bars("P1 delivery: hook jobs/s", "jobs/s (higher is better)", throughput, 40, 330)
    if "p3" in parts_of:
        p3 = parts_of["p3"]["scenarios"]
        latency = [
            (
                label,
                [("Dockhook", p3["dockhook"]["median"][key]), ("bare RQ", p3["rq_enqueue"]["median"][key])],
            )
            for label, key in (("p50", "p50_ms"), ("p99", "p99_ms"))
        ]
        svg += _bars(
            f"P3 latency at {parts_of['p3']['rate']:.0f} notifications/s", "ms (lower is better)", latency, 430, 300
        )
    svg += [
        f'<rect x="40" y="{HEIGHT - 28}" width="12" height="12" fill="{COLOURS["Dockhook"]}"/>',
        f'<text x="58" y="{HEIGHT - 18}">Dockhook</text>',
        f'<rect x="140" y="{HEIGHT - 28}" width="12" height="12" fill="{COLOURS["baseline"]}"/>',
        f'<text x="158" y="{HEIGHT - 18}">baseline (bare RQ job / RQ enqueue)</text>',
        f'<text x="{WIDTH - 10}" y="{HEIGHT - 18}" text-anchor="end" font-size="10" fill="#4a5568">'
        f"{escape(backend)}, commit {escape(str(results['commit']))}, {escape(results['started_at'])}, "
        f"medians of {results['settings']['rounds']} rounds</text>",
        "</svg>",
    ]
    return "\n".join(svg) + "\n"


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def markdown(results: dict[str, Any]) -> str:
    """The table of docs/performance.md: every comparison of the run, per backend, with its goal."""
    lines = [
        "| backend | part | Dockhook | baseline | ratio | goal |",
        "|---|---|---|---|---|---|",
    ]
    units = {"per_s": "/s", "mean_ms": " ms", "p50_ms": " ms p50", "p99_ms": " ms p99"}
    for backend, parts in results["backends"].items():
        for part in ("p1", "p2", "p3", "p4", "p4_backlog", "isolation"):
            if part not in parts:
                continue
            scenarios = parts[part]["scenarios"]
            for ratio in parts[part]["ratios"]:
                mine, base, key = scenarios[ratio["scenario"]], scenarios[ratio["baseline"]], ratio["of"]
                unit = units.get(key, "")
                lines.append(
                    f"| {backend} | {part.upper().replace('_', ' ')} | {mine['label']}: "
                    f"{_fmt(mine['median'][key], 1)}{unit} | {base['label']}: {_fmt(base['median'][key], 1)}{unit} "
                    f"| **{_fmt(ratio['ratio'])}x** | {ratio['goal']} |"
                )
        if "p4_queries" in parts:
            for query in parts["p4_queries"]["queries"].values():
                p50 = {size: value * 1000 for size, value in query["p50_s"].items()}
                items = list(p50.items())
                first, last = items[0], items[-1]
                lines.append(
                    f"| {backend} | P4 queries | {query['label']}, {int(last[0]):,} rows: {last[1]:.1f} ms p50 "
                    f"| {int(first[0]):,} rows: {first[1]:.1f} ms p50 | **{_fmt(query['ratio'])}x** | <= 1.5 |"
                )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    source = Path(args[0]) if args else RESULTS
    output = Path(args[1]) if len(args) > 1 else OUTPUT
    results = json.loads(source.read_text())
    output.write_text(render(results))
    print(markdown(results))
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
