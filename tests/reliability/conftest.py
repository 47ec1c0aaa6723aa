"""Reliability fixtures: a throwaway PostgreSQL database, a Redis and a Dockhook stack of each test's own,
webhook targets, and the figures every scenario measured (printed at the end of the run by tests/conftest.py).

The suite needs PostgreSQL (TEST_DATABASE_URL); without it every test is skipped (under CI=true each such
skip is a failure: tests/conftest.py). Every process is
started by a fixture and stopped by PID at teardown, in order: sender, Dockhook (sweeper, workers,
gunicorn), Redis, then the database is dropped.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from app.models import HookAttempt, HookJob
from tests import conftest
from tests.reliability.harness import (
    AnsweringSink,
    Figures,
    PostgresCluster,
    RedisServer,
    RegistrySender,
    Stack,
    SwitchableSink,
    verify,
)
from tests.support import databases
from tests.support.processes import migrate
from tests.support.sinks import Sink


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.reliability)


class _Reported(list[Figures]):
    """The test's figures: each one added is also put on the test's report (user_properties), from which
    tests/conftest.py prints them at the end of the run, under pytest-xdist too."""

    def __init__(self, item: pytest.Item) -> None:
        super().__init__()
        self.item = item

    def append(self, figures: Figures) -> None:
        super().append(figures)
        self.item.user_properties.append(
            (conftest.FIGURES_PROPERTY, {"line": figures.line(), "figures": dataclasses.asdict(figures)})
        )


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> list[Figures]:
    """The test's figures; ``harness.verify(..., into=figures)`` adds a scenario's (printed at the end of the run)."""
    return _Reported(request.node)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    base = databases.postgres_base_url()
    if base is None:
        pytest.skip(
            "reliability tests need PostgreSQL: set TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)"
        )
    return base


@pytest.fixture(autouse=True)
def _needs_postgres(postgres_server: str) -> None:
    """Skip every scenario (with the reason above) when TEST_DATABASE_URL is unset."""


@pytest.fixture
def started() -> float:
    """When the test began (monotonic): the scenarios report their wall time from here."""
    return time.monotonic()


@pytest.fixture
def database_url(postgres_server: str, tmp_path: Path) -> Iterator[str]:
    """A fresh database on TEST_DATABASE_URL's server, migrated by ``flask db upgrade``; dropped afterwards."""
    url = databases.create_postgres_database(postgres_server)
    try:
        migrate(url, tmp_path)
        yield url
    finally:
        databases.drop_postgres_database(url)


@pytest.fixture
def postgres_cluster(tmp_path: Path) -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster of the test's own (so it can be restarted), with a migrated ``dockhook`` database."""
    why_not = PostgresCluster.available()
    if why_not:
        pytest.skip(f"cannot run a PostgreSQL cluster of our own: {why_not}")
    cluster = PostgresCluster()
    try:
        cluster.init()
        cluster.start()
        cluster.create_database()
        migrate(cluster.url, tmp_path)
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_stack(redis_server: RedisServer, tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """``make_stack(database_url, workers=2)``: Dockhook started and ready; stopped by PID at teardown."""
    stacks: list[Stack] = []

    def make(database_url: str, workers: int = 2) -> Stack:
        stack = Stack(database_url, redis_server, tmp_path, token=secrets.token_urlsafe(24))
        stacks.append(stack)
        stack.start(workers)
        return stack

    try:
        yield make
    finally:
        for stack in reversed(stacks):
            stack.stop()


@pytest.fixture
def make_sink() -> Iterator[Callable[..., Sink]]:
    """``make_sink(switchable=False)``: a loopback webhook target recording every POST; closed at teardown."""
    sinks: list[Sink] = []

    def make(switchable: bool = False) -> Sink:
        sink: Sink = SwitchableSink() if switchable else AnsweringSink()
        sinks.append(sink)
        return sink

    try:
        yield make
    finally:
        for sink in sinks:
            sink.close()


@pytest.fixture
def make_sender(make_stack: Callable[..., Stack]) -> Iterator[Callable[..., RegistrySender]]:
    """``make_sender(stack, **options)``: a registry-style sender thread (not started); stopped at teardown,
    before the stack it talks to."""
    senders: list[RegistrySender] = []

    def make(stack: Stack, **options: object) -> RegistrySender:
        sender = stack.sender(**options)
        senders.append(sender)
        return sender

    try:
        yield make
    finally:
        for sender in senders:
            sender.stop()
            if sender.is_alive():
                sender.join(timeout=10)


@dataclass
class Scenario:
    """One chaos scenario's parts: its database, its stack(s), targets and senders, and its figures."""

    request: pytest.FixtureRequest
    make_stack: Callable[..., Stack]
    make_sink: Callable[..., Sink]
    make_sender: Callable[..., RegistrySender]
    figures: list[Figures]
    started: float = field(default_factory=time.monotonic)

    def stack(self, workers: int = 2, database_url: str | None = None) -> Stack:
        """Dockhook on ``database_url``, by default a throwaway database on TEST_DATABASE_URL's server."""
        return self.make_stack(database_url or self.request.getfixturevalue("database_url"), workers=workers)

    def sink(self, switchable: bool = False) -> Sink:
        return self.make_sink(switchable=switchable)

    def sender(self, stack: Stack, *, count: int, rate: float, within: float = 40.0, **options: Any) -> RegistrySender:
        """A registry-style sender (not started) of ``count`` events at ``rate``/s, giving up after ``within`` s."""
        return self.make_sender(stack, count=count, rate=rate, deadline=time.monotonic() + within, **options)

    def verify(
        self,
        name: str,
        stack: Stack,
        sender: RegistrySender,
        sinks: list[Sink],
        *,
        fault_end: float = 0.0,
        **options: Any,
    ) -> tuple[Figures, list[HookJob], list[HookAttempt]]:
        """The no-loss checks, timed from the fault's end or the stream's, whichever came later."""
        return verify(
            name,
            stack,
            sender,
            sinks,
            drained_from=max(fault_end, sender.finished_at),
            started=self.started,
            into=self.figures,
            **options,
        )


@pytest.fixture
def scenario(
    request: pytest.FixtureRequest,
    make_stack: Callable[..., Stack],
    make_sink: Callable[..., Sink],
    make_sender: Callable[..., RegistrySender],
    figures: list[Figures],
) -> Scenario:
    return Scenario(request, make_stack, make_sink, make_sender, figures)
