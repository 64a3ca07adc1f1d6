"""The engine's own HTTP/1.1 GETs on asyncio: bodies received straight into their buffers.

Bulk downloads spend their event-loop time in the HTTP client.  This client does only what a
file download needs: a GET on a kept-alive connection, a strictly parsed response head, and a
body of announced length read by the socket straight into the buffer that is then hashed and
written (``asyncio.BufferedProtocol``: no intermediate copies, no per-read allocations).  Per
file it costs about half of a request through aiohttp, and a large body costs the loop thread
little more than its ``recv_into`` calls.

Anything else (a redirect, a body without ``Content-Length``, a scheme other than http/https)
is handed to the general client (:class:`~one_async.transfer.http.AiohttpSource`), and the
origin is remembered so that its later requests go there directly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Final, cast
from urllib.parse import quote, urlsplit

import anyio

from one_async.defaults import (
    DOWNLOAD_CHUNK_SIZE,
    DOWNLOAD_SMALL_FILE,
    DOWNLOAD_WRITE_BATCH,
    HTTP_CONNECT_TIMEOUT,
    HTTP_MAX_HEAD,
    HTTP_READ_TIMEOUT,
    HTTP_UNASKED_READ,
)
from one_async.exceptions import DownloadError, InvalidArgument
from one_async.transfer.http import (
    AiohttpSource,
    Body,
    Retryable,
    _basic,
    _default_ssl_context,
    _split_credentials,
    classify,
)
from one_async.transfer.records import Chunk, DownloadItem

__all__ = ['Http1Source', 'parse_head']

_Origin = tuple[str, str, int]  # scheme, host, port
_DEFAULT_PORTS: Final = {'http': 80, 'https': 443}
_NO_BODY: Final = frozenset({204, 304})
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_HEAD_END: Final = b'\r\n\r\n'
# Characters left as they are in a request target: RFC 3986's unreserved, sub-delims, ':' '@'
# '/' '?' and '%' (URLs given already percent-encoded stay as they are).
_SAFE_TARGET: Final = "/?:@!$&'()*+,;=-._~%"
_UNSAFE: Final = re.compile(f'[^A-Za-z0-9{re.escape(_SAFE_TARGET)}]')
_PREFIX: Final = re.compile(r'[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*')  # scheme and authority
_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # a header name (RFC 9110)


@dataclass(frozen=True, slots=True)
class _Server:
    """What a URL's scheme and authority give a request: where to connect, the ``Host``
    header, and the Basic credentials its user info carried."""

    origin: _Origin
    host_header: str
    auth: str | None


def _server(prefix: str) -> _Server | None:
    """The :class:`_Server` of ``scheme://authority``; None when this client does not serve it
    (another scheme, no or a non-ASCII host, a bad port)."""
    parts = urlsplit(prefix)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
    except ValueError:
        return None
    host = (parts.hostname or '').lower()
    if scheme not in _DEFAULT_PORTS or not host or not host.isascii() or not port:
        return None
    netloc = parts.netloc.rpartition('@')[2]
    if _UNSAFE.search(netloc.replace('[', '').replace(']', '')):
        return None
    auth = _split_credentials(prefix)[1] if '@' in parts.netloc else None
    return _Server((scheme, host, port), netloc, auth)


class _Unsupported(Exception):
    """The response needs the general client (redirect, unknown body length)."""


class Head:
    """A parsed response head: status, lower-cased headers, and whether the connection stays
    open after the body."""

    __slots__ = ('headers', 'keep_alive', 'status')

    def __init__(self, status: int, headers: dict[str, str], keep_alive: bool) -> None:
        self.status = status
        self.headers = headers
        self.keep_alive = keep_alive

    def get(self, key: str, /) -> str | None:
        """A header's value (``key`` lower-case), None when absent."""
        return self.headers.get(key)


def parse_head(raw: bytes) -> Head:
    """Parse an HTTP/1.x response head (status line and header lines, without the blank line).

    Strict on what could change the body's framing: a malformed status line, a header line
    without a colon or folded over lines, or conflicting ``Content-Length`` values raise
    ``ValueError``.  Repeated headers are joined with ``', '``.
    """
    lines = raw.split(b'\r\n')
    version, _, rest = lines[0].partition(b' ')
    code = rest[:3]
    if version not in (b'HTTP/1.1', b'HTTP/1.0') or not code.isdigit() or rest[3:4] not in b' ':
        raise ValueError(f'malformed status line {lines[0][:100]!r}')
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b':')
        if not colon or not name or name != name.strip() or line[:1] in b' \t':
            raise ValueError(f'malformed header line {line[:100]!r}')
        key = name.decode('latin-1').lower()
        text = value.strip(b' \t').decode('latin-1')
        if key in headers:
            if key == 'content-length' and headers[key] != text:
                raise ValueError('conflicting Content-Length headers')
            if key != 'content-length':
                headers[key] = f'{headers[key]}, {text}'
            continue
        headers[key] = text
    connection = headers.get('connection', '').lower()
    keep_alive = version == b'HTTP/1.1' and 'close' not in connection
    return Head(int(code), headers, keep_alive)


class _Connection(asyncio.BufferedProtocol):
    """One kept-alive connection, read into whatever buffer its current reader gives.

    Between reads of a large body, and once ``DOWNLOAD_CHUNK_SIZE`` bytes nobody asked for are
    waiting, reading is paused: a slow consumer holds the sender back through TCP instead of
    filling memory.  Otherwise reading stays on (pausing and resuming cost system calls per
    response), so an idle connection closed by the server is noticed before its reuse.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, origin: _Origin, read_timeout: float
    ) -> None:
        self.loop = loop
        self.origin = origin
        self.read_timeout = read_timeout
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._scratch = bytearray(HTTP_UNASKED_READ)
        self._scratch_view = memoryview(self._scratch)
        self._spill = bytearray()  # bytes received with no target: the head, its excess
        self._target: memoryview | None = None
        self._filled = 0
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._want_head = False
        self._hold = False  # pause once the target is full: more of the body follows
        self._paused = False
        self._error: BaseException | None = None
        self._active = 0.0

    # --- protocol callbacks -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport: asyncio's, or another loop's that does not subclass it (uvloop).
        self.transport = cast('asyncio.Transport', transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        if self._target is not None:
            return self._target[self._filled :]
        return self._scratch_view

    def buffer_updated(self, nbytes: int) -> None:
        self._active = self.loop.time()
        if self._target is not None:
            self._filled += nbytes
            if self._filled == len(self._target):
                self._target = None
                if self._hold:
                    self._pause()
                self._wake()
            return
        self._spill += self._scratch_view[:nbytes]
        if self._want_head:
            if self._spill.find(_HEAD_END, max(0, len(self._spill) - nbytes - 3)) >= 0:
                self._want_head = False
                self._wake()  # its reader asks for the body before the next read
            elif len(self._spill) > HTTP_MAX_HEAD:
                self._fail(ValueError(f'response head longer than {HTTP_MAX_HEAD} bytes'))
        elif len(self._spill) >= DOWNLOAD_CHUNK_SIZE:
            self._pause()

    def eof_received(self) -> bool | None:
        self.closed = True
        self._wake()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if exc is not None and self._error is None:
            self._error = exc
        self._wake()

    # --- used by the client -------------------------------------------------------------------

    def send(self, request: bytes) -> None:
        assert self.transport is not None
        self._want_head = True
        self.transport.write(request)
        self._resume()

    async def read_head(self) -> tuple[bytes, bool]:
        """The raw head of the next response (the blank line excluded), and whether any byte of
        it arrived (False: the server closed the connection before answering)."""
        while True:
            end = self._spill.find(_HEAD_END)
            if end >= 0:
                # buffer_updated only checks the limit while the end is missing: a head whose
                # end arrives in the read that crosses the limit is refused here.
                if end > HTTP_MAX_HEAD:
                    raise ValueError(f'response head longer than {HTTP_MAX_HEAD} bytes')
                raw = bytes(self._spill[:end])
                del self._spill[: end + 4]
                return raw, True
            if self.closed or self._error is not None:
                if self._error is not None and not isinstance(self._error, OSError):
                    raise self._error
                return b'', bool(self._spill)
            self._want_head = True
            self._resume()
            await self._wait()

    async def read_into(self, view: memoryview, more: bool) -> int:
        """Fill ``view`` with body bytes; fewer only when the connection ended first.

        ``more``: the body goes on after ``view`` (reading pauses until the next call).
        """
        filled = min(len(self._spill), len(view))
        if filled:
            view[:filled] = self._spill[:filled]
            del self._spill[:filled]
        while filled < len(view) and not self.closed:
            self._target, self._filled, self._hold = view, filled, more
            self._resume()
            try:
                await self._wait()
            finally:
                filled, self._target = self._filled, None
        return filled

    def has_unread(self) -> bool:
        """True when bytes arrived that no response accounts for (the connection is unusable)."""
        return bool(self._spill)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    # --- internals ----------------------------------------------------------------------------

    def _pause(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.pause_reading()
            self._paused = True

    def _resume(self) -> None:
        if self._paused and self.transport is not None and not self.closed:
            self.transport.resume_reading()
            self._paused = False

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        self._error = exc
        self.close()
        self._wake()

    async def _wait(self) -> None:
        """Wait for :meth:`_wake`; raise ``TimeoutError`` after ``read_timeout`` seconds
        without a byte received."""
        waiter = self._waiter = self.loop.create_future()
        self._active = self.loop.time()
        self._timer = self.loop.call_at(self._active + self.read_timeout, self._check_idle)
        try:
            await waiter
        finally:
            self._timer.cancel()
            self._waiter = self._timer = None

    def _check_idle(self) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        idle = self.loop.time() - self._active
        if idle >= self.read_timeout:
            waiter.set_exception(TimeoutError(f'no data for {self.read_timeout:g} s'))
        else:
            self._timer = self.loop.call_at(self._active + self.read_timeout, self._check_idle)


class _BodyReader:
    """The body of a response of known length, in buffers received into directly: one of the
    whole body when it is small, ``DOWNLOAD_WRITE_BATCH`` pieces otherwise.

    A piece handed back through :meth:`recycle` is received into again: a large body then
    reuses one buffer instead of allocating (and zeroing) a fresh one per piece.
    """

    __slots__ = ('_connection', '_cut', '_length', '_remaining', '_spare', 'complete')

    def __init__(self, connection: _Connection, length: int) -> None:
        self._connection = connection
        self._length = length
        self._remaining = length
        self._cut: str | None = None
        self._spare: bytearray | None = None
        self.complete = length == 0

    def __aiter__(self) -> _BodyReader:
        return self

    async def __anext__(self) -> Chunk:
        if self._cut is not None:
            raise Retryable(self._cut)
        remaining = self._remaining
        if not remaining:
            raise StopAsyncIteration
        size = remaining if remaining <= DOWNLOAD_SMALL_FILE else DOWNLOAD_WRITE_BATCH
        size = min(size, remaining)
        buffer = self._spare
        if buffer is None or len(buffer) != size:
            buffer = bytearray(size)
        self._spare = None
        try:
            with memoryview(buffer) as view:
                got = await self._connection.read_into(view, size < remaining)
        except TimeoutError as exc:
            raise Retryable(f'read timeout: {exc}') from exc
        self._remaining -= got
        if got < size:
            received = self._length - self._remaining
            self._cut = f'connection closed after {received} of {self._length} bytes'
            if not got:
                raise Retryable(self._cut)
            return buffer[:got]  # what arrived is kept (a resume continues after it)
        if not self._remaining:
            self.complete = True
        return buffer

    def recycle(self, chunk: Chunk) -> None:
        """Take back a piece the consumer has written: the next one is received into it."""
        if isinstance(chunk, bytearray) and len(chunk) == DOWNLOAD_WRITE_BATCH:
            self._spare = chunk


class Http1Source:
    """Opens GETs on pooled HTTP/1.1 connections (asyncio); see the module docstring.

    Parameters
    ----------
    max_connections
        Most idle connections kept per origin (the engine's semaphores bound active ones).
    auth
        ``(username, password)`` sent as HTTP Basic auth.
    headers
        Extra request headers (e.g. an Alyx token).
    verify
        Verify TLS certificates.
    auth_origin
        When given (a URL), ``auth`` is sent only to that scheme, host and port (a session's
        data server), never to other servers its files may come from.
    limit
        Most requests in flight through this source at once, for all the jobs sharing it
        (a session's pool); None leaves the bound to each job.
    connect_timeout, read_timeout
        Seconds to connect, and without a byte received; None: ``HTTP_CONNECT_TIMEOUT`` and
        ``HTTP_READ_TIMEOUT``.
    """

    def __init__(
        self,
        *,
        max_connections: int,
        auth: tuple[str, str] | None,
        headers: Mapping[str, str] | None,
        verify: bool,
        auth_origin: str | None = None,
        limit: int | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
    ) -> None:
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._max_idle = max_connections
        self._auth = _basic(*auth) if auth else None
        self._auth_origin: _Origin | None = None
        if auth_origin is not None:
            match = _PREFIX.match(auth_origin)
            server = _server(match.group()) if match else None
            if server is None:
                raise InvalidArgument(f'invalid origin {auth_origin!r}', value=auth_origin)
            self._auth_origin = server.origin
        self._slots = asyncio.Semaphore(limit) if limit is not None else None
        extra = dict(headers or {})
        for name, value in extra.items():
            if not _TOKEN.fullmatch(name) or any(c in value for c in '\r\n\0'):
                raise InvalidArgument(f'invalid HTTP header {name!r}', value=name)
        self._extra = ''.join(f'{name}: {value}\r\n' for name, value in extra.items())
        self._verify = verify
        self._tls: ssl.SSLContext | None = None
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._general: dict[bool, AiohttpSource] = {}
        self._auth_pair = auth
        self._headers = headers
        self._delegated: set[_Origin] = set()
        self._servers: dict[str, _Server | None] = {}

    async def aclose(self) -> None:
        """Close every pooled connection (and the general client, if it was used)."""
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()
        general, self._general = list(self._general.values()), {}
        for source in general:
            await source.aclose()

    def open(
        self, item: DownloadItem, offset: int, validator: str | None
    ) -> AbstractAsyncContextManager[Body]:
        """GET the item's URL from ``offset``: see :meth:`get`."""
        assert item.url is not None
        return self.get(item, item.url, offset, validator)

    def get(
        self, item: DownloadItem, url: str, offset: int, validator: str | None
    ) -> AbstractAsyncContextManager[Body]:
        """GET ``url`` from ``offset``; raises as :meth:`.http.HttpSource.get` does."""
        if self._slots is None:
            return self._get(item, url, offset, validator)
        return self._get_in_slot(item, url, offset, validator)

    @asynccontextmanager
    async def _get_in_slot(
        self, item: DownloadItem, url: str, offset: int, validator: str | None
    ) -> AsyncIterator[Body]:
        assert self._slots is not None
        async with self._slots, self._get(item, url, offset, validator) as body:
            yield body

    @asynccontextmanager
    async def _get(
        self, item: DownloadItem, url: str, offset: int, validator: str | None
    ) -> AsyncIterator[Body]:
        match = _PREFIX.match(url)
        server = self._server(match.group()) if match else None
        if match is None or server is None or server.origin in self._delegated:
            general = self._general_source(self._auth_goes_to(server))
            async with general.get(item, url, offset, validator) as body:
                yield body
            return
        origin = server.origin
        request = self._request(server, url[match.end() :], offset, validator)
        connection, head = await self._exchange(origin, request)
        reader: _BodyReader | None = None
        try:
            try:
                reader = self._reader(connection, head)
            except _Unsupported:
                connection.close()
                self._delegated.add(origin)
                general = self._general_source(self._auth_goes_to(server))
                async with general.get(item, url, offset, validator) as body:
                    yield body
                return
            body = classify(item, head.status, head, url, offset, validator, reader)
            body.recycle = reader.recycle
            yield body
        finally:
            if reader is not None and reader.complete and head.keep_alive:
                self._release(connection)
            else:
                connection.close()

    # --- internals ----------------------------------------------------------------------------

    def _server(self, prefix: str) -> _Server | None:
        """The :class:`_Server` of ``prefix``, with the credentials it is to be sent."""
        try:
            return self._servers[prefix]
        except KeyError:
            pass
        server = _server(prefix)
        ours = self._auth_goes_to(server)
        if server is not None and ours and server.auth is None and self._auth is not None:
            server = dataclasses.replace(server, auth=self._auth)
        self._servers[prefix] = server
        return server

    def _auth_goes_to(self, server: _Server | None) -> bool:
        """Whether this source's credentials go to ``server`` (None: a URL this client does
        not parse, which only matches when the credentials are not tied to an origin)."""
        if self._auth_origin is None:
            return True
        return server is not None and server.origin == self._auth_origin

    def _general_source(self, with_auth: bool) -> AiohttpSource:
        """The general client, with this source's credentials or without them."""
        source = self._general.get(with_auth)
        if source is None:
            source = self._general[with_auth] = AiohttpSource(
                max_connections=self._max_idle,
                auth=self._auth_pair if with_auth else None,
                headers=self._headers,
                verify=self._verify,
                connect_timeout=self._connect_timeout or HTTP_CONNECT_TIMEOUT,
                read_timeout=self._read_timeout or HTTP_READ_TIMEOUT,
            )
        return source

    def _request(self, server: _Server, rest: str, offset: int, validator: str | None) -> bytes:
        """The request for ``rest``, the URL after its scheme and authority."""
        auth = server.auth
        target = rest.partition('#')[0]
        if target[:1] != '/':
            target = f'/{target}'
        if _UNSAFE.search(target):
            target = quote(target, safe=_SAFE_TARGET)
        lines = [
            f'GET {target} HTTP/1.1\r\nHost: {server.host_header}\r\n'
            'User-Agent: one_async\r\nAccept-Encoding: identity\r\n'
        ]
        if auth:
            lines.append(f'Authorization: {auth}\r\n')
        if offset:
            lines.append(f'Range: bytes={offset}-\r\n')
            if validator:
                lines.append(f'If-Range: {validator}\r\n')
        lines.append(self._extra)
        lines.append('\r\n')
        return ''.join(lines).encode('latin-1')

    async def _exchange(self, origin: _Origin, request: bytes) -> tuple[_Connection, Head]:
        """Send ``request`` and read the response head, on an idle connection if one is left
        (once more on a new one if the server had closed it meanwhile)."""
        while True:
            connection = self._take_idle(origin)
            reused = connection is not None
            if connection is None:
                connection = await self._connect(origin)
            try:
                connection.send(request)
                raw, answered = await connection.read_head()
                if not answered:
                    if reused:
                        connection.close()
                        continue
                    raise Retryable('server closed the connection without answering')
                head = parse_head(raw)
                while 100 <= head.status < 200:  # interim responses carry no body
                    raw, answered = await connection.read_head()
                    if not answered:
                        raise Retryable('server closed the connection after an interim response')
                    head = parse_head(raw)
            except BaseException as exc:
                connection.close()
                if isinstance(exc, (OSError, ValueError)):
                    raise Retryable(f'{type(exc).__name__}: {exc}') from exc
                raise
            return connection, head

    def _reader(self, connection: _Connection, head: Head) -> _BodyReader:
        status = head.status
        if status in _NO_BODY:
            return _BodyReader(connection, 0)
        if status in _REDIRECTS and 'location' in head.headers:
            raise _Unsupported('redirect')
        length = head.headers.get('content-length')
        known = length is not None and length.isascii() and length.isdigit()
        if 'transfer-encoding' in head.headers or not known:
            if status in (200, 206):
                raise _Unsupported('body without Content-Length')
            connection.closed = True  # an error body of unknown length: not read, not reused
            return _BodyReader(connection, 0)
        assert length is not None
        return _BodyReader(connection, int(length))

    def _take_idle(self, origin: _Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if not connection.closed and not connection.has_unread():
                return connection
            connection.close()
        return None

    def _release(self, connection: _Connection) -> None:
        if connection.closed or connection.has_unread():
            connection.close()
            return
        idle = self._idle.setdefault(connection.origin, [])
        idle.append(connection)
        if len(idle) > self._max_idle:
            idle.pop(0).close()

    async def _connect(self, origin: _Origin) -> _Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        tls: ssl.SSLContext | None = None
        if scheme == 'https':
            tls = await self._tls_context()
        connect_timeout = self._connect_timeout or HTTP_CONNECT_TIMEOUT
        read_timeout = self._read_timeout or HTTP_READ_TIMEOUT
        try:
            with anyio.fail_after(connect_timeout):
                _, connection = await loop.create_connection(
                    lambda: _Connection(loop, origin, read_timeout),
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                    ssl_handshake_timeout=connect_timeout if tls is not None else None,
                )
        except ssl.SSLCertVerificationError as exc:  # another attempt cannot succeed
            raise _certificate_error(host, port, exc) from exc
        except (OSError, TimeoutError) as exc:
            reason = f'cannot connect to {host}:{port}: {type(exc).__name__}: {exc}'
            raise Retryable(reason) from exc
        return connection

    async def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            if self._verify:
                self._tls = await anyio.to_thread.run_sync(_default_ssl_context)
            else:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                self._tls = context
        return self._tls


def _certificate_error(host: str, port: int, exc: ssl.SSLCertVerificationError) -> DownloadError:
    """The error of a server whose TLS certificate does not verify: not retried."""
    return DownloadError(
        f'TLS certificate verification failed for {host}:{port}: {exc}', value=f'{host}:{port}'
    )
