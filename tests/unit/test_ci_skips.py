"""Under CI (CI=true) a skipped PostgreSQL leg, end-to-end test or reliability scenario fails the run
(tests/conftest.py): a missing docker-registry, skopeo or TEST_DATABASE_URL cannot turn CI green."""

from __future__ import annotations

import pytest

from tests import conftest

pytest_plugins = ["pytester"]

TINY_SUITE = """
import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request):
    if request.param == "postgresql":
        pytest.skip("PostgreSQL run skipped: set TEST_DATABASE_URL")
    return "sqlite://"


def test_on_each_backend(database_url):
    pass


@pytest.mark.e2e
def test_end_to_end():
    pytest.skip("needs docker-registry and skopeo on PATH")


@pytest.mark.reliability
@pytest.mark.skipif(True, reason="reliability tests need PostgreSQL")
def test_chaos():
    pass


@pytest.mark.skipif(True, reason="needs IPv6 sockets")
def test_needs_the_platform():
    pass


@pytest.mark.xfail(reason="a known bug", strict=True)
def test_known_bug():
    assert False
"""


@pytest.fixture
def tiny_suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\nmarkers =\n    e2e: end to end\n    reliability: chaos\n")
    pytester.makepyfile(test_tiny=TINY_SUITE)
    return pytester


def run(pytester: pytest.Pytester) -> pytest.RunResult:
    # The rule itself, as tests/conftest.py defines it (the conftest module is the plugin).
    return pytester.runpytest("-rA", "-p", "no:cacheprovider", plugins=[conftest])


@pytest.mark.parametrize("value", ["true", "TRUE", "1", "yes"])
def test_under_ci_a_skipped_postgres_leg_e2e_test_or_reliability_scenario_fails(
    tiny_suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CI", value)
    result = run(tiny_suite)
    # The backend and reliability skips come from set-up (a fixture, a skipif mark): pytest reports an
    # error there; the e2e one is skipped while running: a failure.
    result.assert_outcomes(passed=1, failed=1, errors=2, skipped=1, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines_random(
        [
            "*CI=true and test_tiny.py::test_on_each_backend[[]postgresql[]] is the PostgreSQL leg, which CI must run;"
            " it was skipped: *set TEST_DATABASE_URL*",
            "*CI=true and test_tiny.py::test_end_to_end is a test marked e2e*needs docker-registry and skopeo*",
            "*CI=true and test_tiny.py::test_chaos is a test marked reliability*need PostgreSQL*",
            "SKIPPED * needs IPv6 sockets",
            "PASSED test_tiny.py::test_on_each_backend[[]sqlite[]]",
        ]
    )


@pytest.mark.parametrize("value", [None, "", "false", "0"])
def test_outside_ci_they_are_skips(
    tiny_suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    result = run(tiny_suite)
    result.assert_outcomes(passed=1, skipped=4, xfailed=1)
    assert result.ret == pytest.ExitCode.OK


def test_a_test_under_tests_e2e_counts_as_e2e_without_its_marker(pytester: pytest.Pytester) -> None:
    item = pytester.getitem("def test_x():\n    pass\n", "test_x")
    assert conftest.must_not_skip(item) is None
    item.path = conftest.HERE / "e2e" / "test_x.py"  # where the end-to-end tests live
    assert conftest.must_not_skip(item) == "a test marked e2e"
