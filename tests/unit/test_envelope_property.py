"""Properties of the receiver over any input (hypothesis): loading never fails with anything but a ValueError, a
kept event that passes the bounds fits every column, and no body at all gets a 5xx.

The examples are derived from the real captured events (tests/fixtures/registry) with fields replaced by hostile
values, from arbitrary JSON and from arbitrary bytes. Derandomized with a bounded number of examples, so a run is
repeatable and quick; no example database is written.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.registry import bounds
from app.registry.actions import RegistryAction
from app.registry.filter import FilterRules, classify
from app.registry.schemas import LoadedEvent, load_envelope, parse_body
from app.services.rejected import UNSAFE_CHARACTER, Rejection
from tests.support import replay

NOW = datetime(2026, 1, 1, tzinfo=UTC)
RULES = FilterRules(frozenset({"harbor-registry-client"}))
OCI = "application/vnd.oci.image.manifest.v1+json"
PURE = settings(max_examples=400, derandomize=True, deadline=None, database=None)
THROUGH_HTTP = settings(
    max_examples=500,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

REAL_EVENTS = [event for scenario in replay.index() for d in replay.deliveries(scenario) for event in d.events()]


def _kept(event: dict[str, Any]) -> bool:
    (loaded,) = load_envelope({"events": [event]})
    return isinstance(loaded, LoadedEvent) and isinstance(classify(loaded.event, RULES, NOW), RegistryAction)


# The events the filter keeps (manifest pushes, pulls, deletes): where the bounds matter most.
KEPT_EVENTS = [event for event in REAL_EVENTS if _kept(event)]
INTERESTING = [
    "",
    "push",
    "pull",
    "delete",
    "mount",
    "HEAD",
    "GET",
    OCI,
    "application/octet-stream",
    "library/alpine",
    "alpine",
    "team-a/sub/app",
    "..",
    "../app",
    "123/app",
    "a b/app",
    "EVIL<script>alert(1)</script>",
    "x' or '1'='1/app",
    "harbor-registry-client",
    "sha256:6e0801e933911f55adeb296638b421b3365c8d9b85dff219f74eb2d5d52add99",
]

any_character = st.characters(codec=None, exclude_categories=())
# Lengths on both sides of every column width (64, 255, 512) and of the tag rule (128).
lengths = st.one_of(st.sampled_from([1, 63, 64, 65, 127, 128, 129, 254, 255, 256, 511, 512, 513]), st.integers(0, 600))
hostile_text = st.one_of(
    st.text(any_character, max_size=12),
    st.sampled_from(INTERESTING),
    # A real value with NUL, an unpaired surrogate or another control character in it.
    st.builds(
        lambda text, poison, at: text[:at] + poison + text[at:],
        st.sampled_from(INTERESTING),
        st.sampled_from(["\x00", "\ud800", "\udfff", "\n", "\x7f", "\x9b"]),
        st.integers(0, 12),
    ),
    st.builds(
        lambda prefix, c, n: (prefix + c * n)[:n] if n >= len(prefix) else c * n,
        st.sampled_from(["", "library/", "sha256:", OCI + ";p="]),
        st.sampled_from(["a", "1", "/", "-", ".", "\x00", "\ud800", "é", "\n"]),
        lengths,
    ),
)
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    hostile_text,
)
json_value = st.recursive(
    json_leaf,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(any_character, max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)
sizes = st.one_of(
    st.sampled_from([0, -1, 1, 2**31, 2**63 - 1, 2**63, 2**64]),
    st.integers(min_value=-(2**70), max_value=2**70),
)
offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
timestamps = st.one_of(
    st.builds(lambda moment, zone: moment.replace(tzinfo=zone).isoformat(), st.datetimes(), offsets),
    st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-11-29T12:03:50.4061104Z"]),
)
STRUCTURES = ("target", "request", "actor", "source")
PATHS = [
    "id",
    "action",
    "timestamp",
    *STRUCTURES,
    "target.mediaType",
    "target.size",
    "target.length",
    "target.digest",
    "target.repository",
    "target.tag",
    "target.url",
    "request.id",
    "request.method",
    "request.useragent",
    "request.host",
    "actor.name",
    "source.addr",
    "unknown",
]


def own_values(path: str) -> st.SearchStrategy[Any]:
    """Values of a field's own kind (where its bounds are)."""
    if path in ("target.size", "target.length"):
        return sizes
    if path == "timestamp":
        return timestamps
    if path in STRUCTURES or path == "unknown":
        return json_value
    return hostile_text


def any_values(path: str) -> st.SearchStrategy[Any]:
    """Mostly values of the field's own kind, sometimes any JSON value."""
    return st.one_of(own_values(path), own_values(path), json_value)


own_mutation = st.sampled_from(PATHS).flatmap(lambda path: st.tuples(st.just(path), own_values(path)))
any_mutation = st.sampled_from(PATHS).flatmap(lambda path: st.tuples(st.just(path), any_values(path)))


def replaced(event: dict[str, Any], changes: list[tuple[str, Any]]) -> dict[str, Any]:
    result = copy.deepcopy(event)
    for path, value in changes:
        *parents, last = path.split(".")
        node: Any = result
        for name in parents:
            if not isinstance(node, dict):
                break
            node = node.setdefault(name, {})
        if isinstance(node, dict):
            node[last] = value
    return result


# A kept event with values of the right kind in some fields: what reaches the bounds.
kept_event = st.builds(replaced, st.sampled_from(KEPT_EVENTS), st.lists(own_mutation, min_size=1, max_size=3))
# Any captured event with anything in some fields.
mutated_event = st.builds(replaced, st.sampled_from(REAL_EVENTS), st.lists(any_mutation, min_size=1, max_size=3))
envelope = st.fixed_dictionaries(
    {"events": st.lists(st.one_of(kept_event, mutated_event, kept_event, json_value), max_size=3)}
)
document = st.one_of(envelope, envelope, envelope, json_value)


@PURE
@given(kept_event)
def test_a_kept_event_fits_its_columns_or_is_refused_with_a_reason(event: dict[str, Any]) -> None:
    (loaded,) = load_envelope({"events": [event]})
    if isinstance(loaded, LoadedEvent):
        kept = classify(loaded.event, RULES, NOW)
        if isinstance(kept, RegistryAction):
            assert_fits_or_refused(kept)


@PURE
@given(document)
def test_the_envelope_loader_loads_or_refuses_any_json_value(doc: Any) -> None:
    try:
        loaded = load_envelope(doc)
    except ValueError as exc:
        assert str(exc)
        return
    assert isinstance(doc, dict) and len(loaded) == len(doc["events"])
    for item in loaded:
        if isinstance(item, Rejection):
            assert isinstance(item.reason, str) and item.reason
            continue
        assert isinstance(item, LoadedEvent)
        kept = classify(item.event, RULES, NOW)
        if isinstance(kept, RegistryAction):
            assert_fits_or_refused(kept)


def assert_fits_or_refused(action: RegistryAction) -> None:
    """A kept event is refused with a reason, or every value it records fits its column and is clean."""
    why = bounds.problem(action)
    if why is not None:
        assert isinstance(why, str) and why
        return
    for name, value in bounds.recorded_values(action).items():
        assert len(value) <= bounds.WIDTHS[name], name
        assert not UNSAFE_CHARACTER.search(value), name
    assert action.size is None or 0 < action.size <= bounds.MAX_SIZE
    assert action.occurred_at.tzinfo is UTC


def encoded(doc: Any, nan: bool, raw_surrogates: bool) -> bytes:
    # allow_nan writes NaN/Infinity (which are not JSON); surrogatepass writes unpaired surrogates as raw bytes.
    text = json.dumps(doc, ensure_ascii=not raw_surrogates, allow_nan=nan)
    return text.encode("utf-8", "surrogatepass")


nested_body = st.builds(
    lambda depth, opener, closer, closed: (opener * depth + (closer * depth if closed else "")).encode(),
    st.integers(0, 3000),
    st.sampled_from(["[", '{"a":']),
    st.sampled_from(["]", "}"]),
    st.booleans(),
)
json_with_constants = st.builds(
    lambda doc, literal: encoded(doc, True, False).replace(b'"PLACEHOLDER"', literal),
    st.builds(
        replaced,
        st.sampled_from(REAL_EVENTS),
        st.tuples(st.tuples(st.sampled_from(PATHS), st.just("PLACEHOLDER"))).map(list),
    ).map(lambda event: {"events": [event]}),
    st.sampled_from([b"NaN", b"-Infinity", b"1e999", b"9" * 5000, b"1.5", b"-0", b"[]", b"{}"]),
)
json_body = st.builds(encoded, document, st.booleans(), st.booleans())
body = st.one_of(json_body, st.binary(max_size=64), nested_body, json_with_constants)
# Through HTTP, mostly envelopes of events the filter keeps: those reach the database.
kept_body = st.builds(
    encoded,
    st.fixed_dictionaries({"events": st.lists(kept_event, min_size=1, max_size=3)}),
    st.booleans(),
    st.booleans(),
)
http_body = st.one_of(kept_body, body)


@PURE
@given(body)
def test_the_body_parser_parses_or_refuses_any_bytes(raw: bytes) -> None:
    try:
        parse_body(raw)
    except ValueError as exc:
        assert str(exc).startswith("body is not valid JSON")


@THROUGH_HTTP
@given(raw=http_body)
def test_no_body_is_answered_with_a_5xx(app: Flask, raw: bytes) -> None:
    headers = {"Content-Type": "application/vnd.docker.distribution.events.v1+json"}
    response = app.test_client().post(
        "/service/notifications", data=raw, headers={**headers, "Authorization": f"Bearer {replay.TOKEN}"}
    )
    assert response.status_code in (200, 400), (response.status_code, response.get_data(as_text=True))
    answer = response.get_json()
    if response.status_code == 200:
        assert answer["received"] == answer["recorded"] + answer["duplicates"] + answer["ignored"]
    else:
        assert set(answer) == {"errors"}
