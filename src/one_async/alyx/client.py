"""The async Alyx REST client.

:class:`AsyncAlyxClient` is the async counterpart of ONE-api's ``AlyxClient``: token
authentication (cached on disk per server and user, renewed once when the server rejects it),
``rest()`` calls validated against the server's own API description, paginated lists, GET
responses cached on disk with expiry, retries with backoff, and typed errors.  All requests go
through one pooled ``httpx.AsyncClient`` and only ever to the client's own server.

Secrets never leave the client: the password and token are kept as ``SecretStr``, and neither
``repr()``, log records nor error messages contain them.
"""

from __future__ import annotations

import getpass
import importlib.util
import json
import logging
import os
import re
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar, Token
from datetime import date, timedelta
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit
from uuid import UUID

import anyio
import anyio.to_thread
import httpx
from pydantic import SecretStr

from one_async import defaults
from one_async.alyx import json_fields
from one_async.alyx.auth import TokenStore
from one_async.alyx.cache_download import CacheDownload, download_cache_tables
from one_async.alyx.data_files import data_server_url, download_data_files
from one_async.alyx.models import CacheInfo
from one_async.alyx.pagination import PaginatedList, is_paginated, iter_records
from one_async.alyx.rest_cache import RestCache, json_default
from one_async.alyx.retry import RetryPolicy, send_with_retry
from one_async.alyx.schema import RestSchema
from one_async.alyx.urls import (
    endpoint_of,
    normalise_base_url,
    redact_url,
    resolve_url,
    same_origin,
    set_query,
)
from one_async.exceptions import (
    AlyxAuthError,
    AlyxConnectionError,
    AlyxEndpointError,
    AlyxError,
    AlyxHTTPError,
    InvalidArgument,
    OneWarning,
)

__all__ = ['AsyncAlyxClient', 'Expires']

_logger = logging.getLogger('one_async.alyx')

Expires = timedelta | bool | None
"""Cache lifetime of a GET response: None/False the client's default, True not reusable."""

Sink = Callable[[httpx.Response], Awaitable[None]]

_NO_CACHE: ContextVar[tuple[object, ...]] = ContextVar('one_async_alyx_no_cache', default=())
_ID_ACTIONS = ('read', 'update', 'partial_update', 'delete')
_DATA_ACTIONS = ('create', 'update', 'partial_update')
_INVALID_TOKEN = 'Invalid token.'
_NOT_PROVIDED = 'Authentication credentials were not provided.'


def _user_agent() -> str:
    try:
        return f'one_async/{metadata.version("one-async")}'
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return 'one_async'


def _filter_value(value: object) -> str:
    """A filter value as Alyx expects it: sequences comma-joined, the rest as text."""
    if isinstance(value, (list, tuple, set, frozenset)):
        return ','.join(_filter_value(v) for v in value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _detail(response: httpx.Response) -> Any:
    """The server's explanation of an error: ``detail`` of the JSON body, or the body."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return text[:1000] or None
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != 'status_code'}
        return body.get('detail') or body or None
    return body


def _is_invalid_token(response: httpx.Response) -> bool:
    return response.status_code in (401, 403) and _detail(response) == _INVALID_TOKEN


class _NoCache:
    """Turns the REST cache off for one client in the current task (and tasks it starts)."""

    def __init__(self, marker: object) -> None:
        self._marker = marker
        self._tokens: list[Token[tuple[object, ...]]] = []

    def __enter__(self) -> None:
        self._tokens.append(_NO_CACHE.set((*_NO_CACHE.get(), self._marker)))

    def __exit__(self, *exc: object) -> None:
        _NO_CACHE.reset(self._tokens.pop())

    async def __aenter__(self) -> None:
        self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        self.__exit__()


class AsyncAlyxClient:
    """Async client of an Alyx database's REST API.

    Parameters
    ----------
    base_url
        The server, e.g. ``'https://openalyx.internationalbrainlab.org'``.
    username, password
        Credentials; the password is exchanged for a token at the first request that needs
        one (or :meth:`authenticate`) and kept in memory to log in again if the token expires.
    token
        An Alyx token to use instead of a password.
    cache_dir
        Root of the REST cache (``<cache_dir>/.rest``) and default destination of the cache
        tables; None turns the REST cache off.
    token_dir
        Folder of the on-disk token cache (default ``~/.one_async``).
    cache_token
        Keep tokens on disk so later clients need no password.
    timeout
        Seconds, or an ``httpx.Timeout``; defaults from :mod:`one_async.defaults`.
    transport
        An ``httpx.AsyncBaseTransport`` (tests, custom networking).
    verify
        TLS verification: True (default), False, or an ``ssl.SSLContext``.
    http2
        Offer HTTP/2 (needs the ``h2`` package); None: when ``h2`` is installed.
    silent
        When false, log logins at INFO level.
    interactive
        Allow prompting on the terminal for a missing password (never otherwise).
    cache_rest
        Cache GET responses (when ``cache_dir`` is set).
    rest_expiry
        Default lifetime of a cached GET response.
    retry
        Retry policy of every request.
    page_concurrency
        Pages of one list fetched at once.
    http_data_server, http_data_server_login, http_data_server_password
        The HTTP file server of the database's datasets and its Basic credentials, for
        :meth:`download_file` and :meth:`rel_path2url`.
    """

    def __init__(
        self,
        base_url: str,
        username: str | None = None,
        password: str | None = None,
        *,
        token: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        token_dir: str | os.PathLike[str] | None = None,
        cache_token: bool = True,
        timeout: float | httpx.Timeout | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: bool | Any = True,
        http2: bool | None = None,
        silent: bool = True,
        interactive: bool = False,
        cache_rest: bool = True,
        rest_expiry: timedelta = defaults.REST_CACHE_EXPIRY,
        retry: RetryPolicy | None = None,
        page_concurrency: int = defaults.REST_PAGE_CONCURRENCY,
        http_data_server: str | None = None,
        http_data_server_login: str | None = None,
        http_data_server_password: str | None = None,
    ) -> None:
        self.base_url = normalise_base_url(base_url)
        self.http_data_server = http_data_server.rstrip('/') if http_data_server else None
        self._data_server_auth = (
            (http_data_server_login, SecretStr(http_data_server_password))
            if http_data_server_login and http_data_server_password is not None
            else None
        )
        self.user = username
        self._password = SecretStr(password) if password is not None else None
        self._token = SecretStr(token) if token is not None else None
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.silent = silent
        self.interactive = interactive
        self.cache_rest = cache_rest
        self.rest_expiry = rest_expiry
        self.retry = retry or RetryPolicy()
        if page_concurrency < 1:
            raise InvalidArgument(
                f'page_concurrency must be >= 1, got {page_concurrency!r}', value=page_concurrency
            )
        self.page_concurrency = page_concurrency
        self._tokens = (
            TokenStore(token_dir or Path.home() / defaults.TOKEN_DIR_NAME) if cache_token else None
        )
        self._rest_cache = RestCache(self.cache_dir / '.rest') if self.cache_dir else None
        if timeout is None:
            timeout = httpx.Timeout(
                defaults.HTTP_READ_TIMEOUT, connect=defaults.HTTP_CONNECT_TIMEOUT
            )
        if http2 is None:
            http2 = importlib.util.find_spec('h2') is not None
        self._http = httpx.AsyncClient(
            timeout=timeout,
            transport=transport,
            verify=verify,
            http2=http2,
            headers={'Accept': 'application/json', 'User-Agent': _user_agent()},
        )
        self._auth_lock = anyio.Lock()
        self._schema_lock = anyio.Lock()
        self._schema: RestSchema | None = None
        self._cache_marker = object()

    # --- life cycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> AsyncAlyxClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    def __repr__(self) -> str:
        return (
            f'{type(self).__name__}(base_url={self.base_url!r}, user={self.user!r}, '
            f'logged_in={self.is_logged_in})'
        )

    # --- authentication ------------------------------------------------------------------------

    @property
    def is_logged_in(self) -> bool:
        """True when the client holds a token."""
        return self._token is not None

    async def authenticate(
        self,
        username: str | None = None,
        password: str | None = None,
        *,
        token: str | None = None,
        force: bool = False,
        cache_token: bool = True,
    ) -> None:
        """Get a token: given, cached on disk, or exchanged for the password at ``/auth-token``.

        Parameters
        ----------
        username, password
            Credentials (default: those given to the client).  A password forces a new token.
        token
            Use this token instead of a password.
        force
            Ignore the token cached on disk.
        cache_token
            Keep the new token on disk.

        Raises
        ------
        AlyxAuthError
            When the server refuses the credentials, or there is no password to log in with.
        """
        async with self._auth_lock:
            if username is not None:
                self.user = username
            if token is not None:
                self._token = SecretStr(token)
                if cache_token and self._tokens is not None and self.user:
                    await self._tokens.set(self.base_url, self.user, token)
                return
            if password is not None:
                self._password = SecretStr(password)
                force = True
            await self._login(force=force, cache_token=cache_token)

    async def _login(self, *, force: bool, cache_token: bool = True) -> None:
        """Set ``self._token`` (call with the auth lock held)."""
        user = self.user
        if not user:
            raise AlyxAuthError(
                f'No Alyx username to log in to {self.base_url}: pass username and password, '
                'or a token',
                value=self.base_url,
            )
        if not force and self._tokens is not None:
            cached = await self._tokens.get(self.base_url, user)
            if cached:
                self._token = SecretStr(cached)
                return
        if self._password is None and self.interactive and not self.silent:
            secret = await anyio.to_thread.run_sync(
                getpass.getpass, f'Alyx password for "{user}" at {self.base_url}: '
            )
            self._password = SecretStr(secret) if secret else None
        if self._password is None:
            raise AlyxAuthError(
                f'No password nor valid cached token for user {user!r} at {self.base_url}',
                value=user,
            )
        token = await self._fetch_token(user, self._password)
        self._token = SecretStr(token)
        if cache_token and self._tokens is not None:
            await self._tokens.set(self.base_url, user, token)
        if not self.silent:
            _logger.info('Connected to %s as user "%s"', self.base_url, user)

    async def _fetch_token(self, username: str, password: SecretStr) -> str:
        """Exchange credentials for a token at ``/auth-token``."""
        url = self.base_url + '/auth-token'
        form = {'username': username, 'password': password.get_secret_value()}

        async def send() -> httpx.Response:
            return await self._http.post(url, data=form)

        # Logging in twice is harmless, so the exchange is retried like an idempotent call.
        response = await send_with_retry(
            send, method='POST', url=url, policy=self.retry, idempotent=True
        )
        if response.status_code in (400, 401, 403):
            raise AlyxAuthError(
                f'Alyx at {self.base_url} refused the credentials of user {username!r} '
                f'(status {response.status_code})',
                value=username,
            )
        if not response.is_success:
            raise self._http_error(response, 'POST')
        try:
            token = response.json()['token']
        except (ValueError, KeyError, TypeError):
            token = None
        if not isinstance(token, str) or not token:
            raise AlyxAuthError(
                f'{url} answered without a token (status {response.status_code})', value=url
            )
        return token

    async def _ensure_login(self) -> None:
        if self._token is not None or not self.user:
            return
        async with self._auth_lock:
            if self._token is None:
                await self._login(force=False)

    async def _relogin(self, rejected: SecretStr | None) -> None:
        """Replace a token the server rejected (once, whatever the number of callers)."""
        async with self._auth_lock:
            current = self._token.get_secret_value() if self._token else None
            stale = rejected.get_secret_value() if rejected else None
            if current is not None and current != stale:
                return  # another task already logged in again
            self._token = None
            if self.user and self._tokens is not None:
                await self._tokens.delete(self.base_url, self.user)
            _logger.info('Token rejected by %s; logging in again', self.base_url)
            if self._password is None and not (self.interactive and not self.silent):
                raise AlyxAuthError(
                    f'{self.base_url} rejected the token of user {self.user!r} and no password '
                    'is known to log in again',
                    value=self.user,
                )
            await self._login(force=True)

    async def logout(self) -> None:
        """Forget the token (in memory and on disk), the password, and the REST cache."""
        async with self._auth_lock:
            if self.user and self._tokens is not None:
                await self._tokens.delete(self.base_url, self.user)
            self._token = None
            self._password = None
        await self.clear_rest_cache()
        if not self.silent:
            _logger.info('%s logged out from %s', self.user, self.base_url)

    # --- transport -----------------------------------------------------------------------------

    def _headers(self, path: str) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self._token is not None:
            headers['Authorization'] = f'Token {self._token.get_secret_value()}'
        if path.startswith('/docs'):
            headers['Accept'] = 'application/coreapi+json'
        elif path.startswith('/api/schema'):
            headers['Accept'] = 'application/vnd.oai.openapi+json'
        return headers

    def _http_error(self, response: httpx.Response, method: str) -> AlyxHTTPError:
        detail = _detail(response)
        url = redact_url(str(response.request.url))
        message = f'{method} {url} answered {response.status_code} {response.reason_phrase}'
        if detail:
            message += f': {detail}'
        return AlyxHTTPError(message, status_code=response.status_code, url=url, detail=detail)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        data: Any = None,
        files: Any = None,
        sink: Sink | None = None,
    ) -> httpx.Response:
        """Send one request with authentication, retries and error handling.

        Returns the successful response (body read, or passed to ``sink``); raises
        :class:`AlyxHTTPError`, :class:`AlyxAuthError` or :class:`AlyxConnectionError`.
        """
        url = resolve_url(self.base_url, path)
        if params:
            url = set_query(url, {k: _filter_value(v) for k, v in params.items()})
        rel = urlsplit(url).path[len(urlsplit(self.base_url).path) :]
        content: bytes | None = None
        form: Any = None
        content_type: dict[str, str] = {}
        if files is not None:
            form = data
        elif data is not None:
            content = (
                data.encode()
                if isinstance(data, str)
                else data
                if isinstance(data, bytes)
                else json.dumps(data, default=json_default).encode()
            )
            content_type = {'Content-Type': 'application/json'}
        idempotent = method in ('GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS') and files is None
        follow = method in ('GET', 'HEAD')

        async def send() -> httpx.Response:
            request = self._http.build_request(
                method,
                url,
                headers={**self._headers(rel), **content_type},
                content=content,
                data=form,
                files=files,
            )
            _logger.debug('%s %s', method, redact_url(url))
            response = await self._http.send(request, stream=True, follow_redirects=follow)
            try:
                if sink is not None and response.is_success:
                    await sink(response)
                else:
                    await response.aread()
            finally:
                await response.aclose()
            return response

        await self._ensure_login()
        for renewed in (False, True):
            used = self._token
            response = await send_with_retry(
                send, method=method, url=url, policy=self.retry, idempotent=idempotent
            )
            if not _is_invalid_token(response) or not (used or self.user):
                break
            if renewed:
                raise AlyxAuthError(
                    f'{self.base_url} still rejects the token of user {self.user!r} after '
                    'logging in again',
                    value=self.user,
                )
            await self._relogin(used)
        if response.status_code in (401, 403) and _detail(response) == _NOT_PROVIDED:
            raise AlyxAuthError(
                f'{method} {redact_url(url)} needs authentication: give the client a username '
                'and password, or a token',
                value=redact_url(url),
            )
        if not response.is_success:
            raise self._http_error(response, method)
        return response

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            url = redact_url(str(response.request.url))
            raise AlyxError(f'{url} answered content that is not JSON', value=url) from exc

    # --- REST cache ----------------------------------------------------------------------------

    def no_cache(self) -> _NoCache:
        """Context (``with`` or ``async with``) in which this client neither reads nor writes
        the REST cache.  It applies to the current task and to tasks started inside it only.
        """
        return _NoCache(self._cache_marker)

    def _cache(self) -> RestCache | None:
        if not self.cache_rest or self._cache_marker in _NO_CACHE.get():
            return None
        return self._rest_cache

    async def clear_rest_cache(self) -> None:
        """Remove every cached REST response."""
        if self._rest_cache is not None:
            await self._rest_cache.clear()

    async def _get_json(
        self,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        expires: Expires = None,
        clobber: bool = False,
    ) -> Any:
        """GET ``path`` and decode it, through the REST cache."""
        url = resolve_url(self.base_url, path)
        if params:
            url = set_query(url, {k: _filter_value(v) for k, v in params.items()})
        cache = self._cache()
        cached = None
        if cache is not None and not clobber:
            cached = await cache.load(url)
            if cached is not None and cached.fresh:
                _logger.debug('REST cache hit for %s', redact_url(url))
                return cached.value
        try:
            response = await self._request('GET', url)
        except AlyxConnectionError:
            if cached is None:
                raise
            warnings.warn(
                f'Could not reach {self.base_url}; returning the cached response of '
                f'{redact_url(url)}',
                OneWarning,
                stacklevel=3,
            )
            return cached.value
        body = self._json(response)
        if cache is not None and response.status_code == 200 and body is not None:
            lifetime = (
                timedelta(0)
                if expires is True
                else expires
                if isinstance(expires, timedelta)
                else self.rest_expiry
            )
            await cache.store(url, body, lifetime)
        return body

    # --- raw verbs -----------------------------------------------------------------------------

    async def get(
        self,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        expires: Expires = None,
        clobber: bool = False,
        no_cache: bool = False,
    ) -> Any:
        """GET a REST path or URL of this server.

        A paginated list answers as ONE-api's ``AlyxClient.get`` does: a ``list`` when the first
        page holds every record, else a :class:`PaginatedList` fetching the other pages on
        demand.  Other answers are returned decoded.

        Parameters
        ----------
        path
            ``'sessions?subject=x'``, ``'/sessions/<eid>'`` or an absolute URL on the server.
        params
            Query parameters (sequences are comma-joined).
        expires
            Lifetime in the REST cache (None: the client's default; True: not reused).
        clobber
            Ignore a cached response (the new one replaces it).
        no_cache
            Same as ``clobber=True, expires=True``.
        """
        if no_cache:
            clobber, expires = True, True
        url = resolve_url(self.base_url, path)
        if params:
            url = set_query(url, {k: _filter_value(v) for k, v in params.items()})
        body = await self._get_json(url, expires=expires, clobber=clobber)
        if not is_paginated(body):
            return body
        if len(body['results']) >= body['count']:
            return body['results']
        query = dict(parse_qsl(urlsplit(url).query))

        async def fetch(page: str) -> Any:
            return await self._get_json(page, expires=expires, clobber=clobber)

        return PaginatedList.from_first_page(
            body,
            query_url=url,
            fetch=fetch,
            limit=int(query['limit']) if query.get('limit', '').isdigit() else None,
            offset=int(query['offset']) if query.get('offset', '').isdigit() else 0,
            concurrency=self.page_concurrency,
        )

    async def post(self, path: str, data: Any = None, files: Any = None) -> Any:
        """POST ``data`` (JSON, or form fields with ``files``); returns the decoded answer."""
        return self._json(await self._request('POST', path, data=data, files=files))

    async def put(self, path: str, data: Any = None, files: Any = None) -> Any:
        """PUT ``data``; returns the decoded answer."""
        return self._json(await self._request('PUT', path, data=data, files=files))

    async def patch(self, path: str, data: Any = None, files: Any = None) -> Any:
        """PATCH ``data``; returns the decoded answer."""
        return self._json(await self._request('PATCH', path, data=data, files=files))

    async def delete(self, path: str) -> Any:
        """DELETE ``path``; returns the decoded answer (None for 204)."""
        return self._json(await self._request('DELETE', path))

    async def _stream_to(self, url: str, sink: Sink) -> None:
        """GET ``url`` (on this server) streaming the body of a successful answer to ``sink``."""
        await self._request('GET', url, sink=sink)

    # --- API description -----------------------------------------------------------------------

    async def schema(self) -> RestSchema:
        """The server's API description: OpenAPI (``/api/schema``), else CoreAPI (``/docs``).

        Fetched once per client and kept in the REST cache for
        ``defaults.REST_SCHEMA_EXPIRY``.
        """
        if self._schema is not None:
            return self._schema
        async with self._schema_lock:
            if self._schema is None:
                self._schema = await self._fetch_schema()
        return self._schema

    async def _fetch_schema(self) -> RestSchema:
        expiry = defaults.REST_SCHEMA_EXPIRY
        try:
            document = await self._get_json(
                '/api/schema', params={'format': 'json'}, expires=expiry
            )
        except AlyxHTTPError as exc:
            if exc.status_code not in (404, 406):
                raise
            _logger.debug('No OpenAPI schema at %s; reading the CoreAPI document', self.base_url)
        else:
            if isinstance(document, Mapping) and isinstance(document.get('paths'), Mapping):
                return RestSchema.from_openapi(document)
        return RestSchema.from_document(await self._get_json('/docs', expires=expiry))

    async def list_endpoints(self) -> list[str]:
        """The REST endpoints the server offers."""
        return (await self.schema()).endpoints

    async def describe(self, endpoint: str, action: str | None = None) -> str:
        """Actions, URLs, filters and fields of ``endpoint`` as text (ONE's
        ``print_endpoint_info``, returned rather than printed)."""
        return (await self.schema()).describe(endpoint, action)

    # --- rest ----------------------------------------------------------------------------------

    async def rest(
        self,
        /,
        endpoint: str,
        action: str | None = None,
        id: str | UUID | None = None,
        url: str | None = None,
        data: Any = None,
        files: Any = None,
        no_cache: bool = False,
        expires: Expires = None,
        **filters: Any,
    ) -> Any:
        """Call a REST action, validated against the server's API description.

        Parameters
        ----------
        endpoint
            e.g. ``'sessions'``; ``'sessions?subject=x'`` implies the list action.
        action
            ``'list'``, ``'read'``, ``'create'``, ``'update'``, ``'partial_update'`` or
            ``'delete'`` (or any other action the server documents).
        id
            The record's id or lookup name (read, update, partial_update, delete); with
            ``list``, filters on the primary key as ONE-api does (``django='pk,<id>'``).
        url
            A record URL as Alyx gives it (e.g. a dataset's ``url``), in place of ``id``.
        data, files
            The record (create, update, partial_update); files are sent as multipart.
        no_cache
            Bypass the REST cache for this call (list, read).
        expires
            Lifetime in the REST cache (list, read).
        **filters
            Query filters the server documents for the action (None values are dropped,
            sequences comma-joined), including ``django='field__lookup,value,...'``.

        Returns
        -------
        list, PaginatedList, dict or None
            ``list`` answers as :meth:`get` (a list, or a :class:`PaginatedList` when the first
            page does not hold every record); other actions the decoded record (None on 204).

        Raises
        ------
        AlyxEndpointError
            Unknown endpoint, action or filter (the message lists the valid names).
        InvalidArgument
            A missing id or data.
        """
        name, rest_of_path = endpoint_of(endpoint)
        if rest_of_path.startswith('?'):
            filters = {**dict(parse_qsl(rest_of_path[1:])), **filters}
            action = 'list'
        elif rest_of_path.strip('/') and id is None and url is None:
            id = rest_of_path.strip('/')
        schema = await self.schema()
        available = schema.actions(name)
        if action is None:
            raise AlyxEndpointError(
                f'No action given for REST endpoint "{name}". Available actions are: '
                + ', '.join(available),
                value=name,
            )
        action = action.replace('-', '_')
        spec = schema.action(name, action)
        if url is not None:
            record_url = resolve_url(self.base_url, url)
            id = urlsplit(record_url).path.rstrip('/').rsplit('/', 1)[-1]
        key = None if id is None else str(id).rstrip('/').rsplit('/', 1)[-1]
        if action in _ID_ACTIONS and not key:
            raise InvalidArgument(
                f'REST action "{action}" of "{name}" needs an id: {spec.url}', value=action
            )
        if action in _DATA_ACTIONS and not data and files is None:
            raise InvalidArgument(
                f'REST action "{action}" of "{name}" needs data with the fields: '
                + ', '.join(f.name + (' (required)' if f.required else '') for f in spec.fields),
                value=data,
            )
        query = {k: v for k, v in filters.items() if v is not None}
        if action == 'list' and key:
            query['django'] = ','.join(filter(None, [query.get('django'), f'pk,{key}']))
        if query:
            schema.validate_filters(name, action, query)
        cache_args: dict[str, Any] = {
            'clobber': no_cache,
            'expires': True if no_cache else expires,
        }
        path = spec.url if key is None else re.sub(r'\{[^}]*\}', quote(key, safe=''), spec.url)
        method = spec.method
        if method == 'GET':
            return await self.get(path, params=query, **cache_args)
        if query:
            path = set_query(path, {k: _filter_value(v) for k, v in query.items()})
        if method == 'DELETE':
            return await self.delete(path)
        return self._json(await self._request(method, path, data=data, files=files))

    async def iter_rest(
        self,
        /,
        endpoint: str,
        *,
        limit: int = defaults.REST_PAGE_SIZE,
        no_cache: bool = False,
        expires: Expires = None,
        **filters: Any,
    ) -> AsyncIterator[Any]:
        """Every record of ``endpoint``'s list action, pages fetched concurrently.

        Unlike ``rest(..., 'list')`` nothing is kept: records are yielded in order as their
        pages arrive, ``page_concurrency`` pages at a time after the first, ``limit`` records
        per page (at most ``defaults.REST_MAX_PAGE_SIZE``).  Filters are validated as in
        :meth:`rest`.
        """
        page_size = min(int(limit), defaults.REST_MAX_PAGE_SIZE)
        schema = await self.schema()
        spec = schema.action(endpoint, 'list')
        query = {k: v for k, v in filters.items() if v is not None}
        schema.validate_filters(endpoint, 'list', query)
        url = resolve_url(self.base_url, spec.url)
        if query:
            url = set_query(url, {k: _filter_value(v) for k, v in query.items()})

        async def fetch(page: str) -> Any:
            return await self._get_json(
                page, clobber=no_cache, expires=True if no_cache else expires
            )

        async for record in iter_records(
            fetch, url, page_size=page_size, concurrency=self.page_concurrency
        ):
            yield record

    # --- JSON fields ---------------------------------------------------------------------------

    async def json_field_write(
        self, endpoint: str, uuid: str | UUID, field_name: str, data: Any
    ) -> Any:
        """Replace a JSON field with ``data`` (destructive); returns the field as written."""
        return await json_fields.json_field_write(self, endpoint, uuid, field_name, data)

    async def json_field_update(
        self,
        endpoint: str,
        uuid: str | UUID,
        field_name: str = 'json',
        data: Mapping[str, Any] | None = None,
    ) -> Any:
        """Merge ``data`` into a JSON field's dict (keys of ``data`` win); returns the field."""
        return await json_fields.json_field_update(self, endpoint, uuid, field_name, data)

    async def json_field_remove_key(
        self, endpoint: str, uuid: str | UUID, field_name: str = 'json', key: str | None = None
    ) -> Any:
        """Remove ``key`` from a JSON field's dict; returns the field's new content."""
        return await json_fields.json_field_remove_key(self, endpoint, uuid, field_name, key)

    async def json_field_delete(self, endpoint: str, uuid: str | UUID, field_name: str) -> Any:
        """Set a whole field to null; returns its new value (None)."""
        return await json_fields.json_field_delete(self, endpoint, uuid, field_name)

    # --- cache tables --------------------------------------------------------------------------

    async def cache_info(self, tag: str | None = None) -> CacheInfo:
        """What ``/cache/info/`` (or ``/cache/info/<tag>``) says of the server's cache tables."""
        path = 'cache/info/' if not tag else f'cache/info/{quote(tag, safe="")}'
        body = await self._get_json(path, expires=True, clobber=True)
        return CacheInfo.model_validate(body)

    async def download_cache_tables(
        self, destination: str | os.PathLike[str] | None = None, tag: str | None = None
    ) -> CacheDownload:
        """Download and unpack the server's cache tables into ``destination``.

        See :func:`one_async.alyx.cache_download.download_cache_tables`.
        """
        target = destination if destination is not None else self.cache_dir
        if target is None:
            raise InvalidArgument('No destination and no cache_dir for the cache tables')
        return await download_cache_tables(self, target, tag=tag)

    def rel_path2url(self, path: str | os.PathLike[str]) -> str:
        """The data server URL of relative ALF ``path`` (the server mirrors the local tree).

        Raises
        ------
        InvalidArgument
            No ``http_data_server`` is configured, or ``path`` is a URL.
        """
        return data_server_url(self.http_data_server, path)

    async def download_file(
        self,
        url: str | Sequence[str],
        *,
        target_dir: str | os.PathLike[str] | None = None,
        clobber: bool = False,
        silent: bool | None = None,
        return_md5: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Download one or several files of the data server, as ONE-api's ``download_file``.

        ``url`` is a file URL of ``http_data_server`` (as in a file record's ``data_url``) or a
        path relative to it.  Files go to ``target_dir`` (default: ``cache_dir``) under their
        names on the server, dataset UUID included, with the data server credentials; files
        already there are kept unless ``clobber``.  Returns the local ``Path`` or a list of
        them; with ``return_md5``, ``(path, md5)`` for one file and ``[paths, md5s]`` for
        several, as ONE-api does.

        Raises
        ------
        InvalidArgument
            A URL of another server, or no ``target_dir`` and no ``cache_dir``.
        DownloadError
            A file could not be downloaded (the others are placed).
        """
        target = target_dir if target_dir is not None else self.cache_dir
        if target is None:
            raise InvalidArgument('No target_dir and no cache_dir to download files to')
        auth = self._data_server_auth
        return await download_data_files(
            self.http_data_server,
            url,
            target,
            auth=(auth[0], auth[1].get_secret_value()) if auth else None,
            clobber=clobber,
            silent=self.silent if silent is None else silent,
            return_md5=return_md5,
            headers=headers,
        )

    def _is_local(self, url: str) -> bool:
        return same_origin(url, self.base_url)

    async def _download_external(self, url: str, sink: Sink) -> None:
        """GET a URL on another host (no token sent), streaming a successful body to ``sink``."""

        async def send() -> httpx.Response:
            async with self._http.stream('GET', url, follow_redirects=True) as response:
                if response.is_success:
                    await sink(response)
                else:
                    await response.aread()
            return response

        response = await send_with_retry(
            send, method='GET', url=url, policy=self.retry, idempotent=True
        )
        if not response.is_success:
            raise self._http_error(response, 'GET')
