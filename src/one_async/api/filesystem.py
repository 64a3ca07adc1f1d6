"""Checking dataset files on disk: existence, size and md5, in parallel worker threads.

ONE-api checks each file in turn and hashes it with a 256 MiB buffer (about 170 ms per file
whatever its size).  Here files are checked in a few batches, one worker thread per batch,
each hashing with one modest reusable buffer; small files stay in a single batch, where one
thread hop costs less than parallelism gains.

The result of a check (:class:`FileCheck`) gives the files found and, as one table, the
datasets that are missing or do not match the tables (the batch a download step fetches).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Final

import anyio
import anyio.to_thread
import polars as pl

from one_async import defaults

__all__ = ['FileCheck', 'FileState', 'check_files', 'file_md5']

_logger = logging.getLogger(__name__)

FileState = tuple[bool, bool]
"""(the file exists, it matches the size and md5 of its record)."""

_PARALLEL_MIN_BYTES: Final = defaults.HASH_CHUNK_SIZE


@dataclass(frozen=True)
class FileCheck:
    """The outcome of checking datasets against the filesystem.

    Attributes
    ----------
    datasets
        The rows checked, with ``exists`` as found on disk and ``session_path`` filled in.
    files
        Per row, the local file, or None when it does not exist.
    missing
        The rows whose file is absent or differs from its record (size, md5): what to fetch.
    """

    datasets: pl.DataFrame
    files: list[Path | None]
    missing: pl.DataFrame


def file_md5(path: str | os.PathLike[str], buffer: bytearray | None = None) -> str:
    """md5 hex digest of a file, read with one reusable buffer (blocking)."""
    digest = hashlib.md5(usedforsecurity=False)
    view = memoryview(buffer if buffer is not None else bytearray(defaults.HASH_CHUNK_SIZE))
    with open(path, 'rb', buffering=0) as fh:
        while n := fh.readinto(view):
            digest.update(view[:n])
    return digest.hexdigest()


def _check_batch(
    items: Sequence[tuple[int, Path, int | None, str | None, str]], check_hash: bool
) -> list[tuple[int, FileState]]:
    """Check files (blocking): (row, (exists, matches)) for each."""
    out: list[tuple[int, FileState]] = []
    buffer: bytearray | None = None
    for row, path, size, md5, label in items:
        try:
            found = os.stat(path).st_size
        except OSError:  # absent (or unreadable): to be fetched
            out.append((row, (False, False)))
            continue
        if size and found != size:
            _logger.warning('local file size mismatch on dataset: %s', label)
            out.append((row, (True, False)))
            continue
        if check_hash and md5:
            if buffer is None:
                largest = max((s or 0) for _, _, s, _, _ in items) or defaults.HASH_CHUNK_SIZE
                buffer = bytearray(min(max(largest, 1), defaults.HASH_CHUNK_SIZE))
            try:
                matches = file_md5(path, buffer) == md5
            except OSError:
                matches = False
            if not matches:
                _logger.warning('local md5 mismatch on dataset: %s', label)
            out.append((row, (True, matches)))
            continue
        out.append((row, (True, True)))
    return out


def _batches(
    items: list[tuple[int, Path, int | None, str | None, str]], check_hash: bool
) -> list[list[tuple[int, Path, int | None, str | None, str]]]:
    """Split the files into at most HASH_THREADS batches of similar total size."""
    total = sum(size or 0 for _, _, size, _, _ in items)
    threads = min(defaults.HASH_THREADS, len(items))
    if not check_hash or threads < 2 or total < _PARALLEL_MIN_BYTES:
        return [items] if items else []
    batches: list[list[tuple[int, Path, int | None, str | None, str]]] = [
        [] for _ in range(threads)
    ]
    loads = [0] * threads
    for item in sorted(items, key=lambda it: it[2] or 0, reverse=True):
        i = loads.index(min(loads))
        batches[i].append(item)
        loads[i] += item[2] or 1
    return [b for b in batches if b]


async def check_files(
    paths: Sequence[Path],
    sizes: Sequence[int | None],
    hashes: Sequence[str | None],
    labels: Sequence[str],
    check_hash: bool = True,
) -> list[FileState]:
    """Check files against their expected size and md5, in parallel worker threads.

    A size of None or 0 and an md5 of None are not checked (ONE's rule); mismatches are logged
    as warnings, as ONE does.  Reading is side-effect free, so a cancelled check is abandoned.

    Returns
    -------
    list of (bool, bool)
        Per file: it exists, and it matches its record.
    """
    items = [
        (i, p, s, h, label)
        for i, (p, s, h, label) in enumerate(zip(paths, sizes, hashes, labels, strict=True))
    ]
    results: list[FileState] = [(False, False)] * len(items)
    batches = _batches(items, check_hash)

    async def run(batch: list[tuple[int, Path, int | None, str | None, str]]) -> None:
        done = await anyio.to_thread.run_sync(
            _check_batch, batch, check_hash, abandon_on_cancel=True
        )
        for row, state in done:
            results[row] = state

    if len(batches) == 1:
        await run(batches[0])
    elif batches:
        async with anyio.create_task_group() as tg:
            for batch in batches:
                tg.start_soon(run, batch)
    return results


def dataset_label(session_path: str, rel_path: str) -> str:
    """How a dataset is named in log messages (``session_path/rel_path``)."""
    return str(PurePosixPath(session_path, rel_path))
