"""Index a folder of ALF files into cache tables (ONE's ``make_parquet_db``).

:func:`build_cache` finds the session folders under a root (``lab/Subjects/subject/date/nnn`` or
``subject/date/nnn``) and their ALF dataset files exactly as ONE-api's ``make_parquet_db`` does,
and writes ``sessions.pqt`` and ``datasets.pqt`` that ONE-api 2.9.0 opens and queries with the
same results.  :func:`abuild_cache` is the same as a coroutine that never blocks the event loop.

Differences from ONE, on purpose:

* IDs are name-based UUIDs (``uuid3``) in a fixed namespace, so rebuilding a tree gives the same
  IDs and the IDs recorded against a build stay valid (ONE draws a new namespace at every build);
  pass ``id_namespace`` to keep two trees' IDs apart.
* ``default_revision`` is set (True for the lexicographically last revision of each dataset,
  which is what ONE assumes when the column is missing) and sessions without a lab folder get
  an empty lab rather than None.
* md5 hashing reads files through a small reusable buffer in several threads
  (``defaults.HASH_THREADS``), with a progress callback, instead of allocating 256 MB per file.
"""

from __future__ import annotations

import hashlib
import uuid
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Final

import anyio
import anyio.to_thread
import polars as pl

from one_async import defaults
from one_async.alf.listing import iter_datasets, iter_sessions
from one_async.alf.path import get_alf_path, session_path_parts
from one_async.cache.layouts import Layout, default_metadata, write_layout
from one_async.cache.schema import QC_DTYPE
from one_async.cache.store import cache_lock
from one_async.exceptions import CacheWarning, InvalidArgument

__all__ = ['ID_NAMESPACE', 'ProgressCallback', 'abuild_cache', 'build_cache', 'md5_file']

ID_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, 'https://github.com/int-brain-lab/ONE/alf')
"""Default namespace of the name-based session and dataset UUIDs."""

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(files_done, files_total)`` while files are hashed."""

_BATCH: Final = 32  # files hashed per worker-thread call


def md5_file(path: str | Path, chunk_size: int = defaults.HASH_CHUNK_SIZE) -> str:
    """The md5 hex digest of a file, read in ``chunk_size`` pieces through one buffer."""
    digest = hashlib.md5()
    buffer = bytearray(chunk_size)
    view = memoryview(buffer)
    with open(path, 'rb', buffering=0) as fh:
        while n := fh.readinto(buffer):
            digest.update(view[:n])
    return digest.hexdigest()


def _md5_batch(paths: Sequence[Path]) -> list[str]:
    return [md5_file(p) for p in paths]


@dataclass(frozen=True)
class _Scan:
    root: Path
    sessions: pl.DataFrame
    datasets: pl.DataFrame
    files: list[Path]  # absolute paths, in the order of the datasets rows


def _scan(root: Path, lab: str | None, namespace: uuid.UUID) -> _Scan:
    """Find sessions and dataset files as ONE's ``make_parquet_db`` does."""
    session_rows: list[dict[str, object]] = []
    dataset_rows: list[dict[str, object]] = []
    files: list[Path] = []
    for full_path in iter_sessions(root):
        rel_session = get_alf_path(full_path)
        if rel_session is None:  # pragma: no cover - iter_sessions yields session paths only
            continue
        parts = session_path_parts(rel_session, as_dict=True)
        folder_lab = parts['lab'] or ''
        if lab and folder_lab and folder_lab != lab:
            raise InvalidArgument(
                f'Session {rel_session} is in lab folder "{folder_lab}", not "{lab}"', value=lab
            )
        key = '/'.join(
            p for p in (parts['lab'], parts['subject'], parts['date'], parts['number']) if p
        )
        eid = str(uuid.uuid3(namespace, key))
        session_rows.append(
            {
                'id': eid,
                'lab': lab or folder_lab,
                'subject': parts['subject'],
                'date': date.fromisoformat(str(parts['date'])),
                'number': int(str(parts['number'])),
                'task_protocol': '',
                'projects': '',
            }
        )
        for rel_dataset in iter_datasets(full_path):
            path = full_path / rel_dataset
            rel = rel_dataset.as_posix()
            dataset_rows.append(
                {
                    'eid': eid,
                    'id': str(uuid.uuid3(namespace, f'{rel_session}/{rel}')),
                    'rel_path': rel,
                    'file_size': path.stat().st_size,
                    'session_path': rel_session,
                }
            )
            files.append(path)
    sessions = pl.DataFrame(
        session_rows,
        schema={
            'id': pl.String, 'lab': pl.String, 'subject': pl.String, 'date': pl.Date,
            'number': pl.UInt16, 'task_protocol': pl.String, 'projects': pl.String,
        },
    )  # fmt: skip
    datasets = pl.DataFrame(
        dataset_rows,
        schema={
            'eid': pl.String, 'id': pl.String, 'rel_path': pl.String, 'file_size': pl.UInt64,
            'session_path': pl.String,
        },
    )  # fmt: skip
    return _Scan(root, sessions, datasets, files)


def _finish(scan: _Scan, hashes: list[str] | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Complete the datasets table (hash, exists, qc, default_revision) and sort both tables."""
    datasets = scan.datasets.with_columns(
        pl.Series('hash', hashes, dtype=pl.String)
        if hashes is not None
        else pl.lit(None, dtype=pl.String).alias('hash'),
        pl.lit(True).alias('exists'),
        pl.lit('NOT_SET', dtype=QC_DTYPE).alias('qc'),
    )
    # one dataset = same session, same path once the #revision# folder is removed
    revision = pl.col('rel_path').str.extract(r'(?:^|/)#([^/#]+)#/', 1).fill_null('')
    name = pl.col('rel_path').str.replace(r'(?:^|/)#[^/#]+#/', '/').str.strip_chars_start('/')
    datasets = datasets.with_columns(
        (revision == revision.max().over('eid', name)).alias('default_revision')
    ).select(
        'eid', 'id', 'rel_path', 'file_size', 'hash', 'exists', 'qc', 'default_revision',
        'session_path',
    )  # fmt: skip
    return scan.sessions.sort('id'), datasets.sort('eid', 'id')


def _write(
    scan: _Scan, sessions: pl.DataFrame, datasets: pl.DataFrame, out_dir: Path, layout: Layout
) -> dict[str, Path]:
    if sessions.is_empty() or datasets.is_empty():
        what = 'sessions' if sessions.is_empty() else 'datasets'
        warnings.warn(f'No {what} found in {scan.root}', CacheWarning, stacklevel=3)
    meta = default_metadata(layout, str(scan.root))
    with cache_lock(out_dir):
        return {
            'sessions': write_layout(out_dir / 'sessions.pqt', sessions, 'sessions', layout, meta),
            'datasets': write_layout(
                out_dir / 'datasets.pqt', datasets, 'datasets', layout, meta, sessions=sessions
            ),
        }


def _prepare(root: str | Path, out_dir: str | Path | None) -> tuple[Path, Path]:
    root_path = Path(root).resolve()
    if not root_path.is_dir():
        raise InvalidArgument(f'Not a folder: {root}', value=str(root))
    target = Path(out_dir) if out_dir is not None else root_path
    if not target.is_dir():
        raise InvalidArgument(f'Output folder does not exist: {target}', value=str(target))
    return root_path, target


def build_cache(
    root: str | Path,
    *,
    out_dir: str | Path | None = None,
    hash: bool = False,
    lab: str | None = None,
    id_namespace: uuid.UUID = ID_NAMESPACE,
    layout: Layout = 'one2',
    progress: ProgressCallback | None = None,
    threads: int = defaults.HASH_THREADS,
) -> dict[str, Path]:
    """Index the ALF files under ``root`` into ``sessions.pqt`` and ``datasets.pqt`` (blocking).

    Parameters
    ----------
    root
        Folder holding the sessions.
    out_dir
        Where the tables go (an existing folder); defaults to ``root``.
    hash
        Compute the md5 of every file (in ``threads`` worker threads).
    lab
        Lab name of sessions that are not in a ``lab/Subjects`` folder.
    id_namespace
        Namespace of the name-based UUIDs.
    layout
        Table layout (see :mod:`one_async.cache.layouts`); the default ``'one2'`` keeps the
        ``session_path`` column ONE 2.x uses to find files.
    progress
        Called with ``(files_done, files_total)`` as files are hashed.
    threads
        Hashing threads.

    Returns
    -------
    dict
        The written ``sessions`` and ``datasets`` files.

    Raises
    ------
    InvalidArgument
        ``root`` or ``out_dir`` is not a folder, or ``lab`` contradicts a lab folder.
    """
    root_path, target = _prepare(root, out_dir)
    scan = _scan(root_path, lab, id_namespace)
    hashes: list[str] | None = None
    total = len(scan.files)
    if hash:
        batches = [scan.files[i : i + _BATCH] for i in range(0, total, _BATCH)]
        hashes = []
        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            for batch in pool.map(_md5_batch, batches):
                hashes.extend(batch)
                if progress is not None:
                    progress(len(hashes), total)
    elif progress is not None:
        progress(total, total)
    sessions, datasets = _finish(scan, hashes)
    return _write(scan, sessions, datasets, target, layout)


async def abuild_cache(
    root: str | Path,
    *,
    out_dir: str | Path | None = None,
    hash: bool = False,
    lab: str | None = None,
    id_namespace: uuid.UUID = ID_NAMESPACE,
    layout: Layout = 'one2',
    progress: ProgressCallback | None = None,
    threads: int = defaults.HASH_THREADS,
) -> dict[str, Path]:
    """:func:`build_cache` as a coroutine: the scan, the hashing and the writes run in worker
    threads.  Cancelling it stops the hashing between batches and writes nothing."""
    root_path, target = _prepare(root, out_dir)
    scan = await anyio.to_thread.run_sync(_scan, root_path, lab, id_namespace)
    total = len(scan.files)
    hashes: list[str] | None = None
    if hash:
        batches = [scan.files[i : i + _BATCH] for i in range(0, total, _BATCH)]
        results: list[list[str]] = [[] for _ in batches]
        limiter = anyio.CapacityLimiter(max(1, threads))
        done = 0

        async def _hash(index: int) -> None:
            nonlocal done
            results[index] = await anyio.to_thread.run_sync(
                _md5_batch, batches[index], limiter=limiter
            )
            done += len(results[index])
            if progress is not None:
                progress(done, total)

        async with anyio.create_task_group() as group:
            for index in range(len(batches)):
                group.start_soon(_hash, index)
        hashes = [h for batch in results for h in batch]
    elif progress is not None:
        progress(total, total)
    sessions, datasets = _finish(scan, hashes)

    return await anyio.to_thread.run_sync(_write, scan, sessions, datasets, target, layout)
