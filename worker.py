"""RQ worker entry point: ``python worker.py [--burst]`` works the Dockhook queues on ``REDIS_URL``."""

from __future__ import annotations

import argparse
import logging
import sys

from app import create_app
from app.config import ConfigError, Settings
from app.queue import QUEUES, run_worker
from app.startup import check_secret_keys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--burst", action="store_true", help="exit once the queues are empty")
    parser.add_argument("--name", help="worker name prefix shown by `rq info` (the pid is appended; default: random)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"dockhook worker: configuration error: {exc}", file=sys.stderr)
        return 2
    if settings.redis_url is None:
        print("dockhook worker: REDIS_URL is not set (make run starts a Redis and sets it)", file=sys.stderr)
        return 2
    try:
        check_secret_keys(settings)
    except ConfigError as exc:
        print(f"dockhook worker: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.getLogger(__name__).info("working queues %s on %s", ", ".join(QUEUES), settings.redis_url)
    run_worker(create_app(settings), settings.redis_url, burst=args.burst, name=args.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
