"""HTTP side of transfers: response classification, and the general clients.

Every source turns a response into a :class:`Body` or a typed failure with :func:`classify`.
On asyncio, bulk GETs go through the engine's own client
(:class:`~one_async.transfer.http1.Http1Source`), which hands redirects and bodies of
unannounced length to :class:`AiohttpSource`.  :class:`HttpSource` wraps an
``httpx.AsyncClient`` (:func:`make_client`): on trio, for a caller's own client, and for
``httpx.Auth`` objects; on asyncio that client sends its requests through aiohttp
(``httpx_aiohttp``), whose per-request cost is a fraction of httpx's default pool.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import functools
import re
import ssl
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

import anyio.to_thread
import httpx

from one_async.defaults import DOWNLOAD_CHUNK_SIZE, HTTP_CONNECT_TIMEOUT, HTTP_READ_TIMEOUT
from one_async.exceptions import DownloadError
from one_async.transfer.records import Chunk, DownloadItem, redact_url

__all__ = [
    'AiohttpSource',
    'Body',
    'Chunk',
    'HttpSource',
    'Restart',
    'Retryable',
    'classify',
    'make_client',
]

_CONTENT_RANGE = re.compile(r'bytes (\d+)-(\d+)/(\d+|\*)')
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class Retryable(Exception):
    """A transient failure (connection, timeout, 5xx, 429): worth another attempt."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Restart(Exception):
    """The server cannot continue a partial download: start the file over."""


@dataclass(slots=True)
class Body:
    """An open response body.

    ``partial`` is True when the server continues from the requested offset (206).  ``length``
    is the number of bytes this body carries when announced, ``validator`` the ETag (strong) or
    Last-Modified that a later Range request can quote in ``If-Range``.  ``recycle``, when
    set, takes back a chunk its consumer is done with, to receive a later one into.
    """

    partial: bool
    length: int | None
    validator: str | None
    chunks: AsyncIterator[Chunk]
    recycle: Callable[[Chunk], None] | None = None


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _Headers(Protocol):
    def get(self, key: str, /) -> str | None: ...


def _validator(headers: _Headers) -> str | None:
    etag: str | None = headers.get('etag')
    if etag and not etag.startswith('W/'):
        return etag
    modified: str | None = headers.get('last-modified')
    return modified


def _on_asyncio() -> bool:
    """True when the running event loop is asyncio's (aiohttp needs it)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _aiohttp_transport(
    limits: httpx.Limits, verify: ssl.SSLContext | bool
) -> httpx.AsyncBaseTransport | None:
    """The aiohttp transport, when aiohttp and httpx_aiohttp are importable."""
    try:
        import aiohttp
        from httpx_aiohttp import AiohttpTransport
        from httpx_aiohttp.transport import map_aiohttp_exceptions
    except ImportError:  # pragma: no cover - both ship with the package's dependencies
        return None

    class _AnyChunkStream(httpx.AsyncByteStream):
        """Yields whatever aiohttp has buffered (up to its 256 KiB read buffer) per step."""

        def __init__(self, response: aiohttp.ClientResponse) -> None:
            self._response = response

        async def __aiter__(self) -> AsyncIterator[bytes]:
            with map_aiohttp_exceptions():
                async for chunk in self._response.content.iter_any():
                    yield chunk

        async def aclose(self) -> None:
            with map_aiohttp_exceptions():
                self._response.release()

    class _Transport(AiohttpTransport):
        """``AiohttpTransport`` reading in large pieces, with no per-host cap of its own."""

        def get_client(self) -> aiohttp.ClientSession:
            connector = aiohttp.TCPConnector(
                limit=self.limits.max_connections or 0,
                limit_per_host=0,
                ssl=self.ssl_context,
                keepalive_timeout=self.limits.keepalive_expiry or 15.0,
            )
            return aiohttp.ClientSession(connector=connector, auto_decompress=False)

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.userinfo:  # httpx already turned it into an Authorization header
                request.url = request.url.copy_with(userinfo=b'')
            response = await super().handle_async_request(request)
            raw = getattr(response.stream, '_aiohttp_response', None)
            if isinstance(raw, aiohttp.ClientResponse):
                response.stream = _AnyChunkStream(raw)
            return response

    return _Transport(limits=limits, verify=verify)


@functools.cache
def _basic(username: str, password: str) -> str:
    token = base64.b64encode(f'{username}:{password}'.encode()).decode()
    return f'Basic {token}'


def _split_credentials(url: str) -> tuple[str, str | None]:
    """``url`` without its user info, and the Basic Authorization header it carried."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    host = parts.hostname or ''
    netloc = f'{host}:{parts.port}' if parts.port else host
    bare = urlunsplit(parts._replace(netloc=netloc))
    return bare, _basic(unquote(parts.username), unquote(parts.password or ''))


@functools.lru_cache(maxsize=1)
def _default_ssl_context() -> ssl.SSLContext:
    """The verifying TLS context, built once per process (loading CA certificates is slow)."""
    return httpx.create_ssl_context()


async def load_tls_context() -> None:
    """Build the shared verifying TLS context in a worker thread, once per process.

    Reading the CA certificates takes 20-100 ms: done here, :func:`make_client` (which is
    synchronous) then finds the context ready instead of blocking the event loop.
    """
    if _default_ssl_context.cache_info().currsize == 0:
        await anyio.to_thread.run_sync(_default_ssl_context)


def make_client(
    *,
    max_connections: int,
    auth: httpx.Auth | tuple[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    verify: bool = True,
    timeout: httpx.Timeout | None = None,
) -> httpx.AsyncClient:
    """Create the pooled client of a transfer job (call it inside the job's event loop).

    Parameters
    ----------
    max_connections
        Size of the connection pool.
    auth
        ``(username, password)`` for HTTP Basic auth, or any ``httpx.Auth``.
    headers
        Extra headers sent with every request (e.g. an Alyx token for protected files).
    verify
        Verify TLS certificates (on by default).
    timeout
        Connect/read timeouts; ``defaults.HTTP_CONNECT_TIMEOUT``/``HTTP_READ_TIMEOUT`` if None.
    """
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    tls: ssl.SSLContext | bool = _default_ssl_context() if verify else False
    transport: httpx.AsyncBaseTransport | None = None
    if _on_asyncio():
        transport = _aiohttp_transport(limits, tls)
    if transport is None:
        transport = httpx.AsyncHTTPTransport(limits=limits, verify=tls, retries=0)
    timeout = timeout or httpx.Timeout(HTTP_READ_TIMEOUT, connect=HTTP_CONNECT_TIMEOUT, pool=None)
    all_headers = {'Accept-Encoding': 'identity', **(headers or {})}
    return httpx.AsyncClient(
        transport=transport,
        auth=auth,
        headers=all_headers,
        timeout=timeout,
        follow_redirects=True,
        trust_env=False,
    )


class HttpSource:
    """Opens GET responses for download items, classifying failures for the engine."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    def open(
        self, item: DownloadItem, offset: int, validator: str | None
    ) -> AbstractAsyncContextManager[Body]:
        """GET the item's URL from ``offset``: see :meth:`get`."""
        assert item.url is not None
        return self.get(item, item.url, offset, validator)

    @asynccontextmanager
    async def get(
        self, item: DownloadItem, url: str, offset: int, validator: str | None
    ) -> AsyncIterator[Body]:
        """GET ``url`` from ``offset`` (a Range request quoting ``validator`` when > 0).

        Raises
        ------
        Retryable
            Connection failure, timeout, 408/429/5xx (with the server's Retry-After).
        Restart
            The server will not continue at ``offset`` (416, another ETag, wrong range).
        DownloadError
            Any other status (401, 403, 404 ...): no retry helps.
        """
        headers: dict[str, str] = {}
        if offset:
            headers['Range'] = f'bytes={offset}-'
            if validator:
                headers['If-Range'] = validator
        request = self.client.build_request('GET', url, headers=headers)
        try:
            response = await self.client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise Retryable(_transport_failure(exc, self.client.timeout)) from exc
        try:
            yield self._body(item, response, offset, validator)
        finally:
            await response.aclose()

    def _body(
        self, item: DownloadItem, response: httpx.Response, offset: int, validator: str | None
    ) -> Body:
        return classify(
            item,
            response.status_code,
            response.headers,
            str(response.url),
            offset,
            validator,
            _chunks(response, self.client.timeout),
        )


def classify(
    item: DownloadItem,
    status: int,
    headers: _Headers,
    url: str,
    offset: int,
    validator: str | None,
    chunks: AsyncIterator[Chunk],
) -> Body:
    """Turn a response's status and headers into a :class:`Body` or the right exception."""
    length_header = headers.get('content-length')
    length = int(length_header) if length_header and length_header.isdigit() else None
    if status == 200:
        return Body(False, length, _validator(headers), chunks)
    if status == 206 and offset:
        match = _CONTENT_RANGE.fullmatch(headers.get('content-range') or '')
        same = validator is None or _validator(headers) in (None, validator)
        if not match or int(match.group(1)) != offset or not same:
            raise Restart(f'server answered 206 with another range or version for {offset}')
        return Body(True, length, validator, chunks)
    if status == 416 and offset:
        raise Restart('server refused the range')
    if status in _RETRY_STATUSES:
        raise Retryable(f'HTTP {status}', _retry_after(headers.get('retry-after')))
    hint = ' (check the data server username and password)' if status == 401 else ''
    raise DownloadError(
        f'HTTP {status} for {item.label} from {redact_url(url)}{hint}',
        value=item.dataset_id or item.source,
    )


class AiohttpSource:
    """Opens GET responses straight through one pooled ``aiohttp.ClientSession`` (asyncio).

    The general client behind :class:`~one_async.transfer.http1.Http1Source`: it serves what
    that one hands over (redirects, bodies of unannounced length, other schemes).  Redirects
    are followed by aiohttp, which drops credentials when leaving the origin.  Per request it
    costs a fraction of a request through ``httpx.AsyncClient`` (whose URL parsing, auth,
    redirect and cookie layers cost about 0.3 ms of CPU per file).
    """

    def __init__(
        self,
        *,
        max_connections: int,
        auth: tuple[str, str] | None,
        headers: Mapping[str, str] | None,
        verify: bool,
        connect_timeout: float = HTTP_CONNECT_TIMEOUT,
        read_timeout: float = HTTP_READ_TIMEOUT,
    ) -> None:
        import aiohttp  # here, on first use: importing it takes ~0.1 s

        self._aiohttp = aiohttp
        # True: aiohttp's own verifying context (built once, when aiohttp is imported).
        connector = aiohttp.TCPConnector(limit=max_connections, limit_per_host=0, ssl=verify)
        self._auth = _basic(*auth) if auth else None
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            headers={'Accept-Encoding': 'identity', **(headers or {})},
            timeout=self._timeout,
            read_bufsize=DOWNLOAD_CHUNK_SIZE,
            cookie_jar=aiohttp.DummyCookieJar(),  # file servers need none (nor does ONE keep any)
        )
        self._transient = (aiohttp.ClientError, asyncio.TimeoutError, OSError)

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self.session.close()

    def open(
        self, item: DownloadItem, offset: int, validator: str | None
    ) -> AbstractAsyncContextManager[Body]:
        """GET the item's URL from ``offset``: see :meth:`get`."""
        assert item.url is not None
        return self.get(item, item.url, offset, validator)

    @asynccontextmanager
    async def get(
        self, item: DownloadItem, url: str, offset: int, validator: str | None
    ) -> AsyncIterator[Body]:
        """GET ``url`` from ``offset``; raises as :meth:`HttpSource.get` does."""
        headers: dict[str, str] = {}
        if offset:
            headers['Range'] = f'bytes={offset}-'
            if validator:
                headers['If-Range'] = validator
        auth = self._auth
        if '@' in url.partition('//')[2].partition('/')[0]:
            url, auth = _split_credentials(url)
        if auth:
            headers['Authorization'] = auth  # aiohttp drops it on redirects to other origins
        try:
            response = await self.session.get(url, headers=headers)
        except self._aiohttp.ClientConnectorCertificateError as exc:  # no retry can succeed
            raise DownloadError(
                f'TLS certificate verification failed for {redact_url(url)}: '
                f'{exc.certificate_error}',
                value=item.dataset_id or item.source,
            ) from exc
        except self._transient as exc:
            raise Retryable(f'{type(exc).__name__}: {exc}') from exc
        try:
            chunks = self._chunks(response)
            yield classify(item, response.status, response.headers, url, offset, validator, chunks)
        finally:
            response.release()

    async def _chunks(self, response: Any) -> AsyncIterator[bytes]:
        # Each piece as it was received (``iter_any`` would join what is waiting into a copy).
        try:
            async for chunk, _ in response.content.iter_chunks():
                yield chunk
        except self._transient as exc:
            raise Retryable(f'{type(exc).__name__}: {exc}') from exc


async def _chunks(response: httpx.Response, limits: httpx.Timeout) -> AsyncIterator[bytes]:
    """The raw body, transport failures turned into :class:`Retryable` (``limits``: the
    client's timeouts, named in the message)."""
    try:
        async for chunk in response.aiter_raw():
            yield chunk
    except httpx.TransportError as exc:
        raise Retryable(_transport_failure(exc, limits)) from exc


def _transport_failure(exc: httpx.TransportError, timeout: httpx.Timeout) -> str:
    """What went wrong, saying which timeout ran out (httpx's own messages are empty)."""
    if isinstance(exc, httpx.ReadTimeout) and timeout.read is not None:
        return f'ReadTimeout: no data for {timeout.read:g} s'
    if isinstance(exc, httpx.ConnectTimeout) and timeout.connect is not None:
        return f'ConnectTimeout: no connection within {timeout.connect:g} s'
    return f'{type(exc).__name__}: {exc}'
