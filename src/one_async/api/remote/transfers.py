"""One session's downloads: a shared connection pool, and each file fetched once.

:class:`SessionDownloads` hands batches of :class:`~one_async.transfer.DownloadItem` to the
transfer engine.  Every batch of one session goes through one pooled HTTP client (its
connection limit bounds the session's requests in flight, whatever the number of concurrent
loads), and a file already being downloaded by another call of the session is waited for
instead of fetched again.  Data server credentials are sent to the data server only.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx

from one_async import defaults
from one_async.alyx.urls import same_origin
from one_async.exceptions import UnsafePathError
from one_async.transfer import DownloadItem, DownloadResult, S3Config, download_files
from one_async.transfer.engine import OnMismatch
from one_async.transfer.http import load_tls_context, make_client
from one_async.transfer.http1 import Http1Source
from one_async.transfer.safety import target_rel_path

__all__ = ['OnComplete', 'OriginBasicAuth', 'SessionDownloads']

OnComplete = Callable[[DownloadResult], Awaitable[None] | None]


class OriginBasicAuth(httpx.Auth):
    """HTTP Basic credentials sent only to one origin (scheme, host, port)."""

    def __init__(self, origin: str, username: str, password: str) -> None:
        self._origin = origin
        token = base64.b64encode(f'{username}:{password}'.encode()).decode()
        self._header = f'Basic {token}'

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if same_origin(str(request.url), self._origin):
            request.headers['Authorization'] = self._header
        yield request

    def __repr__(self) -> str:
        return f'OriginBasicAuth({self._origin!r})'


@dataclass(eq=False)
class _Pending:
    """A file some call of the session is downloading."""

    done: anyio.Event = field(default_factory=anyio.Event)
    result: DownloadResult | None = None


def _loop_token() -> object:
    """Identifies the running event loop (pooled connections belong to one loop)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        import trio

        return trio.lowlevel.current_trio_token()


def _connections(pool: httpx.AsyncClient | Http1Source) -> dict[str, Any]:
    """The :func:`download_files` argument handing it ``pool``."""
    return {'client': pool} if isinstance(pool, httpx.AsyncClient) else {'pool': pool}


async def _notify(callback: OnComplete | None, result: DownloadResult) -> None:
    if callback is not None:
        outcome = callback(result)
        if outcome is not None:
            await outcome


class SessionDownloads:
    """The downloads of one session (see the module docstring).

    Parameters
    ----------
    target_dir
        The session's cache directory: every file is saved under it.
    concurrency
        Connections of the shared pool (requests in flight for the whole session).
    auth
        ``(origin, login, password)`` of the data server, or None.
    per_host
        Requests in flight per host in one batch (None: the engine's adaptive default).
    verify
        Verify TLS certificates.
    retry_attempts, retry_timeout
        The engine's retry budget per file.
    connect_timeout, read_timeout
        Seconds to connect, and without a byte received, per request.
    """

    def __init__(
        self,
        target_dir: Path,
        *,
        concurrency: int = defaults.DOWNLOAD_CONCURRENCY,
        auth: tuple[str, str, str] | None = None,
        per_host: int | None = None,
        verify: bool = True,
        retry_attempts: int = defaults.RETRY_ATTEMPTS,
        retry_timeout: float = defaults.RETRY_TIMEOUT,
        connect_timeout: float = defaults.HTTP_CONNECT_TIMEOUT,
        read_timeout: float = defaults.HTTP_READ_TIMEOUT,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.target_dir = target_dir
        self.concurrency = concurrency
        self.per_host = per_host
        self.verify = verify
        self.retry_attempts = retry_attempts
        self.retry_timeout = retry_timeout
        self._auth = OriginBasicAuth(*auth) if auth else None
        self._origin_auth = auth
        self._client: httpx.AsyncClient | Http1Source | None = None
        self._client_loop: object = None
        self._pending: dict[str, _Pending] = {}

    def _per_host(self) -> int | None:
        """Requests per host: as configured, else the engine's adaptive default on asyncio
        (aiohttp's pool); httpx's own pool (other loops) slows down with many connections per
        host, so the engine's large-file default caps it there, as the engine does for its own
        httpx client."""
        if self.per_host is not None:
            return self.per_host
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return defaults.DOWNLOAD_PER_HOST
        return None

    def _http(self) -> httpx.AsyncClient | Http1Source:
        """The session's pooled client, (re)created for the running event loop: the transfer
        engine's own HTTP/1.1 pool on asyncio, an ``httpx.AsyncClient`` elsewhere."""
        loop = _loop_token()
        if self._client is None or self._client_loop is not loop:
            if isinstance(loop, asyncio.AbstractEventLoop):
                origin, login, password = self._origin_auth or (None, '', '')
                self._client = Http1Source(
                    max_connections=self.concurrency,
                    auth=(login, password) if origin else None,
                    headers=None,
                    verify=self.verify,
                    auth_origin=origin,
                    limit=self.concurrency,
                    connect_timeout=self.connect_timeout,
                    read_timeout=self.read_timeout,
                )
            else:
                self._client = make_client(
                    max_connections=self.concurrency,
                    auth=self._auth,
                    verify=self.verify,
                    timeout=httpx.Timeout(
                        self.read_timeout, connect=self.connect_timeout, pool=None
                    ),
                )
            self._client_loop = loop
        return self._client

    async def aclose(self) -> None:
        """Close the pooled connections (if they belong to the running loop)."""
        client, self._client = self._client, None
        if client is not None and self._client_loop is _loop_token():
            await client.aclose()

    def in_flight(self) -> int:
        """Files being downloaded by the session right now."""
        return len(self._pending)

    @staticmethod
    def _key(item: DownloadItem, keep_uuid: bool) -> str | None:
        try:
            return target_rel_path(item, keep_uuid).as_posix()
        except UnsafePathError:
            return None  # the engine reports it

    async def fetch(
        self,
        items: Sequence[DownloadItem],
        *,
        keep_uuid: bool = False,
        check_hash: bool = True,
        progress: bool | None = None,
        on_complete: OnComplete | None = None,
        on_mismatch: OnMismatch | None = None,
        s3: S3Config | None = None,
    ) -> list[DownloadResult]:
        """Download ``items`` (one transfer job for those no other call is fetching).

        Returns one result per item, in order; results of files fetched by another call are
        copies of that call's result for this call's items.
        """
        results: list[DownloadResult | None] = [None] * len(items)
        mine: list[tuple[int, DownloadItem, str | None]] = []
        waiting: list[tuple[int, _Pending]] = []
        for i, item in enumerate(items):
            key = self._key(item, keep_uuid)
            pending = self._pending.get(key) if key is not None else None
            if pending is not None:
                waiting.append((i, pending))
                continue
            if key is not None:
                self._pending[key] = _Pending()
            mine.append((i, item, key))
        try:
            if mine:
                if self.verify:
                    await load_tls_context()  # before make_client: keeps the loop free
                report = await download_files(
                    [item for _, item, _ in mine],
                    self.target_dir,
                    max_concurrency=self.concurrency,
                    per_host=self._per_host(),
                    progress=progress,
                    check_hash=check_hash,
                    keep_uuid=keep_uuid,
                    s3=s3,
                    on_complete=on_complete,
                    on_mismatch=on_mismatch,
                    **_connections(self._http()),
                    retry_attempts=self.retry_attempts,
                    retry_timeout=self.retry_timeout,
                    connect_timeout=self.connect_timeout,  # for S3; the pool has them too
                    read_timeout=self.read_timeout,
                )
                for (i, _, key), result in zip(mine, report.results, strict=True):
                    results[i] = result
                    if key is not None:
                        self._pending[key].result = result
        finally:
            for _, _, key in mine:
                if key is not None:
                    self._pending.pop(key).done.set()
        again: list[int] = []
        for i, pending in waiting:
            await pending.done.wait()
            if pending.result is None:  # that call was cancelled: fetch it here
                again.append(i)
                continue
            copy = pending.result.model_copy(update={'item': items[i], 'bytes': 0})
            results[i] = copy
            await _notify(on_complete, copy)
        if again:
            retried = await self.fetch(
                [items[i] for i in again],
                keep_uuid=keep_uuid,
                check_hash=check_hash,
                progress=progress,
                on_complete=on_complete,
                on_mismatch=on_mismatch,
                s3=s3,
            )
            for i, result in zip(again, retried, strict=True):
                results[i] = result
        out = [r for r in results if r is not None]
        assert len(out) == len(items)
        return out
