"""deploy/prometheus/alerts.yml stays true to /metrics: every metric an alert reads is one Dockhook exposes."""

from __future__ import annotations

import re
from collections.abc import Callable

import yaml
from flask import Flask

from tests.support.processes import ROOT

TOKEN = "r" * 40


def exposed(app: Flask) -> set[str]:
    text = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    names = set()
    for kind, name, rest in re.findall(r"^# (HELP|TYPE) (\S+) ?(.*)$", text, re.MULTILINE):
        names.add(name)
        if kind == "TYPE" and rest == "counter":
            names.add(f"{name}_total")
        if kind == "TYPE" and rest == "histogram":
            names.update(f"{name}_{suffix}" for suffix in ("bucket", "sum", "count"))
    return names


def test_every_alert_reads_metrics_dockhook_exposes(make_app: Callable[..., Flask], redis_db: str) -> None:
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert {"DockhookBacklogGrowing", "DockhookTargetFailing", "DockhookSweeperNotRunning"} <= {
        a["alert"] for a in alerts
    }
    names = exposed(make_app(api_token=TOKEN, redis_url=redis_db))
    for alert in alerts:
        used = set(re.findall(r"\bdockhook_[a-z_]+", alert["expr"]))
        assert used, alert
        assert used <= names, (alert["alert"], used - names)
