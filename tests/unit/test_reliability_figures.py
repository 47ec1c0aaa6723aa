"""The chaos scenarios' figures reach the end of the run (tests/conftest.py): printed in a "reliability figures"
section and appended to DOCKHOOK_RELIABILITY_FIGURES, whether the suite runs in one process or under
pytest-xdist (make test), where the process that prints the summary runs no test and sees only the reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import conftest

pytest_plugins = ["pytester"]

SCENARIOS = f"""
import pytest


@pytest.mark.parametrize("number", range(4))
def test_scenario(request, number):
    reported = {{"line": f"scenario {{number}}: lost 0", "figures": {{"scenario": number, "lost": 0}}}}
    request.node.user_properties.append(({conftest.FIGURES_PROPERTY!r}, reported))


def test_without_figures():
    pass
"""


@pytest.mark.parametrize("processes", [["-n", "2"], ["-p", "no:xdist"]], ids=["xdist", "one-process"])
def test_every_scenario_s_figures_are_printed_and_written(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, processes: list[str]
) -> None:
    written = tmp_path / "figures.jsonl"
    monkeypatch.setenv(conftest.FIGURES_FILE, str(written))
    pytester.makepyfile(test_chaos=SCENARIOS)
    result = pytester.runpytest(*processes, "-p", "no:cacheprovider", plugins=[conftest])
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["*reliability figures*"])
    result.stdout.fnmatch_lines_random([f"scenario {number}: lost 0" for number in range(4)])
    lines = written.read_text().splitlines()
    assert sorted(json.loads(line)["scenario"] for line in lines) == [0, 1, 2, 3]


def test_a_run_without_figures_prints_no_section(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest("-n", "2", "-p", "no:cacheprovider", plugins=[conftest])
    result.assert_outcomes(passed=1)
    assert "reliability figures" not in result.stdout.str()
