"""Hostile values for the fuzzer: what issue 9's run sent (integers past 64 bits, non-ASCII digits, times that
overflow once in UTC, NUL, lone surrogates, NaN and Infinity, deep nesting, huge strings), put into one slot of a
generated request (a path or query parameter, a leaf of the JSON body, or the whole body). Values are drawn for
the kind of slot (an integer, a time, ``q``, any text), so a hostile value usually reaches the code that reads it."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

# Any text slot: what no column can hold, or what only looks like a number.
TEXT: tuple[str, ...] = (
    "\x00",
    "a\x00b",
    "%00",
    "%2500",
    "x" * 5000,
    "\u202e\ufeff",
    "²",
    "-1",
)
# An integer slot: beyond 32 and 64 bits, and digits str.isdigit() takes but int() does not (or should not).
INTEGER: tuple[str, ...] = (
    "²",
    "١٢",
    "1_000",
    " 1",
    "+0",
    "-1",
    "0",
    "2147483648",
    "-2147483649",
    "9223372036854775808",
    "9" * 40,
    "-" + "9" * 40,
    "9" * 5000,
    "1e400",
    "NaN",
    "Infinity",
)
# A time slot: beyond datetime's range once in UTC, before 1970, and not times at all.
TIME: tuple[str, ...] = (
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59.999999-00:01",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
    "9999-12-31T23:59:59",
    "2020-02-30T00:00:00Z",
    "+275760-09-13T00:00:00Z",
    "²⁰²⁰-01-01T00:00:00Z",
)
# Harbor's q with hostile values (the server URL-unescapes the text once more).
Q: tuple[str, ...] = (
    "creation_time=9999-12-31T23:59:59-14:00",
    "op_time=[0001-01-01T00:00:00+14:00~]",
    "update_time={9999-12-31T23:00:00-14:00 1970-01-01}",
    "start_time=[~9999-12-31T23:59:59.999999-00:01]",
    "id=99999999999999999999",
    "project_id={1 99999999999999999999}",
    "run_count=[-99999999999999999999~]",
    "id=[² ~ ¹]",
    "name=%00",
    "name=~%2500",
    "name=²",
    "x" * 4096,
)
# Only a JSON body can carry these.
JSON_ONLY: tuple[Any, ...] = (
    "\ud800",
    "a\udfffb",
    2**64,
    -(2**63) - 1,
    10**30,
    1e308,
    None,
    [],
    {},
    True,
    [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],
    "x" * 70000,
)
# Written into a leaf of the body's JSON text: numbers JSON does not have, or that Python reads as infinite or huge.
LITERALS: tuple[str, ...] = ("NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1" * 30, "-" + "9" * 5000)
_SENTINEL = "\x01hostile\x01"
# Whole bodies, sent as they are.
RAW_BODIES: tuple[bytes, ...] = (
    b"[" * 100_000,
    b'{"a":' * 5000 + b"1" + b"}" * 5000,
    b"NaN",
    b'{"name": Infinity}',
    b"1" * 5000,
    b'"\\ud800"',
    b'{"x": "\\u0000"}',
    b"\xff\xfe",
    b"",
    b"x" * 100_000,
)


def _kind(schema: dict[str, Any]) -> tuple[str, ...]:
    """The hostile values for a parameter of ``schema``."""
    if schema.get("type") == "integer":
        return INTEGER + TEXT
    if schema.get("format") == "date-time":
        return TIME + TEXT
    return TEXT + INTEGER


def _kind_of_value(value: Any) -> tuple[Any, ...]:
    """The hostile values for a body leaf holding ``value``."""
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return JSON_ONLY + TEXT
    if isinstance(value, int | float):
        return JSON_ONLY + INTEGER
    return TIME + JSON_ONLY + TEXT


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    """Every value inside a JSON body with its path (containers included, the root excluded)."""
    found: list[tuple[tuple[Any, ...], Any]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found.append(((*path, key), item))
        found.extend(_leaves(item, (*path, key)))
    return found


def _replaced(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(body) if isinstance(body, dict) else list(body)
    copy[path[0]] = _replaced(copy[path[0]], path[1:], value)
    return copy


Slot = tuple[str, Any, tuple[Any, ...]]


def slots(case: Any) -> list[Slot]:
    """Where ``case`` can take a hostile value, with the values for each place: ``(where, name, values)``."""
    found: list[Slot] = []
    for parameter in case.operation.path_parameters:
        found.append(("path", parameter.name, _kind(parameter.definition.get("schema", {}))))
    for parameter in case.operation.query:
        values = Q if parameter.name == "q" else _kind(parameter.definition.get("schema", {}))
        found.append(("query", parameter.name, values))
    if case.media_type is not None and "json" in case.media_type:
        found.append(("raw", None, RAW_BODIES))
        if isinstance(case.body, dict | list):
            for path, value in _leaves(case.body):
                found.append(("body", path, _kind_of_value(value)))
                found.append(("literal", path, LITERALS))
    return found


def spoil(case: Any, where: str, name: Any, value: Any) -> Any:
    """A new case: ``case`` with ``value`` at ``where``/``name``, and no generation metadata (it is neither
    positive nor negative, only hostile)."""
    path_parameters = dict(case.path_parameters or {})
    query = dict(case.query or {})
    body = case.body
    if where == "path":
        path_parameters[name] = value
    elif where == "query":
        query[name] = value
    elif where == "raw":
        body = value
    elif where == "literal":
        body = json.dumps(_replaced(body, name, _SENTINEL)).replace(json.dumps(_SENTINEL), value).encode()
    else:
        body = _replaced(body, name, value)
    return case.operation.Case(
        method=case.method,
        path_parameters=path_parameters,
        headers=dict(case.headers or {}),
        query=query,
        body=body,
        media_type=case.media_type,
    )


@st.composite
def spoiled(draw: st.DrawFn, case: Any) -> Any:
    """``case`` as generated, or (one time in two) with one slot holding a hostile value."""
    if draw(st.booleans()):
        return case
    places = slots(case)
    if not places:
        return case
    where, name, values = draw(st.sampled_from(places))
    return spoil(case, where, name, draw(st.sampled_from(values)))
