"""Schemathesis against the live OpenAPI document of the seeded app (tests/fuzz/conftest.py): every operation,
requests valid and invalid by the document, half of them spoiled with a hostile value (tests/fuzz/hostile.py).
No answer may be a 5xx or one the document does not describe, and no seeded credential may show.

Under pytest the seed is fixed and the examples few; ``make fuzz`` sets DOCKHOOK_FUZZ_RANDOM=1: a random seed,
shown in the report header and with a failure (DOCKHOOK_FUZZ_SEED=<seed> runs it again), and more examples
(DOCKHOOK_FUZZ_EXAMPLES).
"""

from __future__ import annotations

import os
import random
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings

from tests.fuzz import hostile
from tests.fuzz.conftest import call_and_check, seeded_names

RANDOM = os.environ.get("DOCKHOOK_FUZZ_RANDOM", "") not in ("", "0")
SEED = int(os.environ.get("DOCKHOOK_FUZZ_SEED") or (random.randrange(2**32) if RANDOM else 20240601))
EXAMPLES = int(os.environ.get("DOCKHOOK_FUZZ_EXAMPLES", "300" if RANDOM else "30"))
# How often a path parameter names a seeded resource, or a body field takes a workable value, instead of a
# generated one.
PATH_PROBABILITY = 0.7
BODY_PROBABILITY = 0.9
# Values a policy body needs to get past validation (a random address is refused before anything is written).
BODY_VALUES: dict[str, list[Any]] = {
    "targets[*].address": [
        "https://hooks.example.com/in",
        "https://ci.example.com/hook?token=abc",
        "https://hooks.slack.com/services/T0/B0/xyz",
    ],
    "targets[*].auth_header": ["Bearer fuzz", "******", ""],
    "targets[*].secret": ["whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY", "******", ""],
    "event_types[*]": ["PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT", "pushImage"],
    "since": ["2020-01-01T00:00:00Z"],
    "until": ["2099-01-01T00:00:00+02:00"],
}


@pytest.fixture
def api_schema(seeded: Flask) -> Any:
    names = seeded_names(seeded)
    dictionaries = {f"path.{k}": v for k, v in names.items()} | {f"body.{k}": v for k, v in BODY_VALUES.items()}
    bindings = {
        key: {"dictionary": key, "probability": PATH_PROBABILITY if key.startswith("path.") else BODY_PROBABILITY}
        for key in dictionaries
    }
    # DELETE removes the doomed policy, so the spare one is still there for the PUTs.
    doomed = {"path.webhook_policy_id": {"dictionary": "path.doomed_policy_id", "probability": PATH_PROBABILITY}}
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {"max-examples": EXAMPLES, "deterministic": not RANDOM, "database": "none", "mode": "all"},
            "dictionaries": {key: {"values": values} for key, values in dictionaries.items()},
            "parameters": bindings,
            "operations": [{"include-method": "DELETE", "parameters": doomed}],
        }
    )
    print(f"fuzz seed {SEED} (DOCKHOOK_FUZZ_SEED={SEED} DOCKHOOK_FUZZ_RANDOM={int(RANDOM)} runs it again)")
    schema = schemathesis.openapi.from_wsgi("/api/v2.0/openapi.json", seeded, config=config)

    @schema.hook
    def flatmap_case(context: Any, case: Any) -> Any:
        return hostile.spoiled(case)

    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(suppress_health_check=list(HealthCheck), deadline=None)
def test_no_request_gets_a_server_error_an_undocumented_answer_or_a_credential(case: Any) -> None:
    call_and_check(case)
