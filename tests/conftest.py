"""Shared fixtures: every database-backed test runs on SQLite and on PostgreSQL (when TEST_DATABASE_URL is set)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import text

from app import clock, create_app
from app.config import Settings
from app.extensions import db
from tests.support import connects, databases, dns, redis_server
from tests.support import settings as test_settings
from tests.support.clock import FakeClock
from tests.support.replay import TOKEN
from tests.support.sinks import Sink

BACKENDS = ["sqlite", "postgresql"]


def settings_for(database_url: str, **overrides: Any) -> Settings:
    """Settings from the tests' environment only (the developer's variables never leak into tests)."""
    return Settings.from_env(test_settings.ENV, database_url=database_url, **overrides)


def migrate(database_url: str) -> None:
    app = create_app(settings_for(database_url))
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database of each backend for the session."""
    if request.param == "sqlite":
        url = databases.sqlite_url(tmp_path_factory.mktemp("sqlite"))
        migrate(url)
        yield url
        return
    base = databases.postgres_base_url()
    if base is None:
        pytest.skip("PostgreSQL run skipped: set TEST_DATABASE_URL (make test does when PostgreSQL is up)")
    url = databases.create_postgres_database(base)
    try:
        migrate(url)
        yield url
    finally:
        databases.drop_postgres_database(url)


@pytest.fixture
def make_app(database_url: str) -> Iterator[Callable[..., Flask]]:
    """Build apps on the session database with settings overrides; empties every table afterwards."""
    apps: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        overrides.setdefault("database_url", database_url)
        overrides.setdefault("resolver", dns.DEFAULT)
        app = create_app(Settings.from_env(test_settings.ENV, **overrides), TESTING=True)
        apps.append(app)
        return app

    yield factory
    cleanup = create_app(settings_for(database_url))
    apps.append(cleanup)
    with cleanup.app_context():
        empty_tables(database_url)
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def empty_tables(database_url: str) -> None:
    tables = databases.tables_to_empty()
    with db.engine.begin() as conn:
        if database_url.startswith("postgresql"):
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """The app as the fixtures' registry was configured: notifications need the harness token."""
    return make_app(notify_token=TOKEN)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def fixtures_dir() -> Path:
    return Path(__file__).resolve().parent / "fixtures" / "registry"


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis for the session (REDIS_URL, or a redis-server started and stopped here), its database
    claimed by the session: a database holding keys the session did not write is refused, never flushed
    (tests/support/redis_server.py)."""
    refused = ""
    try:
        with redis_server.redis_url() as url:
            yield url
    except redis_server.NotOurs as exc:
        refused = str(exc)
    if refused:  # outside the except: the message alone, without a chained traceback
        pytest.fail(refused, pytrace=False)


@pytest.fixture
def redis_db(redis_url: str) -> Iterator[str]:
    """``redis_url``, emptied before and after the test (only while it carries the session's marker)."""
    redis_server.flush(redis_url)
    yield redis_url
    redis_server.flush(redis_url)


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink()
    yield server
    server.close()


@pytest.fixture
def watch() -> Iterator[connects.Watch]:
    """Every socket connect and DNS lookup of this process during the test (kept on loopback)."""
    with connects.watching() as seen:
        yield seen


# --- Under CI a skip of what CI exists to run is a failure -----------------------------------------------

# The parts of the suite that skip themselves when something is missing (TEST_DATABASE_URL, docker-registry,
# skopeo, a PostgreSQL cluster of our own): locally that is a convenience, on CI it would turn a missing
# dependency into a green run that tested nothing. Other skips (a platform without IPv6 sockets, a libc
# that is not glibc) say something about the machine, not about a forgotten dependency, and stay skips.
MUST_RUN_UNDER_CI = ("e2e", "reliability")
# Fixtures whose "postgresql" parameter is the PostgreSQL leg of the suite.
BACKEND_FIXTURES = ("database_url", "e2e_database_url")
HERE = Path(__file__).resolve().parent


def under_ci() -> bool:
    """CI=true (as GitHub Actions, GitLab CI and most CI systems set it; 1 and yes count too)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def must_not_skip(item: pytest.Item) -> str | None:
    """Why ``item`` may not be skipped under CI (its category), or None if it may."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and any(callspec.params.get(name) == "postgresql" for name in BACKEND_FIXTURES):
        return "the PostgreSQL leg"
    for category in MUST_RUN_UNDER_CI:
        if item.get_closest_marker(category) is not None or (HERE / category) in item.path.parents:
            return f"a test marked {category}"
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """Under CI, a skipped PostgreSQL leg, end-to-end test or reliability scenario is reported as failed."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail") or not under_ci():
        return
    category = must_not_skip(item)
    if category is None:
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    reason = reason.removeprefix("Skipped: ")
    report.outcome = "failed"
    report.longrepr = f"CI=true and {item.nodeid} is {category}, which CI must run; it was skipped: {reason}"


@pytest.fixture
def fake_clock() -> Iterator[FakeClock]:
    """Every "now" in Dockhook reads this clock during the test; it moves only when the test says so."""
    fake = FakeClock()
    with clock.replaced(fake):
        yield fake


# --- The reliability figures, at the end of the run --------------------------------------------------------

# tests/reliability/conftest.py puts each scenario's figures on its test report under this name. The summary is
# here, in the conftest every process loads, because under pytest-xdist the process that prints it collects no
# tests (so never loads tests/reliability/conftest.py) and sees only the workers' reports.
FIGURES_PROPERTY = "reliability_figures"
# Set to a file path to append every scenario's figures to it as JSON lines (docs/reliability.md's tables).
FIGURES_FILE = "DOCKHOOK_RELIABILITY_FIGURES"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    reported = [
        value
        for reports in terminalreporter.stats.values()
        for report in reports
        if isinstance(report, pytest.TestReport) and report.when == "call"
        for name, value in report.user_properties
        if name == FIGURES_PROPERTY
    ]
    if not reported:
        return
    terminalreporter.section("reliability figures")
    for figures in reported:
        terminalreporter.write_line(figures["line"])
    target = os.environ.get(FIGURES_FILE, "").strip()
    if target:
        with open(target, "a") as out:
            for figures in reported:
                out.write(json.dumps(figures["figures"]) + "\n")
