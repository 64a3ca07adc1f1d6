"""Saving cache tables safely when several processes share a cache directory.

:func:`save_cache` takes an inter-process lock on the directory (``.one_async.lock``, via the
``filelock`` library), then writes each modified table to a temporary file, flushes it to disk
and renames it over the old one.  Readers never see a half-written table, and two processes
saving at once are serialised.  When another process replaced a table since it was loaded, the
rows modified here are merged into that newer file instead of overwriting it, so neither
process's updates are lost.
"""

from __future__ import annotations

import csv
import io
import os
import uuid
import warnings
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import anyio.to_thread
import filelock
import polars as pl

from one_async import defaults
from one_async.cache.metadata import format_timestamp, make_table_metadata
from one_async.cache.parquet import (
    file_fingerprint,
    fsync_directory,
    read_table_info,
    scan_table,
    write_table,
)
from one_async.cache.schema import INDEX_COLUMNS
from one_async.cache.tables import conform_records, table_key, upsert
from one_async.exceptions import CacheLockError, CacheTableError, CacheWarning, InvalidArgument

if TYPE_CHECKING:
    from one_async.cache.tables import CacheTables

__all__ = ['LOCK_NAME', 'asave_cache', 'cache_lock', 'save_cache', 'save_loaded_ids']

LOCK_NAME = '.one_async.lock'
"""File name of the inter-process lock of a cache directory."""


class _Lock:
    """Context manager around :class:`filelock.FileLock` raising :class:`CacheLockError`."""

    def __init__(self, directory: Path, timeout: float) -> None:
        self.path = directory / LOCK_NAME
        self._lock = filelock.FileLock(self.path, timeout=timeout)

    def __enter__(self) -> _Lock:
        try:
            self._lock.acquire()
        except filelock.Timeout:
            raise CacheLockError(
                f'Timed out waiting for the cache lock {self.path}', value=str(self.path)
            ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def cache_lock(directory: str | Path, timeout: float = defaults.CACHE_LOCK_TIMEOUT) -> _Lock:
    """The inter-process lock of a cache directory, as a context manager.

    Raises
    ------
    CacheLockError
        (on entry) The lock was not obtained within ``timeout`` seconds.
    """
    return _Lock(Path(directory), timeout)


def _read_existing(name: str, path: Path) -> pl.DataFrame | None:
    try:
        info = read_table_info(path)
        frame = scan_table(info).collect()
    except (CacheTableError, pl.exceptions.PolarsError, OSError) as exc:
        warnings.warn(f'{path}: replaced, could not merge: {exc}', CacheWarning, stacklevel=3)
        return None
    key = table_key(name, frame.columns)
    return frame.sort(list(key)) if key else frame


def save_cache(
    tables: CacheTables,
    save_dir: str | Path | None = None,
    *,
    force: bool = False,
    merge: bool = True,
    lock_timeout: float = defaults.CACHE_LOCK_TIMEOUT,
) -> list[Path]:
    """Write the modified tables (all tables if ``force``) atomically, under the lock.

    Parameters
    ----------
    tables
        The tables to save.
    save_dir
        Defaults to the directory the tables were opened from.
    force
        Write every table, modified or not.
    merge
        When a table file was replaced by another process since it was loaded (or belongs to
        another directory), merge the rows modified here into it rather than overwrite it.
    lock_timeout
        Seconds to wait for the lock.

    Returns
    -------
    list of pathlib.Path
        The files written (empty when nothing was modified).

    Raises
    ------
    InvalidArgument
        No directory to save to.
    CacheLockError
        The lock was not obtained in time.
    CacheTableError
        A table could not be written (the previous file is left intact).
    """
    home = tables.tables_dir
    target = Path(save_dir) if save_dir is not None else home
    if target is None:
        raise InvalidArgument('No directory to save the cache tables to', value=save_dir)
    same_dir = home is not None and target.resolve() == home.resolve()
    names = [n for n in tables.names if force or tables.dirty(n) is not None]
    if not names:
        return []
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with cache_lock(target, lock_timeout):
        now = datetime.now()
        for name in names:
            frame = tables.frame(name)
            path = target / f'{name}.pqt'
            info = tables._info(name) if same_dir else None
            unchanged = info is not None and file_fingerprint(path) == info.fingerprint
            if merge and path.exists() and not unchanged:
                disk = _read_existing(name, path)
                if disk is not None:
                    key = table_key(name, frame.columns)
                    dirty = tables.dirty(name)
                    rows = frame
                    if info is not None and dirty is not None and key:
                        rows = frame.join(dirty, on=list(key), how='semi')
                    rows = conform_records(name, disk, rows, strict=False)
                    frame = upsert(disk, rows, table_key(name, disk.columns))
            raw = dict(tables.meta.raw.get(name) or make_table_metadata(str(target)))
            raw['date_modified'] = format_timestamp(tables.meta.modified_time or now)
            write_table(path, frame, raw, index_columns=INDEX_COLUMNS.get(name, ()))
            if same_dir:
                tables._saved(name, frame, read_table_info(path))
                tables.meta.raw[name] = raw
            written.append(path)
        tables.meta.saved_time = datetime.now()
    return written


async def asave_cache(
    tables: CacheTables,
    save_dir: str | Path | None = None,
    *,
    force: bool = False,
    merge: bool = True,
    lock_timeout: float = defaults.CACHE_LOCK_TIMEOUT,
) -> list[Path]:
    """:func:`save_cache` in a worker thread.

    Cancelling the caller does not interrupt a save in progress (it completes, atomically).
    """

    def _save() -> list[Path]:
        return save_cache(tables, save_dir, force=force, merge=merge, lock_timeout=lock_timeout)

    return await anyio.to_thread.run_sync(_save)


def save_loaded_ids(
    tables: CacheTables,
    *,
    sessions_only: bool = False,
    clear_list: bool = True,
    save_dir: str | Path | None = None,
) -> tuple[list[str], Path | None]:
    """Write the IDs of the loaded datasets (or their sessions) to a CSV file, as ONE does.

    The file is ``<save_dir>/<YYYY-MM-DDTHH-MM-SS>_loaded_<dataset|session>_uuids.csv`` with a
    ``dataset_uuid`` or ``session_uuid`` header.

    Returns
    -------
    list of str
        The IDs written, sorted.
    pathlib.Path or None
        The file, or None (with a :class:`CacheWarning`) when no dataset was recorded.
    """
    if not tables.loaded_ids:
        warnings.warn(
            'No datasets loaded; check that the "record_loaded" attribute is True',
            CacheWarning,
            stacklevel=2,
        )
        return [], None
    directory = Path(save_dir) if save_dir is not None else tables.tables_dir
    if directory is None:
        raise InvalidArgument('No directory to save the loaded IDs to', value=save_dir)
    if sessions_only:
        name, ids = 'session_uuid', tables.loaded_session_ids()
    else:
        name, ids = 'dataset_uuid', tables.loaded_ids
    timestamp = datetime.now().strftime('%Y-%m-%dT%H-%M-%S%z')
    path = directory / f'{timestamp}_loaded_{name}s.csv'
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator='\n')
    writer.writerow([name])
    writer.writerows([i] for i in ids)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.{uuid.uuid4().hex}.part')
    try:
        with open(tmp, 'w', encoding='utf-8', newline='') as fh:
            fh.write(buffer.getvalue())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_directory(directory)
    if clear_list:
        tables.clear_loaded()
    return ids, path
