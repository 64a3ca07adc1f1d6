"""Public entry points of the transfer engine, usable without a session."""

from __future__ import annotations

import functools
import math
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
from anyio.streams.memory import MemoryObjectReceiveStream

from one_async import defaults
from one_async.transfer.engine import OnMismatch, Options, TransferJob
from one_async.transfer.records import DownloadReport, DownloadResult, ItemLike
from one_async.transfer.s3 import S3Config

__all__ = ['download_files', 'download_files_sync', 'stream_downloads']

OnComplete = Callable[[DownloadResult], Awaitable[None] | None]


def _options(
    max_concurrency: int | None,
    per_host: int | None,
    progress: bool | None,
    auth: httpx.Auth | tuple[str, str] | None,
    headers: Mapping[str, str] | None,
    check_hash: bool,
    keep_uuid: bool,
    overwrite: bool,
    s3: S3Config | None,
    on_mismatch: OnMismatch | None,
    client: httpx.AsyncClient | None,
    extra: dict[str, Any],
) -> Options:
    return Options(
        max_concurrency=max_concurrency or defaults.DOWNLOAD_CONCURRENCY,
        per_host=per_host,
        progress=progress,
        auth=auth,
        headers=headers,
        check_hash=check_hash,
        keep_uuid=keep_uuid,
        overwrite=overwrite,
        s3=s3,
        on_mismatch=on_mismatch,
        client=client,
        **extra,
    )


async def download_files(
    items: Iterable[ItemLike],
    target_dir: str | os.PathLike[str],
    *,
    max_concurrency: int | None = None,
    per_host: int | None = None,
    progress: bool | None = None,
    auth: httpx.Auth | tuple[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    check_hash: bool = True,
    keep_uuid: bool = False,
    overwrite: bool = False,
    s3: S3Config | None = None,
    on_complete: OnComplete | None = None,
    on_mismatch: OnMismatch | None = None,
    client: httpx.AsyncClient | None = None,
    **tuning: Any,
) -> DownloadReport:
    """Download many files concurrently into ``target_dir``, verified and placed atomically.

    Parameters
    ----------
    items
        URLs (``http(s)://`` or ``s3://``), :class:`DownloadItem` records, or mappings of their
        fields (ONE's ``data_url``/``file_size``/``hash``/``id`` are understood).
    target_dir
        Directory every file is saved under (at the item's relative path); nothing is ever
        written outside it.
    max_concurrency, per_host
        Requests in flight in total and per host.  ``max_concurrency`` defaults to
        ``defaults.DOWNLOAD_CONCURRENCY``; ``per_host`` to ``defaults.DOWNLOAD_PER_HOST_SMALL``
        when most files are small (their transfers wait on round trips, not bandwidth), else
        ``defaults.DOWNLOAD_PER_HOST``.
    progress
        Show an aggregated progress bar; None shows it when stderr is a terminal.
    auth
        ``(username, password)`` for the data server's HTTP Basic auth (never logged), or any
        ``httpx.Auth``.
    headers
        Extra request headers (e.g. an Alyx token for protected files).
    check_hash
        Verify the md5 of files already present before skipping them (sizes are always checked).
    keep_uuid
        Keep the dataset UUID in file names (ONE's ``uuid_filenames``); by default it is removed.
    overwrite
        Download even the files already present.
    s3
        Endpoint and credentials for ``s3`` items.
    on_complete
        Called (or awaited) with each result as soon as its file is placed, skipped or failed.
    on_mismatch
        Awaited with an item whose download stays corrupt after the retry (e.g. to tag the
        file record on Alyx, as ONE does).
    client
        An ``httpx.AsyncClient`` to use instead of the job's own pooled one.
    **tuning
        Further :class:`~one_async.transfer.engine.Options` fields (``fsync``,
        ``retry_attempts``, ``retry_timeout``, ``integrity_retries``, ``verify``, and
        ``connect_timeout``/``read_timeout``: seconds to connect, and without a byte received,
        per request).

    Returns
    -------
    DownloadReport
        One result per item, in order: path or typed error, bytes, seconds; ``.failed`` and
        ``.raise_for_failures()``.  One file failing never stops the others.

    Examples
    --------
    >>> report = await download_files(urls, '/data/cache', auth=('user', 'pass'))
    >>> report.raise_for_failures()
    """
    options = _options(
        max_concurrency,
        per_host,
        progress,
        auth,
        headers,
        check_hash,
        keep_uuid,
        overwrite,
        s3,
        on_mismatch,
        client,
        tuning,
    )
    emit = None
    if on_complete is not None:
        callback = on_complete

        async def emit(result: DownloadResult) -> None:
            outcome = callback(result)
            if outcome is not None:
                await outcome

    return await TransferJob(items, target_dir, options).run(emit)


@asynccontextmanager
async def stream_downloads(
    items: Iterable[ItemLike],
    target_dir: str | os.PathLike[str],
    **kwargs: Any,
) -> AsyncIterator[MemoryObjectReceiveStream[DownloadResult]]:
    """Download like :func:`download_files`, yielding each result as soon as it is known.

    The job runs in the background while the block iterates over results, so processing can
    start before the whole batch is done.  Leaving the block early cancels what is left (no
    partial file is left under a final name).

    Examples
    --------
    >>> async with stream_downloads(urls, cache_dir) as results:
    ...     async for result in results:
    ...         if result.ok:
    ...             process(result.path)
    """
    if 'on_complete' in kwargs:
        raise TypeError('stream_downloads yields results itself; on_complete is not accepted')
    send, receive = anyio.create_memory_object_stream[DownloadResult](math.inf)

    async def run() -> None:
        async with send:
            await download_files(items, target_dir, on_complete=send.send, **kwargs)

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        try:
            async with receive:
                yield receive
        finally:
            tg.cancel_scope.cancel()


def download_files_sync(
    items: Iterable[ItemLike],
    target_dir: str | os.PathLike[str],
    *,
    uvloop: bool = False,
    **kwargs: Any,
) -> DownloadReport:
    """Blocking :func:`download_files` for code without an event loop.

    Runs its own asyncio loop (uvloop when ``uvloop`` and installed); keyword arguments are
    those of :func:`download_files`.
    """
    options: dict[str, Any] = {}
    if uvloop:
        try:
            import uvloop as _  # noqa: F401

            options['use_uvloop'] = True
        except ImportError:  # pragma: no cover - uvloop is optional
            pass
    job = functools.partial(download_files, items, target_dir, **kwargs)
    return anyio.run(job, backend='asyncio', backend_options=options)
