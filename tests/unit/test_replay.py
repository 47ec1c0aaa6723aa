"""The fixture replayer fails loudly: a scenario without a capture is an error, never an empty replay that passes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import replay


def test_a_scenario_without_a_capture_file_raises_naming_the_file() -> None:
    missing = replay.FIXTURES / "raw" / "push_oci_alpine_3_19.jsonl"  # a typo: '_' for '.'
    assert not missing.exists()
    with pytest.raises(FileNotFoundError, match=r"push_oci_alpine_3_19") as caught:
        replay.deliveries("push_oci_alpine_3_19")
    assert str(missing) in str(caught.value)


def test_a_scenario_the_registry_sent_nothing_for_replays_nothing() -> None:
    assert replay.index()["registry_restart_drops_queue"]["deliveries"] == 0
    assert replay.deliveries("registry_restart_drops_queue") == []


def test_every_indexed_scenario_replays_as_many_posts_as_the_registry_sent() -> None:
    for name, scenario in replay.index().items():
        assert len(replay.deliveries(name)) == scenario["deliveries"], name


def test_a_capture_shorter_than_the_index_says_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "raw").mkdir()
    source = replay.FIXTURES / "raw" / "push_oci_alpine_3.19.jsonl"
    first_line = source.read_text().splitlines()[0]
    (tmp_path / "raw" / "push_oci_alpine_3.19.jsonl").write_text(first_line + "\n")
    entry = replay.index()["push_oci_alpine_3.19"]
    (tmp_path / "index.json").write_text(json.dumps({"scenarios": {"push_oci_alpine_3.19": entry}}))
    monkeypatch.setattr(replay, "FIXTURES", tmp_path)
    with pytest.raises(AssertionError, match=r"1 deliveries, index\.json says the registry sent 3"):
        replay.deliveries("push_oci_alpine_3.19")
