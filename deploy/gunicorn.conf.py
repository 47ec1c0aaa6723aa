"""gunicorn settings for Dockhook (``gunicorn -c deploy/gunicorn.conf.py wsgi:app``); env overrides below."""

import os

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

# Dockhook's own log lines (app.*, at INFO) next to gunicorn's, with time, level and logger.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
    "root": {"level": loglevel.upper(), "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
    },
}
