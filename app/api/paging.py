"""Harbor paging and list queries: ``page``/``page_size``, ``q`` and ``sort`` query arguments, ``X-Total-Count``
and ``Link`` headers."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from flask import request
from marshmallow import EXCLUDE, Schema, fields, validate

from app.api.bounds import QueryInteger
from app.services import query
from app.services.query import Key

MAX_PAGE_SIZE = 100
MAX_ID = query.INT32[1]  # ids (and pages) beyond a 32-bit integer are refused before the database sees them
MAX_TEXT_ARGUMENT = 255  # a name or a part of one in a query argument (the longest name column)


class PageArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    page = QueryInteger(load_default=1, validate=validate.Range(min=1, max=MAX_ID))
    page_size = QueryInteger(load_default=10, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


def q_field(keys: Mapping[str, Key]) -> fields.String:
    """The ``q`` argument of a list, its keys (and their kinds) in the OpenAPI description."""
    return fields.String(
        load_default=None,
        validate=validate.Length(max=query.MAX_Q_LENGTH),
        metadata={"description": f"{query.SYNTAX} Keys: {query.describe(keys)}."},
    )


def sort_field(keys: Mapping[str, Key]) -> fields.String:
    """The ``sort`` argument of a list, its sortable keys in the OpenAPI description."""
    return fields.String(
        load_default=None,
        validate=validate.Length(max=query.MAX_SORT_LENGTH),
        metadata={
            "description": "Comma-separated keys, each ascending or, with a leading -, descending "
            f"(sort=-creation_time,name); an unknown key is a 400. Keys: {query.describe(keys, sort=True)}."
        },
    )


def headers(total: int, page: int, page_size: int) -> dict[str, str]:
    """``X-Total-Count`` and, when there are neighbouring pages, a ``Link`` with prev/next."""
    links = []
    if page > 1:
        links.append(f'<{_url(page - 1, page_size)}>; rel="prev"')
    if page * page_size < total:
        links.append(f'<{_url(page + 1, page_size)}>; rel="next"')
    result = {"X-Total-Count": str(total)}
    if links:
        result["Link"] = " , ".join(links)
    return result


def _url(page: int, page_size: int) -> str:
    args = [(k, v) for k, v in request.args.items(multi=True) if k not in ("page", "page_size")]
    args += [("page", str(page)), ("page_size", str(page_size))]
    return f"{request.path}?{urlencode(args)}"
