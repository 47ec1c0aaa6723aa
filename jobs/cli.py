"""``flask --app wsgi hooks ...`` and ``... secrets ...``: operator commands for hook jobs and stored secrets."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app import logs
from app.extensions import current_settings
from app.services import credentials, hook_job_queries
from jobs import sweep as sweeper

hooks = AppGroup("hooks", help="Hook-job operations: the sweeper, the lists' kept totals.")
secrets = AppGroup("secrets", help="Stored auth headers and signing secrets (encrypted with DOCKHOOK_SECRET_KEYS).")


@secrets.command("rotate")
def rotate_command() -> None:
    """Re-encrypt every stored secret with the first key of DOCKHOOK_SECRET_KEYS.

    To change keys: put the new key first and keep the old one after it, run this, then drop the old key.
    """
    try:
        count = credentials.rotate()
    except credentials.KeyMismatch as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"re-encrypted {count} stored secrets with the first key of DOCKHOOK_SECRET_KEYS")


@hooks.command("sweep")
@click.option("--every", type=float, default=None, help="Sweep every SECONDS until stopped (default: once).")
def sweep_command(every: float | None) -> None:
    """Re-enqueue pending jobs Redis lost, due retries and jobs whose worker died; purge old history."""
    settings = current_settings()
    logs.configure(settings.log_format, settings.log_level)
    if settings.redis_url is None:
        raise click.UsageError("REDIS_URL is not set: the sweeper has nowhere to enqueue")
    if every is not None and every <= 0:
        raise click.BadParameter("must be greater than 0", param_hint="--every")
    problem = credentials.startup_problem()
    if problem:
        raise click.ClickException(f"configuration error: {problem}")
    sweeper.run(settings, every or 0.0, once=every is None)


@hooks.command("recount")
def recount_command() -> None:
    """Count the hook jobs again and replace the totals the lists' X-Total-Count reads (hook_job_totals).

    Triggers keep them exact; this is for a restore that wrote hook_jobs without them (``--disable-triggers``).
    Writers of hook_jobs (the receiver, the sweeper's purge) wait while it runs.
    """
    wrong = hook_job_queries.recount()
    click.echo(f"hook-job totals counted again: {wrong} (project, policy) totals were wrong and are now right")
