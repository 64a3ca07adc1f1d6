"""Keeping the cache tables in step with the server: ONE-api 2.9.0's ``OneAlyx.load_cache``.

On load, the local tables are opened; when they are expired (or ``clobber``, or another release
``tag`` is asked for), ``cache/info`` says when the server's tables were made.  Tables at least
a minute newer than the local ones are downloaded (per-tag tables in ``<cache_dir>/<tag>``, as
ONE), moved into place under the cache directory's lock and opened; the session switches to
them in one step.  A server that cannot be reached leaves the existing tables in use and the
session in 'local' mode (an HTTP error: 'remote' mode), as ONE does, with a warning.

``min_api_version`` is checked against the ONE-api release whose tables one_async reads
(:data:`one_async.defaults.ONE_API_COMPAT_VERSION`): Alyx 3.6.1's "2.10" is accepted.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import anyio.to_thread

from one_async.cache import CacheTables, api_version_supported, cache_lock
from one_async.cache.parquet import fsync_directory
from one_async.exceptions import (
    AlyxConnectionError,
    AlyxHTTPError,
    CacheTableError,
    CacheWarning,
    DownloadError,
    InvalidArgument,
    OneWarning,
)

from ..core import MODES
from .modes import RemoteCore

__all__ = ['RemoteCache']

_logger = logging.getLogger('one_async.api')

_FRESH: Final = timedelta(minutes=1)
"""Remote tables made less than this after the local ones are not downloaded (ONE's rule)."""


def _flatten_tags(raw: Iterable[dict[str, Any]]) -> list[str | None]:
    """ONE's ``flatten(x.get('database_tags') for x in raw_meta)``."""
    out: list[str | None] = []
    for meta in raw:
        tags = meta.get('database_tags')
        if isinstance(tags, (list, tuple, set)):
            out.extend(str(t) if t is not None else None for t in tags)
        else:
            out.append(tags if tags is None else str(tags))
    return out


def _install_files(staging: Path, target: Path) -> list[Path]:
    """Move the unpacked tables into ``target`` under its lock (blocking; run in a thread)."""
    placed = []
    with cache_lock(target):
        for source in sorted(staging.rglob('*')):
            if not source.is_file():
                continue
            destination = target / source.relative_to(staging)
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, destination)
            placed.append(destination)
        fsync_directory(target)
    return placed


class RemoteCache(RemoteCore):
    """``load_cache`` with the server check (see the module docstring)."""

    async def refresh_cache(self, mode: str = 'auto') -> datetime | None:
        """Reload the tables as ``mode`` says, as ONE's ``refresh_cache``.

        'local' and 'remote' never reload; 'auto' reloads tables loaded more than
        :attr:`cache_expiry` ago, checking the server for newer ones when they are expired;
        'refresh' checks the server every time (``load_cache(clobber=True)``).

        Raises
        ------
        InvalidArgument
            An unknown mode.
        """
        if mode not in MODES:
            raise InvalidArgument(f'Unknown refresh type "{mode}"', value=mode)
        if mode in ('local', 'remote'):
            tables = self._tables
            return tables.meta.loaded_time if tables is not None else None
        async with self._sync_lock:
            tables = self._tables
            loaded = tables.meta.loaded_time if tables is not None else None
            if mode == 'refresh':
                return await self.load_cache(clobber=True)
            if loaded is None or datetime.now() - loaded >= self.cache_expiry:
                return await self.load_cache()
            return loaded

    async def _tables_ready(self) -> CacheTables:
        tables = self._tables
        if tables is None:
            async with self._sync_lock:
                if self._tables is None:
                    await self.load_cache()
            tables = self._tables
            assert tables is not None
        return tables

    async def load_cache(
        self, tables_dir: str | Path | None = None, clobber: bool = False, tag: str | None = None
    ) -> datetime | None:
        """Load the cache tables, downloading newer ones from the server when needed.

        The local tables are always (re)opened first, unless ``clobber`` or a new ``tag`` asks
        for the server's at once.  When they are expired (older than :attr:`cache_expiry`) in
        'auto' or 'refresh' mode, the server's tables are downloaded if newer.

        Parameters
        ----------
        tables_dir
            Folder of the tables (default: the current one).
        clobber
            Ask the server for newer tables even if the local ones are recent.
        tag
            A release tag: load the tables of the datasets carrying it (kept in
            ``<cache_dir>/<tag>``).

        Returns
        -------
        datetime or None
            When the tables in use were loaded.

        Raises
        ------
        CacheTableError
            The current tables mix several tags.
        InvalidArgument
            The server has no tables for ``tag``.
        """
        tables = self._tables
        raw = list(tables.meta.raw.values()) if tables is not None and tables.meta.raw else []
        current = _flatten_tags(raw or [{}])
        distinct = sorted({t for t in current if t})
        if len(distinct) > 1:
            raise CacheTableError(
                f'Loading cache tables with several tags is not supported: {distinct}',
                value=distinct,
            )
        tag = tag or current[0]
        different_tag = any(t != tag for t in current)
        if not (clobber or different_tag) or self.offline:
            loaded = await super().load_cache(tables_dir)
            tables = self._tables
            assert tables is not None
            if not tables.expired() or self.mode in ('local', 'remote') or self.offline:
                return loaded
        try:
            await self._sync_remote(tables_dir, tag, different_tag)
        except AlyxConnectionError as exc:
            warnings.warn(
                f'Could not reach {self.base_url} to refresh the cache tables ({exc}); '
                'using the local tables in local mode',
                OneWarning,
                stacklevel=3,
            )
            self._set_mode('local', 'Alyx unreachable')
        except (AlyxHTTPError, DownloadError) as exc:
            warnings.warn(
                f'Failed to load the remote cache tables of {self.base_url} ({exc}); '
                'queries go to the server in remote mode',
                OneWarning,
                stacklevel=3,
            )
            self._set_mode('remote', 'Remote cache tables unavailable')
        if self._tables is None:
            return await super().load_cache(tables_dir)
        return self._tables.meta.loaded_time

    async def _sync_remote(
        self, tables_dir: str | Path | None, tag: str | None, different_tag: bool
    ) -> None:
        """Download the server's tables if newer than the loaded ones, then open them."""
        try:
            info = await self.alyx.cache_info(tag)
        except AlyxHTTPError as exc:
            if tag is not None and exc.status_code == 404:
                raise InvalidArgument(
                    f'The server has no cache tables for tag "{tag}"', value=tag
                ) from exc
            raise
        tags = info.database_tags
        available = [tags] if isinstance(tags, str) else list(tags or [])
        if tag is not None and tag not in available:
            raise InvalidArgument(f'The server has no cache tables for tag "{tag}"', value=tag)
        if not api_version_supported(info.min_api_version):
            warnings.warn(
                f'Newer cache tables require ONE version {info.min_api_version} or greater',
                CacheWarning,
                stacklevel=4,
            )
            return
        tables = self._tables
        meta = tables.meta if tables is not None else None
        local_created = meta.created_time if meta is not None else None
        remote_created = info.date_created.replace(tzinfo=None)
        if (
            local_created is not None
            and remote_created - local_created < _FRESH
            and not different_tag
        ):
            _logger.info('No newer cache available')
            return
        if tables_dir:
            target = Path(tables_dir)
        elif different_tag and tag:
            target = self.cache_dir / tag
        else:
            target = self._tables_dir or self.cache_dir
        previous = sorted(meta.origins) if meta is not None else []
        origin = info.origin or 'unknown'
        if previous and origin not in previous:
            warnings.warn(
                f'Downloading cache tables from another origin ("{origin}" instead of '
                f'"{", ".join(previous)}")',
                CacheWarning,
                stacklevel=4,
            )
        _logger.info('Downloading remote caches...')
        await anyio.to_thread.run_sync(lambda: target.mkdir(parents=True, exist_ok=True))
        staging = Path(
            await anyio.to_thread.run_sync(
                lambda: tempfile.mkdtemp(dir=target, prefix='.tables-download-')
            )
        )
        try:
            download = await self.alyx.download_cache_tables(staging, tag=tag)
            if not download.files:
                raise DownloadError(
                    f'The cache archive of {self.base_url} holds no table', value=self.base_url
                )
            await anyio.to_thread.run_sync(_install_files, staging, target)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(lambda: shutil.rmtree(staging, ignore_errors=True))
        await super().load_cache(target)
