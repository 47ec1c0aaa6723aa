"""Harbor paging: ``page``/``page_size`` query arguments, ``X-Total-Count`` and ``Link`` headers."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import request
from marshmallow import EXCLUDE, Schema, fields, validate

MAX_PAGE_SIZE = 100


class PageArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    page_size = fields.Integer(load_default=10, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


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
