"""Harbor's list query language, parsed without a database: ``q`` conditions, ``sort`` keys, typed values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, Integer

from app.services.errors import Invalid
from app.services.query import (
    AnyOf,
    Criterion,
    Exact,
    Fuzzy,
    Key,
    Kind,
    Order,
    Range,
    describe,
    parse_q,
    parse_sort,
    typed,
)

COLUMN = Column("x", Integer)


def test_each_pattern_parses_to_its_match() -> None:
    assert parse_q("name=nginx,repo=~web,id=[3~9],status={Success Error}") == [
        Criterion("name", Exact("nginx")),
        Criterion("repo", Fuzzy("web")),
        Criterion("id", Range("3", "9")),
        Criterion("status", AnyOf(("Success", "Error"))),
    ]


def test_empty_or_missing_q_and_sort_mean_nothing() -> None:
    assert parse_q(None) == parse_q("") == []
    assert parse_sort(None) == parse_sort("") == []


def test_range_ends_may_be_open_and_hold_harbor_times() -> None:
    assert parse_q("op_time=[2020-04-09 02:36:00~]") == [Criterion("op_time", Range("2020-04-09 02:36:00", None))]
    assert parse_q("id=[~5]") == [Criterion("id", Range(None, "5"))]
    assert parse_q("t=[2020-01-01T00:00:00Z~2020-02-01T00:00:00+02:00]") == [
        Criterion("t", Range("2020-01-01T00:00:00Z", "2020-02-01T00:00:00+02:00"))
    ]


def test_quoted_values_keep_commas_spaces_and_tildes() -> None:
    assert parse_q("""name="a,b",desc='x y',tag=~"v~1",k={"one two" 'three' four}""") == [
        Criterion("name", Exact("a,b")),
        Criterion("desc", Exact("x y")),
        Criterion("tag", Fuzzy("v~1")),
        Criterion("k", AnyOf(("one two", "three", "four"))),
    ]
    assert parse_q('id=["1"~"2"]') == [Criterion("id", Range("1", "2"))]


def test_q_is_unescaped_once_more_as_harbor_does_for_its_ui() -> None:
    # Harbor's UI encodes q twice; the server decodes once, Harbor once more.
    assert parse_q("name%3D~web%2Cid%3D3") == [Criterion("name", Fuzzy("web")), Criterion("id", Exact("3"))]
    # A plus sign stays one (an ISO 8601 offset), unlike Go's QueryUnescape.
    assert parse_q("t=[2020-01-01T00:00:00+02:00~]") == [Criterion("t", Range("2020-01-01T00:00:00+02:00", None))]


@pytest.mark.parametrize(
    ("q", "fragment"),
    [
        ("name", "expected key=value"),
        ("=x", "is not a key"),
        ("na me=x", "is not a key"),
        ("name=", "name: empty value"),
        ("name=x,", "is not a condition"),
        ("name=~", "name: empty value"),
        ("id=[3~", "id: a range is written"),
        ("id=[3]", "id: a range is written [min~max] with exactly one ~"),
        ("id=[1~2~3]", "exactly one ~"),
        ("id=[~]", "id: a range needs a min, a max or both"),
        ("s={a b", "s: an any-of list is written"),
        ("s={}", "s: an empty any-of list"),
        ("s=(a b)", "s: match-all lists"),
        ('name="abc', "unclosed quote"),
        ("name='abc\"", "unclosed quote"),
        ("k=" + "x" * 5000, "longer than 4096"),
        (",".join(f"k{i}=1" for i in range(33)), "more than 32 conditions"),
        ("s={" + " ".join("v" for _ in range(101)) + "}", "more than 100 values"),
    ],
)
def test_bad_q_syntax_is_invalid_naming_the_problem(q: str, fragment: str) -> None:
    with pytest.raises(Invalid) as raised:
        parse_q(q)
    assert str(raised.value).startswith("q: ") and fragment in str(raised.value), str(raised.value)


def test_sort_keys_are_comma_separated_and_minus_means_descending() -> None:
    assert parse_sort("-creation_time,name, -id") == [
        Order("creation_time", True),
        Order("name", False),
        Order("id", True),
    ]


@pytest.mark.parametrize("sort", ["name,", "-", "--name", "na me", "+name", ",".join(["k"] * 9), "k" * 513])
def test_bad_sort_is_invalid(sort: str) -> None:
    with pytest.raises(Invalid) as raised:
        parse_sort(sort)
    assert str(raised.value).startswith("sort: ")


def test_values_are_typed_by_the_kind_of_their_key() -> None:
    assert typed("id", Key(COLUMN, Kind.INTEGER), "-42") == -42
    assert typed("t", Key(COLUMN, Kind.TIME), "2020-04-09 02:36:00") == datetime(2020, 4, 9, 2, 36, tzinfo=UTC)
    assert typed("t", Key(COLUMN, Kind.TIME), "2020-04-09T04:36:00+02:00") == datetime(2020, 4, 9, 2, 36, tzinfo=UTC)
    assert typed("t", Key(COLUMN, Kind.TIME), "2020-04-09T02:36:00Z") == datetime(2020, 4, 9, 2, 36, tzinfo=UTC)
    assert typed("b", Key(COLUMN, Kind.BOOLEAN), "TRUE") is True
    assert typed("b", Key(COLUMN, Kind.BOOLEAN), "false") is False
    status = Key(COLUMN, Kind.WORD, {"Running": ("pending", "running"), "Success": ("success",)})
    assert typed("status", status, "running") == ("pending", "running")
    assert typed("name", Key(COLUMN, Kind.TEXT), "42") == "42"


@pytest.mark.parametrize(
    ("kind", "raw", "fragment"),
    [
        (Kind.INTEGER, "abc", "is not an integer"),
        (Kind.INTEGER, "1.5", "is not an integer"),
        (Kind.INTEGER, "1_000", "is not an integer"),
        (Kind.INTEGER, str(2**31), "is not an integer"),
        (Kind.INTEGER, "١٢", "is not an integer"),
        (Kind.TIME, "yesterday", "is not a time"),
        (Kind.TIME, "2020-13-01", "is not a time"),
        (Kind.BOOLEAN, "yes", "is not true or false"),
    ],
)
def test_a_value_of_the_wrong_type_is_invalid_naming_the_key(kind: Kind, raw: str, fragment: str) -> None:
    with pytest.raises(Invalid) as raised:
        typed("the_key", Key(COLUMN, kind), raw)
    assert str(raised.value).startswith("q: the_key: ") and fragment in str(raised.value)


def test_an_unknown_word_is_invalid_listing_the_words() -> None:
    with pytest.raises(Invalid, match="q: status: 'Done' is not one of Running, Success"):
        typed("status", Key(COLUMN, Kind.WORD, {"Running": ("running",), "Success": ("success",)}), "Done")


def test_describe_lists_keys_with_kinds_and_the_sortable_ones() -> None:
    keys = {
        "id": Key(COLUMN, Kind.INTEGER),
        "status": Key(COLUMN, Kind.WORD, {"Running": ("running",), "Error": ("error",)}),
        "kind": Key(COLUMN, Kind.TEXT, sortable=False),
    }
    assert describe(keys) == "id (integer), status (one of Running|Error), kind (text)"
    assert describe(keys, sort=True) == "id, status"
