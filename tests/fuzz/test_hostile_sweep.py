"""Every hostile value of its kind (tests/fuzz/hostile.py) in every slot of every operation of the live document,
one at a time, on top of a request that is otherwise valid and names seeded resources: deterministic, so a bound
that goes missing is found on every run, not by luck. Same checks as the fuzzer: no 5xx, every answer as
documented, no seeded credential shown."""

from __future__ import annotations

from typing import Any

import schemathesis
from flask import Flask

from tests.fuzz import hostile
from tests.fuzz.conftest import call_and_check, seeded_names
from tests.support import replay

POLICY = {
    "name": "sweep",
    "description": "swept",
    "enabled": True,
    "targets": [
        {
            "type": "http",
            "address": "https://hooks.example.com/sweep",
            "auth_header": "Bearer sweep",
            "secret": "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY",
            "skip_cert_verify": False,
            "payload_format": "Default",
        }
    ],
    "event_types": ["PUSH_ARTIFACT"],
    "creator": "sweeper",
}
# A valid body for each operation that takes one, by (method, the end of its path).
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/webhook/policies"): POLICY,
    ("PUT", "/webhook/policies/{webhook_policy_id}"): POLICY,
    ("POST", "/api/v2.0/projects"): {"project_name": "swept", "public": False, "metadata": {"public": "true"}},
    ("PUT", "/projects/{project_name_or_id}"): {"public": True, "metadata": {"public": "false", "auto_scan": "x"}},
    ("PUT", "/configurations"): {"notification_enable": True},
    ("PUT", "/tasks/{task_id}"): {"status": "Stopped"},
    ("POST", "/recover"): {"since": "2020-01-01T00:00:00Z", "until": "2099-01-01T00:00:00+02:00"},
    ("POST", "/service/notifications"): {"events": replay.deliveries("push_oci_alpine_3.19")[-1].events()},
    ("POST", "/policies/test"): POLICY,
    ("POST", "/api/v2.0/events"): {
        "type": "SCANNING_COMPLETED",
        "project": "library",
        "operator": "trivy",
        "occur_at": 1700000000,
        "event_data": {
            "resources": [
                {"digest": "sha256:" + "a" * 64, "tag": "3.19", "scan_overview": {"x": {"severity": "High"}}}
            ],
            "repository": {"name": "alpine", "namespace": "library", "repo_full_name": "library/alpine"},
            "scan": {"scan_type": "vulnerability"},
        },
    },
}
REPORTED = 20


def base_case(operation: Any, names: dict[str, list[Any]]) -> Any:
    """A valid request to ``operation`` naming the seeded resources."""
    path = {p.name: names[p.name][0] for p in operation.path_parameters}
    if operation.method.upper() == "DELETE" and "webhook_policy_id" in path:
        path["webhook_policy_id"] = names["doomed_policy_id"][0]
    query = {p.name: names.get(p.name, ["library"])[0] for p in operation.query if p.is_required}
    body = next(
        (b for (m, end), b in BODIES.items() if m == operation.method.upper() and operation.path.endswith(end)), None
    )
    media_type = next((alternative.media_type for alternative in operation.body), None)
    if media_type is None:
        return operation.Case(path_parameters=path, query=query)
    return operation.Case(
        path_parameters=path, query=query, body=body if body is not None else {}, media_type=media_type
    )


def test_every_hostile_value_in_every_slot_is_a_documented_4xx_or_harmless(seeded: Flask) -> None:
    names = seeded_names(seeded)
    schema = schemathesis.openapi.from_wsgi("/api/v2.0/openapi.json", seeded)
    failures: dict[str, str] = {}
    sent = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        base = base_case(operation, names)
        for where, name, values in hostile.slots(base):
            for value in values:
                case = hostile.spoil(base, where, name, value)
                sent += 1
                try:
                    call_and_check(case)
                except Exception as exc:  # every way a request can fail is a finding
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    key = f"{operation.method.upper()} {operation.path} {where} {name}: {type(exc).__name__}"
                    failures.setdefault(key, f"{key}: {first[:200]} (value {value!r:.80})")
    assert sent > 1000
    assert not failures, f"{len(failures)} findings:\n" + "\n".join(list(failures.values())[:REPORTED])
