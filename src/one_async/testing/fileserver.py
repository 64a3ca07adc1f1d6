"""A data file server over a directory, shaped like IBL's HTTP data server.

:func:`create_file_server` returns a Starlette app serving the files under a root directory with
what download clients rely on: optional HTTP Basic auth (as IBL's server asks for), ``HEAD``,
``Content-Length``, ``ETag``/``Last-Modified``, single ``Range`` requests answered with ``206``
(``416`` when unsatisfiable) and ``If-Range``.  Small files are read in one thread hop and sent
in one message; large ones are streamed in large chunks, so thousands of small files and a few
large ones are both served efficiently.  Paths never escape the root (``..``, symlinks out): such
requests get ``404``.  The app can be mounted under a prefix (``Mount('/data', app)``).
"""

from __future__ import annotations

import base64
import hmac
import os
import re
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

__all__ = ['create_file_server']

_SMALL_FILE = 1024 * 1024
_STREAM_CHUNK = 1024 * 1024
_RANGE = re.compile(r'bytes=(\d*)-(\d*)')


@dataclass(frozen=True, slots=True)
class _Found:
    """A file resolved under the root: its path, stat and (for small files) its bytes."""

    path: str
    size: int
    etag: str
    last_modified: str
    data: bytes | None


def _resolve(root: str, rel: str, read_limit: int) -> _Found | None:
    """Resolve ``rel`` under ``root``; None when missing, not a file or outside the root."""
    parts = rel.split('/')
    if any(p in ('', '.', '..') or '\x00' in p or '\\' in p for p in parts):
        return None
    full = os.path.join(root, *parts)
    real = os.path.realpath(full)
    if not real.startswith(root + os.sep):
        return None
    try:
        with open(real, 'rb') as handle:
            st = os.fstat(handle.fileno())
            if not stat.S_ISREG(st.st_mode):
                return None
            data = handle.read() if st.st_size <= read_limit else None
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
        return None
    etag = f'"{st.st_mtime_ns:x}-{st.st_size:x}"'
    return _Found(real, st.st_size, etag, formatdate(st.st_mtime, usegmt=True), data)


def _byte_range(header: str | None, size: int) -> tuple[int, int] | bool | None:
    """Parse a single-range ``Range`` header.

    Returns ``(start, end)`` inclusive, ``None`` to serve the whole file (no header, a header we
    do not honour such as several ranges), or ``False`` when the range is unsatisfiable.
    """
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if not match:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix range: the last N bytes
        length = int(last)
        if length == 0:
            return False
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        return False
    return start, end


def _if_range_holds(if_range: str | None, found: _Found) -> bool:
    """True when ``If-Range`` is absent or still matches the file (strong ETag or date)."""
    if if_range is None:
        return True
    value = if_range.strip()
    if value.startswith(('"', 'W/')):
        return value == found.etag
    return value == found.last_modified


def _read_at(path: str, offset: int, size: int) -> bytes:
    with open(path, 'rb') as handle:
        handle.seek(offset)
        return handle.read(size)


async def _stream(path: str, start: int, end: int) -> AsyncIterator[bytes]:
    """Yield bytes ``start..end`` (inclusive) of ``path`` in large chunks read in threads.

    No file stays open between chunks, so a client that goes away leaves nothing to clean up.
    """
    offset = start
    while offset <= end:
        size = min(_STREAM_CHUNK, end - offset + 1)
        chunk = await anyio.to_thread.run_sync(_read_at, path, offset, size)
        if not chunk:
            break
        offset += len(chunk)
        yield chunk


class _FileEndpoint:
    """Serves GET and HEAD for one root directory."""

    def __init__(self, root: Path, auth: tuple[str, str] | None, small_file: int) -> None:
        self.root = os.path.realpath(root)
        self.small_file = small_file
        self._expected_auth: bytes | None = None
        if auth is not None:
            token = base64.b64encode(f'{auth[0]}:{auth[1]}'.encode()).decode()
            self._expected_auth = f'Basic {token}'.encode()

    def _authorised(self, request: Request) -> bool:
        if self._expected_auth is None:
            return True
        given = request.headers.get('authorization', '').encode()
        return hmac.compare_digest(given, self._expected_auth)

    async def serve(self, request: Request) -> Response:
        """Answer one GET or HEAD request."""
        if not self._authorised(request):
            return Response(
                'Authentication required.',
                status_code=401,
                headers={'WWW-Authenticate': 'Basic realm="data"'},
            )
        rel: str = request.path_params['path']
        head = request.method == 'HEAD'
        limit = -1 if head else self.small_file
        found = await anyio.to_thread.run_sync(_resolve, self.root, rel, limit)
        if found is None:
            return Response('Not found.', status_code=404)
        headers = {
            'ETag': found.etag,
            'Last-Modified': found.last_modified,
            'Accept-Ranges': 'bytes',
            'Content-Type': 'application/octet-stream',
        }
        span = None
        if _if_range_holds(request.headers.get('if-range'), found):
            span = _byte_range(request.headers.get('range'), found.size)
        if span is False:
            headers['Content-Range'] = f'bytes */{found.size}'
            return Response(b'', status_code=416, headers=headers)
        status = 200
        start, end = 0, found.size - 1
        if isinstance(span, tuple):
            start, end = span
            status = 206
            headers['Content-Range'] = f'bytes {start}-{end}/{found.size}'
        headers['Content-Length'] = str(end - start + 1)
        if head:
            return Response(b'', status_code=status, headers=headers)
        if found.data is not None:
            return Response(found.data[start : end + 1], status_code=status, headers=headers)
        return StreamingResponse(_stream(found.path, start, end), status, headers=headers)


def create_file_server(
    root: str | os.PathLike[str],
    *,
    auth: tuple[str, str] | None = None,
    small_file: int = _SMALL_FILE,
) -> Starlette:
    """Create a Starlette app serving the files under ``root``.

    Parameters
    ----------
    root
        Directory whose files are served; URL ``/a/b.npy`` maps to ``root/a/b.npy``.
    auth
        ``(username, password)`` required through HTTP Basic auth; None serves without auth.
    small_file
        Files up to this many bytes are read whole and sent in one message; larger ones are
        streamed in 1 MiB chunks.

    Returns
    -------
    starlette.applications.Starlette
        The ASGI app, to serve (e.g. with ``one_async.testing.runner.serve_in_thread``) or mount.
    """
    endpoint = _FileEndpoint(Path(root), auth, small_file)
    route = Route('/{path:path}', endpoint.serve, methods=['GET', 'HEAD'])
    return Starlette(routes=[route])
