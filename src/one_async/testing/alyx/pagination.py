"""Alyx's limit/offset pagination: ``{count, next, previous, results}`` with absolute links.

As Django REST framework's ``LimitOffsetPagination`` with Alyx's cap: ``limit`` defaults to 250
and is capped at 1000, invalid or non-positive values fall back to the default, and the
``next``/``previous`` links are the request URL with ``limit``/``offset`` replaced and the query
parameters sorted (``previous`` drops ``offset`` when it would be 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from ...defaults import REST_MAX_PAGE_SIZE, REST_PAGE_SIZE

__all__ = ['Page', 'page_bounds']

DEFAULT_LIMIT: Final = REST_PAGE_SIZE
MAX_LIMIT: Final = REST_MAX_PAGE_SIZE


def _positive_int(text: str | None, *, strict: bool, default: int, cap: int | None = None) -> int:
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        return default
    if value < 0 or (strict and value == 0):
        return default
    return min(value, cap) if cap is not None else value


def _replace_param(url: str, key: str, value: int | None) -> str:
    scheme, netloc, path, query, fragment = urlsplit(url)
    params = parse_qs(query, keep_blank_values=True)
    if value is None:
        params.pop(key, None)
    else:
        params[key] = [str(value)]
    return urlunsplit(
        (scheme, netloc, path, urlencode(sorted(params.items()), doseq=True), fragment)
    )


@dataclass(frozen=True)
class Page:
    """The slice of a list to return and the links around it."""

    offset: int
    limit: int
    count: int
    url: str

    @property
    def next(self) -> str | None:
        if self.offset + self.limit >= self.count:
            return None
        url = _replace_param(self.url, 'limit', self.limit)
        return _replace_param(url, 'offset', self.offset + self.limit)

    @property
    def previous(self) -> str | None:
        if self.offset <= 0:
            return None
        url = _replace_param(self.url, 'limit', self.limit)
        if self.offset - self.limit <= 0:
            return _replace_param(url, 'offset', None)
        return _replace_param(url, 'offset', self.offset - self.limit)


def page_bounds(url: str, limit: str | None, offset: str | None, count: int) -> Page:
    """The page a request for ``url`` with raw ``limit``/``offset`` parameters asks for."""
    return Page(
        offset=_positive_int(offset, strict=False, default=0),
        limit=_positive_int(limit, strict=True, default=DEFAULT_LIMIT, cap=MAX_LIMIT),
        count=count,
        url=url,
    )
