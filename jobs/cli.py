"""``flask --app wsgi hooks ...``: operator commands for hook jobs."""

from __future__ import annotations

import logging

import click
from flask.cli import AppGroup

from app.extensions import current_settings
from jobs import sweep as sweeper

hooks = AppGroup("hooks", help="Hook-job operations: the sweeper.")


@hooks.command("sweep")
@click.option("--every", type=float, default=None, help="Sweep every SECONDS until stopped (default: once).")
def sweep_command(every: float | None) -> None:
    """Re-enqueue pending jobs Redis lost, due retries and jobs whose worker died; purge old history."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = current_settings()
    if settings.redis_url is None:
        raise click.UsageError("REDIS_URL is not set: the sweeper has nowhere to enqueue")
    if every is not None and every <= 0:
        raise click.BadParameter("must be greater than 0", param_hint="--every")
    sweeper.run(settings, every or 0.0, once=every is None)
