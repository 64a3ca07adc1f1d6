"""URL helpers of the Alyx client: normalise, resolve against the server, redact, set queries.

Requests only ever go to the client's own server: an absolute URL is accepted only when its
scheme, host and port are the server's, so a token is never sent elsewhere whatever a response
links to.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from one_async.exceptions import InvalidArgument

__all__ = [
    'cache_key',
    'endpoint_of',
    'normalise_base_url',
    'redact_url',
    'resolve_url',
    'same_origin',
    'server_key',
    'set_query',
]


def normalise_base_url(url: str) -> str:
    """Check an Alyx base URL and return it without trailing slash nor credentials.

    Raises
    ------
    InvalidArgument
        When ``url`` is not an absolute http(s) URL.
    """
    if not isinstance(url, str) or not url.strip():
        raise InvalidArgument(f'Alyx base URL must be a non-empty string, got {url!r}', value=url)
    parts = urlsplit(url.strip())
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        raise InvalidArgument(
            f'Alyx base URL must be an absolute http(s) URL, got {redact_url(url)!r}',
            value=redact_url(url),
        )
    netloc = parts.hostname if parts.port is None else f'{parts.hostname}:{parts.port}'
    if ':' in parts.hostname:  # IPv6 literal
        netloc = f'[{parts.hostname}]' + ('' if parts.port is None else f':{parts.port}')
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip('/'), '', ''))


def redact_url(url: str) -> str:
    """``url`` without any ``user:password@`` part, safe for messages and logs."""
    parts = urlsplit(url)
    if '@' not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit('@', 1)[1]))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {'http': 80, 'https': 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or '').lower(), port


def same_origin(url: str, base_url: str) -> bool:
    """True when ``url`` has the scheme, host and port of ``base_url``."""
    return _origin(url) == _origin(base_url)


def resolve_url(base_url: str, path_or_url: str) -> str:
    """The absolute URL of a REST path (``'sessions?x=1'``, ``'/sessions'``) or URL.

    Raises
    ------
    InvalidArgument
        When an absolute URL points to another server than ``base_url``.
    """
    if not isinstance(path_or_url, str):
        raise InvalidArgument(
            f'REST path must be a string, got {path_or_url!r}', value=path_or_url
        )
    if re.match(r'^[a-zA-Z][a-zA-Z0-9+.-]*://', path_or_url):
        if not same_origin(path_or_url, base_url):
            raise InvalidArgument(
                f'URL {redact_url(path_or_url)!r} is not on the Alyx server {base_url!r}; '
                'requests carry the Alyx token and only go to that server',
                value=redact_url(path_or_url),
            )
        return redact_url(path_or_url)
    base_path = urlsplit(base_url).path
    path = path_or_url if path_or_url.startswith('/') else '/' + path_or_url
    if base_path and (path == base_path or path.startswith(base_path + '/')):
        path = path[len(base_path) :]
    return base_url + path


def set_query(url: str, params: Mapping[str, object]) -> str:
    """``url`` with the query parameters ``params`` added or replaced (others kept, in order)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query += [(k, str(v)) for k, v in params.items()]
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote, safe=',')))


def cache_key(url: str) -> str:
    """A file name for the cached response of ``url``: independent of query parameter order."""
    parts = urlsplit(url)
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    canonical = urlunsplit(parts._replace(query=query, fragment=''))
    return hashlib.sha1(canonical.encode(), usedforsecurity=False).hexdigest()


def server_key(base_url: str) -> str:
    """A file-name-safe name for a server, e.g. ``'alyx.example.org_8000'``."""
    parts = urlsplit(base_url)
    name = (parts.hostname or '') + (f'_{parts.port}' if parts.port else '') + parts.path
    return re.sub(r'[^A-Za-z0-9._-]', '_', name).strip('_') or 'alyx'


def endpoint_of(path: str) -> tuple[str, str]:
    """Split ``'sessions/abc?x=1'`` into the endpoint name and the rest (``'/abc?x=1'``)."""
    path = path.lstrip('/')
    match = re.match(r'^([^?/]*)(.*)$', path)
    assert match is not None  # the pattern matches any string
    return match.group(1), match.group(2)
