"""The engine's own HTTP/1.1 client (``Http1Source``) over real sockets.

Most tests talk to a raw asyncio TCP server scripted byte by byte, so that framing, connection
reuse, interim responses, malformed heads, cuts and stalls are exactly what the test says.
Downloads go through the public ``download_files``; ``parse_head`` is tested on its own.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import functools
import hashlib
import ipaddress
import random
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

import anyio
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from one_async import defaults
from one_async.exceptions import DownloadError, InvalidArgument
from one_async.transfer import DownloadItem, download_files, http1
from one_async.transfer.http1 import Http1Source, parse_head
from one_async.transfer.records import DownloadReport

from .conftest import parts_left

pytestmark = pytest.mark.anyio

# Http1Source is asyncio-only (asyncio.BufferedProtocol): on trio the engine downloads through
# httpx instead, so the download tests here run on asyncio's own loop and on uvloop (whose
# transports do not subclass asyncio's: the FastAPI guide found that out).
ASYNCIO_ONLY = pytest.mark.parametrize(
    'anyio_backend', ['asyncio', pytest.param(('asyncio', {'use_uvloop': True}), id='uvloop')]
)

MIB = 1024 * 1024
GUARD = 20.0  # seconds before a hung test fails (not a timing assertion)
DIRECT_AGENT = 'one_async'  # Http1Source's User-Agent; the aiohttp fallback sends its own


# --- a scripted raw HTTP server ------------------------------------------------------------------


@dataclass
class Request:
    """One request head as the server received it (header names lower-cased)."""

    line: str
    headers: dict[str, str]
    connection: int  # 1-based accept number
    index: int  # 0-based position on its connection

    @property
    def path(self) -> str:
        """The request target without its query."""
        return self.line.split(' ')[1].partition('?')[0]

    @property
    def direct(self) -> bool:
        """Sent by Http1Source (not by the aiohttp fallback)."""
        return self.headers.get('user-agent') == DIRECT_AGENT


@dataclass(eq=False)
class Conn:
    number: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    served: int = 0
    client_closed: bool = False

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def until_client_closes(self) -> None:
        """Read and drop whatever comes until the client closes (or resets) the connection."""
        try:
            while await self.reader.read(64 * 1024):
                pass
        except OSError:
            pass
        self.client_closed = True

    def reset(self) -> None:
        """Close with a TCP RST instead of a FIN."""
        sock = self.writer.get_extra_info('socket')
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        self.writer.transport.abort()


Script = Callable[[Request, Conn], Awaitable[bool]]
"""Answers one request on ``conn``; returns whether to keep serving the connection."""


class RawServer:
    """An asyncio TCP server on 127.0.0.1 answering each request head with its script."""

    def __init__(self, script: Script | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.script = script
        self.tls = tls
        self.url = ''
        self.requests: list[Request] = []
        self.conns: list[Conn] = []
        self.errors: list[BaseException] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None

    @property
    def accepts(self) -> int:
        return len(self.conns)

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._handle, '127.0.0.1', 0, ssl=self.tls)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f'{"https" if self.tls else "http"}://127.0.0.1:{port}'
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for conn in self.conns:  # their handlers see the end of input and return
            conn.writer.transport.abort()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=GUARD)
        await self._server.wait_closed()
        if self.errors and exc_info[0] is None:
            raise self.errors[0]

    async def all_closed_by_client(self) -> None:
        """Wait until the client has closed every connection it opened."""
        await eventually(lambda: all(c.client_closed for c in self.conns))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = Conn(len(self.conns) + 1, reader, writer)
        self.conns.append(conn)
        try:
            while True:
                try:
                    raw = await reader.readuntil(b'\r\n\r\n')
                except asyncio.IncompleteReadError:
                    conn.client_closed = True
                    return
                line, *fields = raw[:-4].decode('latin-1').split('\r\n')
                headers = {}
                for text in fields:
                    name, _, value = text.partition(':')
                    headers[name.strip().lower()] = value.strip()
                request = Request(line, headers, conn.number, conn.served)
                self.requests.append(request)
                conn.served += 1
                assert self.script is not None
                if not await self.script(request, conn):
                    return
        except OSError:  # the client went away mid-answer
            conn.client_closed = True
        except Exception as exc:  # a script bug: re-raised when the server exits
            self.errors.append(exc)
        finally:
            writer.close()
            self._tasks.discard(task)


def response(
    body: bytes = b'',
    status: int = 200,
    *headers: str,
    version: str = 'HTTP/1.1',
    length: bool = True,
) -> bytes:
    """A response: status line, ``Content-Length`` (when ``length``), ``headers``, body."""
    lines = [f'{version} {status} {HTTPStatus(status).phrase}']
    if length:
        lines.append(f'Content-Length: {len(body)}')
    lines.extend(headers)
    return ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1') + body


def serve_files(files: dict[str, bytes], *headers: str, version: str = 'HTTP/1.1') -> Script:
    """A script answering ``files`` by path (404 otherwise), keeping connections open."""

    async def script(request: Request, conn: Conn) -> bool:
        body = files.get(request.path)
        if body is None:
            await conn.send(response(b'no such file', 404))
        else:
            await conn.send(response(body, 200, *headers, version=version))
        return True

    return script


def make_files(sizes: list[int], seed: int = 0, prefix: str = '/f') -> dict[str, bytes]:
    rng = random.Random(seed)
    return {f'{prefix}/{i}.bin': rng.randbytes(size) for i, size in enumerate(sizes)}


def items_for(url: str, files: dict[str, bytes]) -> list[DownloadItem]:
    return [
        DownloadItem(url=f'{url}{path}', size=len(body), md5=hashlib.md5(body).hexdigest())
        for path, body in files.items()
    ]


def assert_placed(target: Path, files: dict[str, bytes]) -> None:
    assert not parts_left(target)
    for path, body in files.items():
        assert (target / path.lstrip('/')).read_bytes() == body, path


async def fetch(items: list[Any], target: Path, **options: Any) -> DownloadReport:
    options.setdefault('fsync', False)  # durability is not what these tests are about
    with anyio.fail_after(GUARD):
        return await download_files(items, target, **options)


async def eventually(predicate: Callable[[], bool]) -> None:
    """Poll ``predicate`` (a file's size, a socket's state: nothing to wait on) until true."""
    with anyio.fail_after(GUARD):
        while not predicate():  # noqa: ASYNC110 - no event to wait for
            await anyio.sleep(0.01)


def errors_of(report: DownloadReport) -> list[str]:
    return [str(r.error) for r in report.failed]


# --- parse_head ----------------------------------------------------------------------------------


def test_parse_head_names_values_and_repeats() -> None:
    head = parse_head(
        b'HTTP/1.1 206 Partial Content\r\n'
        b'Content-Length: 10\r\n'
        b'X-Multi: a\r\n'
        b'ETag:   "v1"  \r\n'
        b'x-multi: b\r\n'
        b'X-MULTI:c\r\n'
        b'Content-Length: 10\r\n'
        b'Empty:'
    )
    assert head.status == 206
    assert head.headers == {
        'content-length': '10',
        'x-multi': 'a, b, c',
        'etag': '"v1"',
        'empty': '',
    }
    assert head.get('etag') == '"v1"'
    assert head.get('ETag') is None  # callers ask in lower case
    assert head.keep_alive
    assert parse_head(b'HTTP/1.1 200').status == 200  # the reason phrase is optional
    assert parse_head(b'HTTP/1.1 404 ').headers == {}


@pytest.mark.parametrize(
    ('raw', 'keep_alive'),
    [
        (b'HTTP/1.1 200 OK', True),
        (b'HTTP/1.1 200 OK\r\nConnection: keep-alive', True),
        (b'HTTP/1.1 200 OK\r\nConnection: close', False),
        (b'HTTP/1.1 200 OK\r\nconnection: Keep-Alive, CLOSE', False),
        (b'HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nConnection: close', False),
        (b'HTTP/1.0 200 OK', False),
        (b'HTTP/1.0 200 OK\r\nConnection: keep-alive', False),  # no HTTP/1.0 keep-alive
    ],
)
def test_parse_head_keep_alive(raw: bytes, keep_alive: bool) -> None:
    assert parse_head(raw).keep_alive is keep_alive


@pytest.mark.parametrize(
    ('raw', 'message'),
    [
        (b'', 'malformed status line'),
        (b'HTTP/1.1 OK 200', 'malformed status line'),
        (b'HTTP/1.1 20 OK', 'malformed status line'),
        (b'HTTP/1.1 2000 OK', 'malformed status line'),
        (b'HTTP/1.1  200 OK', 'malformed status line'),
        (b'HTTP/2 200 OK', 'malformed status line'),
        (b'ICY 200 OK', 'malformed status line'),
        (b'http/1.1 200 OK', 'malformed status line'),
        (b'HTTP/1.1 200 OK\r\nContent-Length 3', 'malformed header line'),
        (b'HTTP/1.1 200 OK\r\n: no name', 'malformed header line'),
        (b'HTTP/1.1 200 OK\r\nContent-Length : 3', 'malformed header line'),
        (b'HTTP/1.1 200 OK\r\nX-A: b\r\n c', 'malformed header line'),  # obs-fold
        (b'HTTP/1.1 200 OK\r\nX-A: b\r\n\tc', 'malformed header line'),
        (b'HTTP/1.1 200 OK\r\n\r\nX: y', 'malformed header line'),  # an empty line inside
        (b'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4', 'conflicting'),
        (b'HTTP/1.1 200 OK\r\ncontent-length: 3\r\nCONTENT-LENGTH: 03', 'conflicting'),
    ],
)
def test_parse_head_rejects_what_could_change_framing(raw: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_head(raw)


# --- connections ---------------------------------------------------------------------------------


@ASYNCIO_ONLY
async def test_request_head_sent(tmp_path: Path) -> None:
    files = {'/f/0.bin': b'hello'}
    async with RawServer(serve_files(files)) as server:
        url = f'{server.url}/f/0.bin?x=1&y=a%20b'
        item = DownloadItem(url=url, rel_path='f/0.bin', size=5)
        report = await fetch([item], tmp_path, headers={'X-Token': 'abc'})
    assert report.ok, errors_of(report)
    (request,) = server.requests
    assert request.line == 'GET /f/0.bin?x=1&y=a%20b HTTP/1.1'
    port = url.split(':')[2].split('/')[0]
    assert request.headers == {
        'host': f'127.0.0.1:{port}',
        'user-agent': DIRECT_AGENT,
        'accept-encoding': 'identity',
        'x-token': 'abc',
    }
    assert (tmp_path / 'f/0.bin').read_bytes() == b'hello'


@ASYNCIO_ONLY
async def test_keep_alive_one_connection_for_a_sequence(tmp_path: Path) -> None:
    """Small, empty and large files one after the other share one connection: framing stays
    right across bodies received straight into their buffers and reads paused between them."""
    files = make_files([1000, 0, 5000, 3 * MIB + 7, 10, 1 * MIB + 1, 70_000, *[300] * 8])
    async with RawServer(serve_files(files, 'ETag: "e"')) as server:
        report = await fetch(items_for(server.url, files), tmp_path, max_concurrency=1)
        assert report.ok, errors_of(report)
        assert server.accepts == 1
        assert sorted(r.path for r in server.requests) == sorted(files)
        assert all(r.direct for r in server.requests)
        assert all(r.attempts == 1 for r in report.results)
        await server.all_closed_by_client()  # the pool is closed when the job ends
    assert_placed(tmp_path, files)


@ASYNCIO_ONLY
@pytest.mark.parametrize('variant', ['close', 'close-lingering', 'http1.0'])
async def test_connections_not_reused_when_the_response_says_so(
    tmp_path: Path, variant: str
) -> None:
    """``Connection: close`` and HTTP/1.0 responses: a new connection per file.  In the
    lingering variants the server keeps the socket open, so a reuse would be served."""
    files = make_files([100, 2000, 0, 40_000, 5])
    version = 'HTTP/1.0' if variant == 'http1.0' else 'HTTP/1.1'
    extra = () if variant == 'http1.0' else ('Connection: close',)

    async def script(request: Request, conn: Conn) -> bool:
        await conn.send(response(files[request.path], 200, *extra, version=version))
        return variant != 'close'

    async with RawServer(script) as server:
        report = await fetch(items_for(server.url, files), tmp_path, max_concurrency=1)
        assert report.ok, errors_of(report)
        assert server.accepts == len(files)
        assert all(c.served == 1 for c in server.conns)
        assert all(r.attempts == 1 for r in report.results)
        if variant != 'close':
            await server.all_closed_by_client()
    assert_placed(tmp_path, files)


@ASYNCIO_ONLY
@pytest.mark.parametrize('how', ['idle-fin', 'on-request-fin', 'on-request-rst'])
async def test_kept_alive_connection_closed_by_the_server(tmp_path: Path, how: str) -> None:
    """The server drops a kept-alive connection (idle timeout, or just as the next request
    arrives): that request goes again on a new connection, not counted as a failed attempt."""
    files = make_files([500, 600, 700, 800])

    async def script(request: Request, conn: Conn) -> bool:
        if conn.number == 1 and request.index == 1:  # the next request on the first one
            if how == 'on-request-rst':
                conn.reset()
            return False
        await conn.send(response(files[request.path]))
        return not (conn.number == 1 and how == 'idle-fin')

    async with RawServer(script) as server:
        report = await fetch(items_for(server.url, files), tmp_path, max_concurrency=1)
        assert report.ok, errors_of(report)
        assert [r.attempts for r in report.results] == [1] * len(files)
        assert server.accepts == 2
        assert sum(c.served for c in server.conns) == len(files) + (how != 'idle-fin')
    assert_placed(tmp_path, files)


# --- what goes to the aiohttp fallback -----------------------------------------------------------


@ASYNCIO_ONLY
@pytest.mark.parametrize('where', ['same-server', 'other-server'])
async def test_redirect_through_fallback_and_origin_remembered(tmp_path: Path, where: str) -> None:
    """Every file redirects: the first response seen hands its file and its origin to the
    aiohttp fallback, so every other file of the origin costs one request, not two."""
    files = make_files([1500, 2500, 3500, 4500])
    moved = [path.replace('/f/', '/moved/') for path in files]
    auth = ('user', 'secret-pw')
    expected_auth = 'Basic ' + base64.b64encode(b'user:secret-pw').decode()
    async with RawServer(serve_files(files)) as other:
        base = '' if where == 'same-server' else other.url  # relative or absolute Location

        async def script(request: Request, conn: Conn) -> bool:
            if request.path.startswith('/moved/'):
                location = f'Location: {base}{request.path.replace("/moved/", "/f/")}'
                await conn.send(response(b'', 302, location))
                return True
            return await serve_files(files)(request, conn)

        async with RawServer(script) as origin:
            items = [
                item.model_copy(update={'url': f'{origin.url}{path}'})
                for item, path in zip(items_for(origin.url, files), moved, strict=True)
            ]
            report = await fetch(items, tmp_path, max_concurrency=1, auth=auth)
    assert report.ok, errors_of(report)
    assert [r.attempts for r in report.results] == [1] * len(files)
    assert_placed(tmp_path, dict(zip(moved, files.values(), strict=True)))
    first, *rest = origin.requests
    assert first.direct
    assert first.path in moved
    assert not any(r.direct for r in rest)  # after the first redirect, only the fallback
    assert sorted(r.path for r in rest if r.path.startswith('/moved/')) == moved
    assert all(r.headers['authorization'] == expected_auth for r in origin.requests)
    if where == 'same-server':
        assert sorted(r.path for r in rest if r.path.startswith('/f/')) == list(files)
        assert len(rest) == 2 * len(files)
    else:
        assert len(rest) == len(files)
        assert sorted(r.path for r in other.requests) == list(files)
        assert not any(r.direct for r in other.requests)
        # aiohttp drops the credentials when a redirect leaves their origin.
        assert not any('authorization' in r.headers for r in other.requests)


@ASYNCIO_ONLY
@pytest.mark.parametrize('framing', ['chunked', 'until-close'])
async def test_body_without_content_length_through_fallback(tmp_path: Path, framing: str) -> None:
    """200s without Content-Length: the first one seen is fetched again by the fallback, with
    its origin; the others go there directly."""
    files = make_files([30_000, 1000, 2000, 0])

    async def script(request: Request, conn: Conn) -> bool:
        body = files[request.path]
        if framing == 'until-close':
            await conn.send(response(body, 200, 'Connection: close', length=False))
            return False
        await conn.send(response(b'', 200, 'Transfer-Encoding: chunked', length=False))
        for start in range(0, len(body), 7000):
            piece = body[start : start + 7000]
            await conn.send(b'%x\r\n%s\r\n' % (len(piece), piece))
        await conn.send(b'0\r\n\r\n')
        return True

    async with RawServer(script) as server:
        report = await fetch(items_for(server.url, files), tmp_path, max_concurrency=1)
    assert report.ok, errors_of(report)
    first, *rest = server.requests
    assert first.direct
    assert not any(r.direct for r in rest)
    assert sorted(r.path for r in rest) == list(files)
    assert [r.attempts for r in report.results] == [1] * len(files)
    assert_placed(tmp_path, files)


@ASYNCIO_ONLY
async def test_error_status_with_unknown_length_fails_without_delegating(tmp_path: Path) -> None:
    """A 404 with a chunked body is an error (its body unread, its connection dropped); the
    origin's other files still come through the direct client."""
    files = make_files([100, 200, 300])
    missing = '/f/missing.bin'

    async def script(request: Request, conn: Conn) -> bool:
        if request.path == missing:
            await conn.send(response(b'', 404, 'Transfer-Encoding: chunked', length=False))
            await conn.send(b'9\r\nnot found\r\n0\r\n\r\n')
            return True
        return await serve_files(files)(request, conn)

    async with RawServer(script) as server:
        items = [DownloadItem(url=f'{server.url}{missing}'), *items_for(server.url, files)]
        report = await fetch(items, tmp_path, max_concurrency=1)
    assert [r.status for r in report.results] == [
        'failed',
        'downloaded',
        'downloaded',
        'downloaded',
    ]
    error = report.results[0].error
    assert isinstance(error, DownloadError)
    assert 'HTTP 404' in str(error)
    assert report.results[0].attempts == 1
    assert all(r.direct for r in server.requests)
    assert server.accepts == 2  # the connection of the unread body is not reused
    assert_placed(tmp_path, files)


# --- interim responses, cuts, malformed heads, stalls --------------------------------------------


@ASYNCIO_ONLY
@pytest.mark.parametrize('delivery', ['together', 'apart'])
async def test_interim_responses_before_the_final_one(tmp_path: Path, delivery: str) -> None:
    files = make_files([4000, 5000])
    interim = b'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n'

    async def script(request: Request, conn: Conn) -> bool:
        final = response(files[request.path])
        if delivery == 'together':
            await conn.send(interim + final)
        else:
            for piece in (interim[:20], interim[20:], final[:30], final[30:]):
                await conn.send(piece)
                await asyncio.sleep(0.02)
        return True

    async with RawServer(script) as server:
        report = await fetch(items_for(server.url, files), tmp_path, max_concurrency=1)
        assert report.ok, errors_of(report)
        assert [r.attempts for r in report.results] == [1, 1]
        assert server.accepts == 1  # framing after the interim heads stayed right
    assert_placed(tmp_path, files)


@ASYNCIO_ONLY
@pytest.mark.parametrize(
    ('size', 'cut', 'server'),
    [
        (200_000, 70_001, 'ranges'),
        (3 * MIB + 5, 1 * MIB + 200_003, 'ranges'),  # a streamed file: part of it on disk
        (3 * MIB + 5, 2 * MIB, 'ranges'),  # cut at a write-batch boundary
        (200_000, 70_001, 'ignores-range'),
        (200_000, 0, 'ranges'),  # cut right after the head
    ],
)
async def test_body_cut_midway_resumes_with_a_range(
    tmp_path: Path, size: int, cut: int, server: str
) -> None:
    body = random.Random(size + cut).randbytes(size)

    async def script(request: Request, conn: Conn) -> bool:
        whole = response(body, 200, 'ETag: "v1"')
        if conn.number == 1:
            await conn.send(whole[: len(whole) - size + cut])
            return False
        start = int(request.headers.get('range', 'bytes=0-').removeprefix('bytes=')[:-1])
        if server == 'ignores-range' or not start:
            await conn.send(whole)
        else:
            content_range = f'Content-Range: bytes {start}-{size - 1}/{size}'
            await conn.send(response(body[start:], 206, content_range, 'ETag: "v1"'))
        return True

    async with RawServer(script) as raw:
        item = DownloadItem(url=f'{raw.url}/f/0.bin', size=size, md5=hashlib.md5(body).hexdigest())
        report = await fetch([item], tmp_path)
    assert report.ok, errors_of(report)
    assert report.results[0].attempts == 2
    first, second = raw.requests
    assert 'range' not in first.headers
    if cut:
        assert second.headers['range'] == f'bytes={cut}-'
        assert second.headers['if-range'] == '"v1"'
    else:
        assert 'range' not in second.headers
    assert_placed(tmp_path, {'/f/0.bin': body})


def padded_head(length: int) -> bytes:
    """A 200 response for b'abc' whose head (without the blank line) is ``length`` bytes."""
    start, end = b'HTTP/1.1 200 OK\r\nX-Pad: ', b'\r\nContent-Length: 3'
    head = start + b'a' * (length - len(start) - len(end)) + end
    assert len(head) == length
    return head + b'\r\n\r\nabc'


MALFORMED = {
    'status-line': (b'HTTP/1.1 OK 200\r\nContent-Length: 3\r\n\r\nabc', 'malformed status line'),
    'not-http': (b'SSH-2.0-OpenSSH_9.6\r\n\r\n', 'malformed status line'),
    'no-colon': (b'HTTP/1.1 200 OK\r\nContent-Length 3\r\n\r\nabc', 'malformed header line'),
    'obs-fold': (
        b'HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 3\r\n\r\nabc',
        'malformed header line',
    ),
    'conflicting-length': (
        b'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc',
        'conflicting Content-Length',
    ),
    'head-too-long': (
        padded_head(3 * defaults.HTTP_MAX_HEAD),
        f'longer than {defaults.HTTP_MAX_HEAD} bytes',
    ),
    'head-just-too-long': (
        padded_head(defaults.HTTP_MAX_HEAD + 1),
        f'longer than {defaults.HTTP_MAX_HEAD} bytes',
    ),
}


@ASYNCIO_ONLY
@pytest.mark.parametrize('case', list(MALFORMED))
async def test_malformed_heads_fail_after_retries(tmp_path: Path, case: str) -> None:
    raw, message = MALFORMED[case]

    async def script(request: Request, conn: Conn) -> bool:
        await conn.send(raw)
        await conn.until_client_closes()
        return False

    async with RawServer(script) as server:
        item = DownloadItem(
            url=f'{server.url}/f/0.bin', size=3, md5=hashlib.md5(b'abc').hexdigest()
        )
        report = await fetch([item], tmp_path, retry_attempts=2)
        (result,) = report.results
        assert result.status == 'failed'
        assert isinstance(result.error, DownloadError)
        assert 'failed after 2 attempts' in str(result.error)
        assert message in str(result.error)
        assert result.attempts == 2
        assert server.accepts == 2
        await server.all_closed_by_client()
    assert not parts_left(tmp_path)
    assert not (tmp_path / 'f/0.bin').exists()


@ASYNCIO_ONLY
async def test_head_of_the_largest_accepted_size(tmp_path: Path) -> None:
    raw = padded_head(defaults.HTTP_MAX_HEAD)

    async def script(request: Request, conn: Conn) -> bool:
        await conn.send(raw)
        return True

    async with RawServer(script) as server:
        item = DownloadItem(url=f'{server.url}/f/0.bin', size=3)
        report = await fetch([item], tmp_path)
    assert report.ok, errors_of(report)
    assert (tmp_path / 'f/0.bin').read_bytes() == b'abc'


@ASYNCIO_ONLY
async def test_head_cut_short_is_retried(tmp_path: Path) -> None:
    async def script(request: Request, conn: Conn) -> bool:
        if conn.number == 1:
            await conn.send(b'HTTP/1.1 200 OK\r\nContent-Le')
            return False
        await conn.send(response(b'abc'))
        return True

    async with RawServer(script) as server:
        item = DownloadItem(url=f'{server.url}/f/0.bin', size=3)
        report = await fetch([item], tmp_path)
    assert report.ok, errors_of(report)
    assert report.results[0].attempts == 2
    assert (tmp_path / 'f/0.bin').read_bytes() == b'abc'


@ASYNCIO_ONLY
@pytest.mark.parametrize('stall', ['before-head', 'after-head', 'mid-body'])
@pytest.mark.parametrize('stalls', [1, 2])
async def test_read_timeout(tmp_path: Path, stall: str, stalls: int) -> None:
    """No byte for ``read_timeout`` seconds: the attempt fails and its connection is closed; a
    later attempt succeeds, or the item fails once the attempts are spent."""
    body = random.Random(1).randbytes(50_000)

    async def script(request: Request, conn: Conn) -> bool:
        whole = response(body)
        if conn.number > stalls:
            await conn.send(whole)
            return True
        if stall != 'before-head':
            head_end = whole.index(b'\r\n\r\n') + 4
            await conn.send(whole[: head_end + (20_000 if stall == 'mid-body' else 0)])
        await conn.until_client_closes()
        return False

    async with RawServer(script) as server:
        item = DownloadItem(url=f'{server.url}/f/0.bin', size=len(body))
        report = await fetch([item], tmp_path, retry_attempts=2, read_timeout=0.3)
        (result,) = report.results
        assert result.attempts == 2
        if stalls == 1:
            assert result.ok, errors_of(report)
            assert (tmp_path / 'f/0.bin').read_bytes() == body
        else:
            assert isinstance(result.error, DownloadError)
            assert 'no data for 0.3 s' in str(result.error)
            assert not (tmp_path / 'f/0.bin').exists()
        assert all(c.client_closed for c in server.conns[:stalls])
    assert not parts_left(tmp_path)


@ASYNCIO_ONLY
async def test_read_timeout_reaches_the_fallback(tmp_path: Path) -> None:
    """After a redirect the general client waits ``read_timeout`` too, not the 60 s default
    (the test's guard would fail first)."""
    body = b'x' * 1000

    async def script(request: Request, conn: Conn) -> bool:
        if request.path == '/f/0.bin':
            await conn.send(response(b'', 302, 'Location: /g/0.bin'))
            return True
        await conn.until_client_closes()  # answers nothing
        return False

    async with RawServer(script) as server:
        item = DownloadItem(url=f'{server.url}/f/0.bin', size=len(body))
        report = await fetch([item], tmp_path, retry_attempts=2, read_timeout=0.3)
    (result,) = report.results
    assert isinstance(result.error, DownloadError)
    assert result.attempts == 2
    assert [r.path for r in server.requests].count('/g/0.bin') == 2
    assert not parts_left(tmp_path)


# --- TLS -----------------------------------------------------------------------------------------


@dataclass
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A verifying context trusting only this certificate."""
        return ssl.create_default_context(cafile=str(self.cert))


def self_signed(folder: Path, names: list[str]) -> Certificate:
    """A self-signed certificate (and its key) for ``names`` (IP addresses or DNS names)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    alternatives: list[x509.GeneralName] = []
    for name in names:
        try:
            alternatives.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alternatives.append(x509.DNSName(name))
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    paths = Certificate(folder / 'cert.pem', folder / 'key.pem')
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@pytest.fixture(scope='module')
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Certificate]:
    root = tmp_path_factory.mktemp('tls')
    return {
        'right': self_signed(root / 'right', ['127.0.0.1', 'localhost']),
        'wrong': self_signed(root / 'wrong', ['example.org']),
    }


@ASYNCIO_ONLY
async def test_https_verification(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, certificates: dict[str, Certificate]
) -> None:
    files = make_files([1000, 2 * MIB, 3000])
    right, wrong = certificates['right'], certificates['wrong']
    async with RawServer(serve_files(files), tls=right.server_context()) as server:
        items = items_for(server.url, files)
        # Verification on (the default): a self-signed certificate is refused.
        report = await fetch(items, tmp_path / 'verified', retry_attempts=2)
        assert len(report.failed) == len(files)
        for result in report.failed:
            assert isinstance(result.error, DownloadError)
            assert 'CERTIFICATE_VERIFY_FAILED' in str(result.error)
            assert result.attempts == 1  # another attempt cannot succeed: none is made
        assert not server.requests
        assert not parts_left(tmp_path / 'verified')
        # Off: the same server serves every file, on one kept-alive TLS connection.
        report = await fetch(items, tmp_path / 'unverified', verify=False, max_concurrency=1)
        assert report.ok, errors_of(report)
        assert server.accepts == 1
        assert all(r.direct for r in server.requests)
        assert_placed(tmp_path / 'unverified', files)
        # Trusting the certificate: verified, host name included.
        monkeypatch.setattr(http1, '_default_ssl_context', right.client_context)
        report = await fetch(items, tmp_path / 'trusted')
        assert report.ok, errors_of(report)
        assert_placed(tmp_path / 'trusted', files)
    async with RawServer(serve_files(files), tls=wrong.server_context()) as server:
        monkeypatch.setattr(http1, '_default_ssl_context', wrong.client_context)
        report = await fetch(items_for(server.url, files), tmp_path / 'other', retry_attempts=2)
        assert len(report.failed) == len(files)
        assert all('mismatch' in message for message in errors_of(report))
        assert not server.requests


@ASYNCIO_ONLY
async def test_redirect_to_an_unverified_https_server_is_not_retried(
    tmp_path: Path, certificates: dict[str, Certificate]
) -> None:
    """The fallback client (after a redirect) refuses a bad certificate once, like http1."""
    files = make_files([1000, 2000])
    async with RawServer(serve_files(files), tls=certificates['right'].server_context()) as tls:

        async def script(request: Request, conn: Conn) -> bool:
            await conn.send(response(b'', 302, f'Location: {tls.url}{request.path}'))
            return True

        async with RawServer(script) as origin:
            report = await fetch(items_for(origin.url, files), tmp_path, retry_attempts=3)
    assert len(report.failed) == len(files)
    for result in report.failed:
        assert isinstance(result.error, DownloadError)
        assert 'TLS certificate verification failed' in str(result.error)
        assert result.attempts == 1
    assert not tls.requests
    assert not parts_left(tmp_path)


# --- credentials and headers ---------------------------------------------------------------------


@ASYNCIO_ONLY
async def test_basic_auth_from_option_and_url_never_shown(tmp_path: Path) -> None:
    files = make_files([100, 200])
    user, password = 'us@er', 'p:ss/w%rd-secret'
    good = 'Basic ' + base64.b64encode(f'{user}:{password}'.encode()).decode()

    async def script(request: Request, conn: Conn) -> bool:
        if request.headers.get('authorization') != good:
            await conn.send(response(b'who are you', 401, 'WWW-Authenticate: Basic realm="x"'))
            return True
        return await serve_files(files)(request, conn)

    async with RawServer(script) as server:
        port = server.url.rsplit(':', 1)[1]
        items = items_for(server.url, files)
        report = await fetch(items, tmp_path / 'a', auth=(user, password), max_concurrency=1)
        assert report.ok, errors_of(report)
        quoted = 'us%40er:p%3Ass%2Fw%25rd-secret'
        in_url = [i.model_copy(update={'url': i.url.replace('//', f'//{quoted}@')}) for i in items]
        report = await fetch(in_url, tmp_path / 'b')
        assert report.ok, errors_of(report)
        # Credentials in the URL win over the option (as through the fallback client).
        report = await fetch(in_url, tmp_path / 'c', auth=(user, 'wrong-secret'))
        assert report.ok, errors_of(report)
        sent = list(server.requests)
        assert len(sent) == 3 * len(files)
        assert all(r.headers['authorization'] == good for r in sent)
        assert all(r.headers['host'] == f'127.0.0.1:{port}' for r in sent)
        assert all(r.direct for r in sent)
        wrong_url = [
            i.model_copy(update={'url': i.url.replace(quoted, 'x:bad-secret')}) for i in in_url
        ]
        failed = [
            await fetch(items, tmp_path / 'd', auth=(user, 'wrong-secret')),
            await fetch(items, tmp_path / 'e'),
            await fetch(wrong_url, tmp_path / 'f'),
        ]
    for report in failed:
        assert len(report.failed) == len(files)
        for result in report.failed:
            assert isinstance(result.error, DownloadError)
            assert 'HTTP 401' in str(result.error)
            shown = ' '.join(
                (str(result.error), repr(result.error), result.describe(), result.item.source)
            )
            assert 'secret' not in shown
            assert 'bad' not in shown
    assert_placed(tmp_path / 'c', files)


@ASYNCIO_ONLY
@pytest.mark.parametrize(
    'headers',
    [
        {'X': 'a\r\nB: c'},
        {'X': 'a\nB: c'},
        {'X': 'a\rB: c'},
        {'X': 'a\0b'},
        {'X\r\nB': 'c'},
        {'X:Y': 'c'},
        {'': 'c'},
        {'X Y': 'c'},
    ],
)
async def test_header_injection_refused(tmp_path: Path, headers: dict[str, str]) -> None:
    files = make_files([10])
    async with RawServer(serve_files(files)) as server:
        with pytest.raises(InvalidArgument, match='invalid HTTP header') as caught:
            await fetch(items_for(server.url, files), tmp_path, headers=headers)
        assert caught.value.value == next(iter(headers))
        assert server.accepts == 0
    assert not parts_left(tmp_path)


@ASYNCIO_ONLY
async def test_credentials_go_to_their_origin_only(tmp_path: Path) -> None:
    """A session's pool sends its data server credentials to that server only: not to another
    server, directly or through the fallback after a redirect."""
    files = make_files([100, 200, 300])
    user, password = 'login', 'secret-pw'
    expected = 'Basic ' + base64.b64encode(f'{user}:{password}'.encode()).decode()
    async with RawServer(serve_files(files)) as other:

        async def script(request: Request, conn: Conn) -> bool:
            if request.path.startswith('/away/'):
                where = request.path.replace('/away/', '/f/')
                await conn.send(response(b'', 302, f'Location: {other.url}{where}'))
                return True
            return await serve_files(files)(request, conn)

        async with RawServer(script) as data:
            pool = Http1Source(
                max_connections=4,
                auth=(user, password),
                headers=None,
                verify=True,
                auth_origin=f'{data.url}/some/path',
            )
            try:
                ours = items_for(data.url, files)
                theirs = items_for(other.url, files)
                moved = [
                    item.model_copy(update={'url': item.url.replace('/f/', '/away/')})
                    for item in ours
                ]
                for batch, name in ((ours, 'ours'), (theirs, 'theirs'), (moved, 'moved')):
                    report = await fetch(batch, tmp_path / name, pool=pool)
                    assert report.ok, errors_of(report)
            finally:
                await pool.aclose()
    assert data.requests
    assert all(r.headers.get('authorization') == expected for r in data.requests)
    assert len(other.requests) == 2 * len(files)  # direct, then after the redirects
    assert not any('authorization' in r.headers for r in other.requests)


@ASYNCIO_ONLY
async def test_a_shared_pool_bounds_requests_across_jobs(tmp_path: Path) -> None:
    """Jobs sharing one pool with ``limit=2`` never have more than 2 requests in flight."""
    files = make_files([1000] * 12)
    in_flight = 0
    most = 0

    async def script(request: Request, conn: Conn) -> bool:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.02)  # long enough for other requests to pile up if allowed
        in_flight -= 1
        return await serve_files(files)(request, conn)

    async with RawServer(script) as server:
        pool = Http1Source(max_connections=8, auth=None, headers=None, verify=True, limit=2)
        try:
            items = items_for(server.url, files)
            async with anyio.create_task_group() as tg:
                for i, batch in enumerate((items[:6], items[6:])):
                    tg.start_soon(
                        functools.partial(fetch, pool=pool, max_concurrency=6),
                        batch,
                        tmp_path / str(i),
                    )
        finally:
            await pool.aclose()
    assert most == 2
    assert len(server.requests) == len(files)
    assert server.accepts <= 2


# --- cancellation --------------------------------------------------------------------------------


@ASYNCIO_ONLY
async def test_cancelled_mid_body_leaves_nothing_and_closes_the_connection(
    tmp_path: Path,
) -> None:
    size = 3 * MIB
    body = random.Random(7).randbytes(size)
    trickling = anyio.Event()

    async def script(request: Request, conn: Conn) -> bool:
        whole = response(body)
        sent = len(whole) - size + MIB + 100_000  # the head and a first write batch at once
        await conn.send(whole[:sent])
        trickling.set()
        try:
            while not conn.reader.at_eof() and sent < len(whole) - 1:
                await conn.send(whole[sent : sent + 1000])
                sent += 1000
                await asyncio.sleep(0.005)
        except OSError:
            pass
        await conn.until_client_closes()  # never the whole body: only the client ends it
        return False

    async with RawServer(script) as server:
        item = DownloadItem(url=f'{server.url}/f/0.bin', size=size)
        part = tmp_path / 'f/0.bin.part'

        def part_written() -> bool:
            return part.exists() and part.stat().st_size >= MIB

        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:

                async def cancel_once_on_disk() -> None:
                    await trickling.wait()
                    await eventually(part_written)
                    scope.cancel()

                tg.start_soon(cancel_once_on_disk)
                await fetch([item], tmp_path)
        assert scope.cancelled_caught
        await server.all_closed_by_client()
        assert server.accepts == 1
    assert not parts_left(tmp_path)
    assert not (tmp_path / 'f/0.bin').exists()
