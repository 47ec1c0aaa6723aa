"""Harbor's list query language: ``q=k1=v1,k2=~v2,k3=[min~max],k4={v1 v2}`` and ``sort=-k1,k2``.

``parse_q`` and ``parse_sort`` are pure: text in, criteria out, ``Invalid`` naming the problem. ``filtered`` and
``ordered`` apply them to a SQLAlchemy select through a resource's explicit allow-list of keys (``Key``: the
column and its kind), so an unknown key, a wrong operator or a value of the wrong type is a 400, never ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import unquote

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, and_, func, select

from app.extensions import db
from app.services.errors import Invalid

MAX_Q_LENGTH = 4096
MAX_CONDITIONS = 32
MAX_LIST_VALUES = 100
MAX_SORT_KEYS = 8
MAX_SORT_LENGTH = 512
# Integer keys read 32-bit columns (PostgreSQL's integer): a value beyond them is refused, not a database error.
INT32 = (-(2**31), 2**31 - 1)
# Times are taken between these (in UTC): beyond them a time overflows Python's datetime or means nothing here.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
INTEGER_RE = re.compile(r"[+-]?[0-9]+")
QUOTES = "\"'"

SYNTAX = (
    'Harbor query: comma-separated conditions, exact "k=v", fuzzy "k=~v" (substring, case-insensitive), '
    'range "k=[min~max]" (inclusive; either end may be empty), any-of "k={v1 v2 v3}"; values may be quoted '
    'with " or \'; times as "2020-04-09 02:36:00" (UTC) or ISO 8601. An unknown key, a wrong operator or a '
    "value of the wrong type is a 400."
)


# ---------------------------------------------------------------------------------------------- parsing (pure)


@dataclass(frozen=True)
class Exact:
    value: str


@dataclass(frozen=True)
class Fuzzy:
    value: str


@dataclass(frozen=True)
class Range:
    low: str | None
    high: str | None


@dataclass(frozen=True)
class AnyOf:
    values: tuple[str, ...]


Match = Exact | Fuzzy | Range | AnyOf


@dataclass(frozen=True)
class Criterion:
    key: str
    match: Match


@dataclass(frozen=True)
class Order:
    key: str
    descending: bool


def parse_q(text: str | None) -> list[Criterion]:
    """The conditions of a ``q`` argument (empty or None: none). Raises Invalid naming the bad part.

    As Harbor does, the text is URL-unescaped once more (its UI encodes ``q`` twice); ``+`` is kept.
    """
    if not text:
        return []
    if len(text) > MAX_Q_LENGTH:
        raise Invalid(f"q: longer than {MAX_Q_LENGTH} characters")
    text = unquote(text)
    # The second unescaping can make what the first refused: %2500 is a NUL here (PostgreSQL cannot compare it).
    if "\x00" in text:
        raise Invalid("q: contains a NUL character")
    parts = _split(text, ",", "q")
    if len(parts) > MAX_CONDITIONS:
        raise Invalid(f"q: more than {MAX_CONDITIONS} conditions")
    return [_condition(part) for part in parts]


def parse_sort(text: str | None) -> list[Order]:
    """The keys of a ``sort`` argument (``-creation_time,name``: a leading ``-`` is descending)."""
    if not text:
        return []
    if len(text) > MAX_SORT_LENGTH:
        raise Invalid(f"sort: longer than {MAX_SORT_LENGTH} characters")
    parts = [part.strip() for part in text.split(",")]
    if len(parts) > MAX_SORT_KEYS:
        raise Invalid(f"sort: more than {MAX_SORT_KEYS} keys")
    orders = []
    for part in parts:
        descending = part.startswith("-")
        key = part[1:].strip() if descending else part
        if not KEY_RE.fullmatch(key):
            raise Invalid(f"sort: {part!r} is not a key (expected key or -key, comma-separated)")
        orders.append(Order(key, descending))
    return orders


def _condition(part: str) -> Criterion:
    key, equals, value = part.partition("=")
    key, value = key.strip(), value.strip()
    if not equals:
        raise Invalid(f"q: {part.strip()!r} is not a condition: expected key=value (or =~, =[min~max], ={{a b}})")
    if not KEY_RE.fullmatch(key):
        raise Invalid(f"q: {key!r} is not a key")
    if not value:
        raise Invalid(f"q: {key}: empty value")
    return Criterion(key, _match(key, value))


def _match(key: str, value: str) -> Match:
    if value.startswith("~"):
        return Fuzzy(_atom(key, value[1:].strip(), required=True))
    if value.startswith("["):
        if not value.endswith("]") or len(value) < 2:
            raise Invalid(f"q: {key}: a range is written [min~max]")
        ends = _split(value[1:-1], "~", f"q: {key}")
        if len(ends) != 2:
            raise Invalid(f"q: {key}: a range is written [min~max] with exactly one ~")
        low, high = (_atom(key, end.strip(), required=False) or None for end in ends)
        if low is None and high is None:
            raise Invalid(f"q: {key}: a range needs a min, a max or both")
        return Range(low, high)
    if value.startswith("{"):
        if not value.endswith("}") or len(value) < 2:
            raise Invalid(f"q: {key}: an any-of list is written {{v1 v2 v3}}")
        items = [item for item in _split(value[1:-1], " ", f"q: {key}") if item]
        if not items:
            raise Invalid(f"q: {key}: an empty any-of list")
        if len(items) > MAX_LIST_VALUES:
            raise Invalid(f"q: {key}: more than {MAX_LIST_VALUES} values in the any-of list")
        return AnyOf(tuple(_atom(key, item, required=True) for item in items))
    if value.startswith("("):
        raise Invalid(f"q: {key}: match-all lists (k=(v1 v2)) are not supported; use an any-of list {{v1 v2}}")
    return Exact(_atom(key, value, required=True))


def _atom(key: str, text: str, *, required: bool) -> str:
    if text and text[0] in QUOTES:
        if len(text) < 2 or text[-1] != text[0]:
            raise Invalid(f"q: {key}: unclosed quote in {text!r}")
        text = text[1:-1]
    if required and not text:
        raise Invalid(f"q: {key}: empty value")
    return text


def _split(text: str, separator: str, where: str) -> list[str]:
    """``text`` cut at ``separator`` outside quotes (whitespace when ``separator`` is a space)."""
    parts: list[str] = []
    current: list[str] = []
    quote = ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in QUOTES:
            quote = char
        elif char == separator or (separator == " " and char.isspace()):
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    if quote:
        raise Invalid(f"{where}: unclosed quote {quote}")
    parts.append("".join(current))
    return parts


# ------------------------------------------------------------------------------------------------ typed values


class Kind(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    TIME = "time"
    BOOLEAN = "boolean"
    WORD = "word"  # one of a fixed set of words, each standing for stored values


OPERATORS: Mapping[Kind, frozenset[type]] = {
    Kind.TEXT: frozenset({Exact, Fuzzy, AnyOf}),
    Kind.INTEGER: frozenset({Exact, Range, AnyOf}),
    Kind.TIME: frozenset({Exact, Range, AnyOf}),
    Kind.BOOLEAN: frozenset({Exact}),
    Kind.WORD: frozenset({Exact, AnyOf}),
}
OPERATOR_NAMES = {Exact: "exact match (k=v)", Fuzzy: "fuzzy match (k=~v)", Range: "a range", AnyOf: "an any-of list"}


@dataclass(frozen=True)
class Key:
    """One key of a resource's allow-list: the SQL expression it reads and the kind of its values.

    ``words`` (Kind.WORD only) maps each word the API shows to the stored values it stands for; words match
    case-insensitively.
    """

    column: SQLColumnExpression[Any]
    kind: Kind
    words: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sortable: bool = True


def typed(name: str, key: Key, raw: str) -> Any:
    """``raw`` as a value of ``key``'s kind; raises Invalid naming the key (a WORD gives its stored values)."""
    if key.kind is Kind.INTEGER:
        if not INTEGER_RE.fullmatch(raw) or not INT32[0] <= int(raw) <= INT32[1]:
            raise Invalid(f"q: {name}: {raw!r} is not an integer")
        return int(raw)
    if key.kind is Kind.TIME:
        return _time(name, raw)
    if key.kind is Kind.BOOLEAN:
        if raw.lower() not in ("true", "false"):
            raise Invalid(f"q: {name}: {raw!r} is not true or false")
        return raw.lower() == "true"
    if key.kind is Kind.WORD:
        words = {word.lower(): stored for word, stored in key.words.items()}
        if raw.lower() not in words:
            raise Invalid(f"q: {name}: {raw!r} is not one of {', '.join(key.words)}")
        return words[raw.lower()]
    return raw


def _time(name: str, raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise Invalid(f"q: {name}: {raw!r} is not a time (2020-04-09 02:36:00 or ISO 8601)") from None
    out_of_range = Invalid(f"q: {name}: {raw!r} is not between 1970-01-01 and 9999-12-31 (UTC)")
    try:
        # Year 9999 at -14:00 (or year 1 at +14:00) is beyond datetime's range once in UTC.
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:
        raise out_of_range from None
    if not EARLIEST <= moment <= LATEST:
        raise out_of_range
    return moment


def describe(keys: Mapping[str, Key], *, sort: bool = False) -> str:
    """The keys, with their kinds (for ``q``) or the sortable ones (for ``sort``), for the OpenAPI document."""
    if sort:
        return ", ".join(name for name, key in keys.items() if key.sortable)
    parts = []
    for name, key in keys.items():
        kind = f"one of {'|'.join(key.words)}" if key.kind is Kind.WORD else str(key.kind)
        parts.append(f"{name} ({kind})")
    return ", ".join(parts)


# ----------------------------------------------------------------------------------------------- SQL application


def filtered(query: Select[Any], keys: Mapping[str, Key], q: str | None) -> Select[Any]:
    """``query`` narrowed by every condition of ``q`` (they all must hold)."""
    conditions = [_sql(criterion, _key(keys, criterion.key, "q")) for criterion in parse_q(q)]
    return query.where(and_(*conditions)) if conditions else query


def ordered(
    query: Select[Any], keys: Mapping[str, Key], sort: str | None, default: Sequence[SQLColumnExpression[Any]]
) -> Select[Any]:
    """``query`` ordered by ``sort``, then by ``default`` (which should end in a unique column: stable pages).

    NULLs sort as the largest value on every backend (PostgreSQL's rule; SQLite's differs by default).
    """
    clauses: list[SQLColumnExpression[Any]] = []
    for order in parse_sort(sort):
        key = _key(keys, order.key, "sort")
        if not key.sortable:
            raise Invalid(f"sort: {order.key} cannot be sorted on; sortable keys: {describe(keys, sort=True)}")
        clauses.append(key.column.desc().nulls_first() if order.descending else key.column.asc().nulls_last())
    return query.order_by(*clauses, *default)


def count(query: Select[Any]) -> int:
    """How many rows ``query`` selects (before paging)."""
    return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def paged(query: Select[Any], page: int, page_size: int) -> Select[Any]:
    return query.limit(page_size).offset((page - 1) * page_size)


def _key(keys: Mapping[str, Key], name: str, argument: str) -> Key:
    key = keys.get(name)
    if key is None:
        raise Invalid(f"{argument}: unknown key {name!r}; keys: {', '.join(keys)}")
    return key


def _sql(criterion: Criterion, key: Key) -> ColumnElement[bool]:
    name, match, column = criterion.key, criterion.match, key.column
    if type(match) not in OPERATORS[key.kind]:
        raise Invalid(f"q: {name}: {OPERATOR_NAMES[type(match)]} does not apply to a {key.kind} key")
    if isinstance(match, Fuzzy):
        return column.icontains(match.value, autoescape=True)
    if isinstance(match, Range):
        bounds = []
        if match.low is not None:
            bounds.append(column >= typed(name, key, match.low))
        if match.high is not None:
            bounds.append(column <= typed(name, key, match.high))
        return and_(*bounds)
    raw = match.values if isinstance(match, AnyOf) else (match.value,)
    values = [typed(name, key, value) for value in raw]
    if key.kind is Kind.WORD:
        return column.in_(sorted({stored for words in values for stored in words}))
    return column == values[0] if len(values) == 1 else column.in_(values)
