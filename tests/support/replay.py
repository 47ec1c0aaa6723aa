"""Replay captured registry notifications byte for byte (tests/fixtures/registry/raw/*.jsonl)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "registry"
TOKEN = "harness-token-123"
# Headers the HTTP client sets itself for the target it talks to.
_TRANSPORT_HEADERS = {"host", "content-length"}


@dataclass(frozen=True)
class Delivery:
    """One POST the registry sent: its headers in wire order and its exact body bytes."""

    scenario: str
    seq: int
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    response_status: int

    def request_headers(self) -> dict[str, str]:
        return {k: v for k, v in self.headers if k.lower() not in _TRANSPORT_HEADERS}

    def events(self) -> list[dict[str, Any]]:
        return list(json.loads(self.body)["events"])


def index() -> dict[str, Any]:
    return dict(json.loads((FIXTURES / "index.json").read_text())["scenarios"])


def deliveries(scenario: str) -> list[Delivery]:
    """Every POST of ``scenario`` in the order the registry sent them (empty if it sent none).

    Raises FileNotFoundError naming the file when the scenario has no capture (a misspelt name must
    not replay nothing and pass), and fails when the capture holds another number of POSTs than
    index.json says the registry sent.
    """
    path = FIXTURES / "raw" / f"{scenario}.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"no capture of registry scenario {scenario!r}: {path} does not exist")
    found = list(_read(scenario, path))
    expected = index().get(scenario, {}).get("deliveries")
    assert expected is not None, f"{scenario!r} is not a scenario of {FIXTURES / 'index.json'}"
    assert len(found) == expected, f"{path}: {len(found)} deliveries, index.json says the registry sent {expected}"
    return found


def _read(scenario: str, path: Path) -> Iterator[Delivery]:
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        body = row["body"].encode() if row.get("body") is not None else _b64(row["body_b64"])
        assert len(body) == row["body_len"], f"{scenario} #{row['seq']}: body length differs from capture"
        yield Delivery(
            scenario, row["seq"], row["path"], [tuple(h) for h in row["headers"]], body, row["response_status"]
        )


def _b64(value: str) -> bytes:
    import base64

    return base64.b64decode(value)


def scenarios(group: str) -> list[str]:
    """Scenario names of ``group`` in capture order (later ones depend on earlier ones)."""
    return [name for name, s in index().items() if s["group"] == group]
