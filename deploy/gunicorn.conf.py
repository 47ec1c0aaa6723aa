"""gunicorn settings for Dockhook (``gunicorn -c deploy/gunicorn.conf.py wsgi:app``); env overrides below."""

import os
import shutil
import tempfile

bind = os.environ.get("DOCKHOOK_BIND", "127.0.0.1:8080")
workers = int(os.environ.get("DOCKHOOK_WEB_WORKERS", "2"))
threads = int(os.environ.get("DOCKHOOK_WEB_THREADS", "4"))
# The registry waits 1 s by default for an answer; a request that takes longer is a bug to see.
timeout = 30
graceful_timeout = 10
keepalive = 5
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("DOCKHOOK_LOG_LEVEL", "info")
# Each worker builds its own app (and its own database pool) after the fork.
preload_app = False
# gunicorn's control socket lives at one fixed path per user: several instances on a machine
# (tests, or a receiver beside another service) would fight over it. Dockhook does not use it.
control_socket_disable = True

# /metrics adds up every process's counters through prometheus_client's multi-process mode: all gunicorn workers
# (and the RQ workers and sweeper of this machine, when they are given the same directory) write their values
# under PROMETHEUS_MULTIPROC_DIR. Set here, in the master, before any worker imports prometheus_client. When the
# operator did not set one, the master makes a private one and removes it on exit (make run sets one for all).
_OWN_METRICS_DIR = None
if __name__ != "__main__" and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # not in the start-up check below
    _OWN_METRICS_DIR = tempfile.mkdtemp(prefix="dockhook-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _OWN_METRICS_DIR


def on_exit(server):  # type: ignore[no-untyped-def]
    if _OWN_METRICS_DIR is not None:
        shutil.rmtree(_OWN_METRICS_DIR, ignore_errors=True)


# Dockhook's own log lines (app.*, at INFO) next to gunicorn's, with time, level and logger; in each worker,
# post_worker_init hands Dockhook's lines to app/logs.py (request id, registry event ids, hook job uuid).
_LOG_FORMAT = "json" if os.environ.get("DOCKHOOK_LOG_FORMAT", "").strip().lower() == "json" else "plain"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"},
        # DOCKHOOK_LOG_FORMAT=json: the same fields as app/logs.py writes (the master does not import app/).
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
        },
    },
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": _LOG_FORMAT, "stream": "ext://sys.stderr"}},
    "root": {"level": loglevel.upper(), "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        # alembic announces each of its plugins at INFO when the app is imported: start-up noise.
        "alembic": {"level": "WARNING"},
    },
}

# Exit status of a master that refuses to serve: EX_CONFIG (sysexits.h), so a service manager can
# tell "fix the configuration" from a crash (systemd: RestartPreventExitStatus=78).
REFUSED = 78


def worker_int(worker):  # type: ignore[no-untyped-def]
    """A quick shutdown (SIGQUIT or SIGINT; ``make run`` sends SIGQUIT on Ctrl-C) ends the worker now.

    gunicorn then exits with sys.exit(), which waits for its request threads: one reading the next request on a
    kept-alive connection (a registry keeps them) holds the worker for seconds. A request cut short loses
    nothing: a notification is answered only once committed, and the registry sends again what got no answer.
    SIGTERM (systemd's stop) stays graceful.
    """
    import logging

    logging.shutdown()
    os._exit(0)


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    # In the worker, after it loaded the app: Dockhook's formatter with the ids bound per request. Alembic and
    # other libraries' start-up INFO lines are silenced there (app.logs.QUIET).
    from app import logs
    from app.config import Settings

    settings = Settings.from_env()
    logs.configure(settings.log_format, settings.log_level)


def when_ready(server):  # type: ignore[no-untyped-def]
    """After the listeners are bound, before any worker: refuse an exposed bind without strong tokens,
    bad settings, and secret keys that cannot read the database's secrets.

    The addresses come from the bound sockets, so ``-b``, ``--bind`` or ``GUNICORN_CMD_ARGS`` cannot
    slip past a check that only DOCKHOOK_BIND would get.
    """
    _refuse_unsafe(server)


def on_reload(server):  # type: ignore[no-untyped-def]
    # A SIGHUP re-reads this file and may bind new addresses: check them the same way.
    _refuse_unsafe(server)


def _refuse_unsafe(server):  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    hosts = [_host(listener) for listener in server.LISTENERS]
    # The checks import the app, so they run in a child interpreter: the master must not import app
    # modules, or the workers it forks after a SIGHUP would run the old code (and a database pool
    # opened here would be shared across the fork).
    try:
        result = subprocess.run(
            [sys.executable, __file__, *hosts],
            cwd=server.cfg.chdir,
            stdout=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        _halt(server, "the start-up check did not finish within 120 s")
        return
    if result.returncode == REFUSED:
        _halt(server, result.stdout.strip())
    elif result.returncode != 0:
        _halt(server, f"the start-up check failed with status {result.returncode} (its error is above)")


def _host(listener):  # type: ignore[no-untyped-def]
    """The address a gunicorn listener is bound to: an IP address, or ``unix:<path>``."""
    name = listener.sock.getsockname()
    if isinstance(name, tuple):
        return name[0]
    return f"unix:{name if isinstance(name, str) else name.decode(errors='replace')}"


def _halt(server, reason):  # type: ignore[no-untyped-def]
    # when_ready runs outside the arbiter's try block, so a raised HaltServer would end in a traceback;
    # halt() closes the listeners, logs "Reason: ..." on the error log (stderr) and exits REFUSED.
    server.halt(reason=f"dockhook: {reason}", exit_status=REFUSED)


def _check(hosts):  # type: ignore[no-untyped-def]
    """In the child: the settings, the exposure of ``hosts``, the secret keys. Print why not and exit REFUSED."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from app.config import ConfigError, Settings, exposure_problem
    from app.startup import check_secret_keys

    try:
        settings = Settings.from_env()
        problem = exposure_problem(hosts, settings)
        if problem is None:
            check_secret_keys(settings)
    except ConfigError as exc:
        problem = f"configuration error: {exc}"
    if problem is None:
        return 0
    print(problem)
    return REFUSED


if __name__ == "__main__":
    import sys

    sys.exit(_check(sys.argv[1:]))
