"""The cache tables of one directory: lazy opening, in-memory representation, updates.

Representation (what the query layer works with)
------------------------------------------------
* Opening (:meth:`CacheTables.open`) reads only the parquet footers: metadata, schemas, row
  counts.  Each table is then available as a normalised :class:`polars.LazyFrame`
  (:attr:`CacheTables.sessions`, :attr:`CacheTables.datasets`, :meth:`CacheTables.lazy`) over
  the file, so a query that needs two columns of five million rows reads two columns, and a filter
  on ``eid`` is pushed down to the parquet row groups.
* :meth:`CacheTables.frame` materialises a table once (in a worker thread when called through
  :meth:`CacheTables.aframe`) and keeps it: ``sessions`` sorted by ``id``, ``datasets`` sorted by
  ``(eid, id)``.  Once materialised, :attr:`CacheTables.sessions`/``datasets`` are lazy views of
  the frame in memory, not of the file.
* For ``datasets`` an offset index ``eid -> (row, count)`` is built on first use, so that
  :meth:`CacheTables.session_datasets` returns one session's datasets as a zero-copy slice in O(1)
  instead of a scan.  It is rebuilt lazily after updates.
* :meth:`CacheTables.update` inserts or replaces records (ONE's ``_update_cache_from_records``);
  :meth:`CacheTables.save` writes modified tables back (see :mod:`one_async.cache.store`).

All methods are synchronous and may block on file I/O; the ``a``-prefixed coroutines run them
in a worker thread so that the event loop never blocks.  A :class:`CacheTables` is safe to use
from several threads.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeAlias

import anyio.to_thread
import polars as pl

from one_async import defaults
from one_async.cache.metadata import CacheMeta
from one_async.cache.parquet import TableInfo, file_fingerprint, read_table_info, scan_table
from one_async.cache.schema import INDEX_COLUMNS, empty_table, normalise_frame, session_path_expr
from one_async.exceptions import CacheTableError, CacheWarning, InvalidArgument

__all__ = ['CacheTables', 'Records', 'conform_records', 'table_key', 'upsert']

Records: TypeAlias = 'pl.DataFrame | Mapping[str, Any] | Sequence[Mapping[str, Any]] | None'
"""Records to insert: a DataFrame, one record as a mapping, or a sequence of records."""

_KNOWN = ('sessions', 'datasets')
# Above this many sessions touched by one update, datasets are re-sorted instead of spliced.
_SPLICE_MAX_SESSIONS = 64
_MAX_CHUNKS = 64


def table_key(name: str, columns: Sequence[str]) -> tuple[str, ...]:
    """The key of a table: the known one, else whichever of ``eid``/``id`` it has."""
    if name in INDEX_COLUMNS:
        return INDEX_COLUMNS[name]
    return tuple(c for c in ('eid', 'id') if c in columns)


def _is_sorted(frame: pl.DataFrame, key: Sequence[str]) -> bool:
    if frame.height < 2 or not key:
        return True
    first = pl.col(key[0])
    if len(key) == 1:
        return frame.get_column(key[0]).is_sorted()
    nxt = first.shift(-1)
    second = pl.col(key[1])
    ordered = (first < nxt) | ((first == nxt) & (second <= second.shift(-1)))
    return bool(frame.select(ordered.fill_null(True).all()).item())


def _as_frame(records: Records) -> pl.DataFrame:
    if isinstance(records, pl.DataFrame):
        return records
    if isinstance(records, Mapping):
        return pl.DataFrame([dict(records)])
    return pl.DataFrame([dict(r) for r in records or []])


class CacheTables:
    """The cache tables of a directory (see the module docstring for the representation).

    Create with :meth:`open`/:meth:`aopen` (from files) or :meth:`empty`.
    """

    def __init__(
        self,
        tables_dir: Path | None,
        infos: Mapping[str, TableInfo],
        meta: CacheMeta,
        *,
        lazy: Mapping[str, pl.LazyFrame],
    ) -> None:
        self.tables_dir = tables_dir
        self.meta = meta
        self._infos: dict[str, TableInfo] = dict(infos)
        self._scans: dict[str, pl.LazyFrame] = dict(lazy)
        self._frames: dict[str, pl.DataFrame] = {}
        self._offsets: dict[str, tuple[int, int]] | None = None
        self._dirty: dict[str, pl.DataFrame] = {}
        self._loaded: dict[str, None] = {}
        self._retired: list[TableInfo] = []  # infos replaced by saves, kept open until close()
        self._lock = threading.RLock()
        for name in _KNOWN:
            if name not in self._scans:
                self._frames[name] = empty_table(name)

    # --- opening ------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        tables_dir: str | Path,
        *,
        expiry: timedelta = defaults.CACHE_EXPIRY,
        warn_missing: bool = True,
    ) -> CacheTables:
        """Open the ``*.pqt`` tables of a directory (reads footers only).

        A file that is not a valid table is skipped with a :class:`CacheWarning` naming it.
        Without any table, ``sessions`` and ``datasets`` are empty tables with the canonical
        schema and a :class:`CacheWarning` says so (unless ``warn_missing`` is false: in remote
        mode the tables are downloaded afterwards).

        Parameters
        ----------
        tables_dir
            Folder of the tables; it need not exist.
        expiry
            Age after which :meth:`expired` is true.
        warn_missing
            Warn when no table is found.
        """
        tables_dir = Path(tables_dir)
        infos: dict[str, TableInfo] = {}
        scans: dict[str, pl.LazyFrame] = {}
        paths = sorted(tables_dir.glob('*.pqt')) if tables_dir.is_dir() else []
        for path in paths:
            try:
                info = read_table_info(path)
                scans[info.name] = scan_table(info)
            except CacheTableError as exc:
                warnings.warn(f'{path}: skipped: {exc}', CacheWarning, stacklevel=2)
                continue
            infos[info.name] = info
        if not infos and warn_missing:
            warnings.warn(f'No cache tables found in {tables_dir}', CacheWarning, stacklevel=2)
        meta = CacheMeta.from_raw({n: i.meta for n, i in infos.items()}, expiry=expiry)
        return cls(tables_dir, infos, meta, lazy=scans)

    @classmethod
    async def aopen(
        cls,
        tables_dir: str | Path,
        *,
        expiry: timedelta = defaults.CACHE_EXPIRY,
        warn_missing: bool = True,
    ) -> CacheTables:
        """:meth:`open` in a worker thread."""

        def _open() -> CacheTables:
            return cls.open(tables_dir, expiry=expiry, warn_missing=warn_missing)

        return await anyio.to_thread.run_sync(_open)

    @classmethod
    def empty(
        cls, tables_dir: str | Path | None = None, *, expiry: timedelta = defaults.CACHE_EXPIRY
    ) -> CacheTables:
        """Empty ``sessions`` and ``datasets`` tables, to be filled by :meth:`update`."""
        directory = Path(tables_dir) if tables_dir is not None else None
        return cls(directory, {}, CacheMeta(expiry=expiry), lazy={})

    # --- reading ------------------------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the tables (always includes ``sessions`` and ``datasets``)."""
        with self._lock:
            return tuple(sorted({*self._scans, *self._frames}))

    def _check_name(self, name: str) -> None:
        if name not in self._scans and name not in self._frames:
            raise InvalidArgument(f'Table "{name}" not in cache', value=name)

    def lazy(self, name: str) -> pl.LazyFrame:
        """A table as a LazyFrame: over the frame in memory if materialised, else the file."""
        with self._lock:
            self._check_name(name)
            if name in self._frames:
                return self._frames[name].lazy()
            return self._scans[name]

    @property
    def sessions(self) -> pl.LazyFrame:
        """The sessions table, lazily."""
        return self.lazy('sessions')

    @property
    def datasets(self) -> pl.LazyFrame:
        """The datasets table, lazily."""
        return self.lazy('datasets')

    def is_materialised(self, name: str) -> bool:
        """True when the table is held in memory."""
        with self._lock:
            return name in self._frames

    def info(self, name: str) -> TableInfo | None:
        """The file a table was read from: its stored schema and metadata (None if in memory)."""
        with self._lock:
            return self._infos.get(name)

    def num_rows(self, name: str) -> int:
        """Rows of a table, without reading it."""
        with self._lock:
            self._check_name(name)
            if name in self._frames:
                return self._frames[name].height
            return self._infos[name].num_rows

    def frame(self, name: str) -> pl.DataFrame:
        """A table in memory, sorted by its key (read from the file on first call; blocking).

        Raises
        ------
        CacheTableError
            The file's values do not convert to the canonical schema, or it vanished.
        """
        with self._lock:
            self._check_name(name)
            if name not in self._frames:
                self._frames[name] = self._collect(name)
            return self._frames[name]

    async def aframe(self, name: str) -> pl.DataFrame:
        """:meth:`frame` in a worker thread."""
        return await anyio.to_thread.run_sync(self.frame, name)

    def _collect(self, name: str) -> pl.DataFrame:
        info = self._infos[name]
        try:
            frame = self._scans[name].collect()
        except (pl.exceptions.PolarsError, OSError) as exc:
            if info.pinned is None and file_fingerprint(info.path) != info.fingerprint:
                # replaced by another process while we read it: read the new file instead
                self._reopen(name)
                return self._collect(name)
            message = f'Cannot read cache table {info.path}: {exc}'
            raise CacheTableError(message, value=str(info.path)) from exc
        key = table_key(name, frame.columns)
        if key and not _is_sorted(frame, key):
            frame = frame.sort(list(key))
        return frame

    def _reopen(self, name: str) -> None:
        info = read_table_info(self._infos[name].path)
        self._retired.append(self._infos[name])
        self._infos[name] = info
        self._scans[name] = scan_table(info)
        self.meta.raw[name] = dict(info.meta)

    def close(self) -> None:
        """Release the files the tables were read from.

        LazyFrames obtained from :meth:`lazy` over files (not materialised tables) are invalid
        afterwards.  Materialised frames stay usable.
        """
        with self._lock:
            for info in [*self._infos.values(), *self._retired]:
                if info.pinned is not None:
                    info.pinned.close()
            self._retired.clear()

    def __enter__(self) -> CacheTables:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _eid_offsets(self) -> dict[str, tuple[int, int]]:
        with self._lock:
            if self._offsets is None:
                runs = self.frame('datasets').get_column('eid').rle().struct.unnest()
                lengths = runs.get_column('len').to_list()
                values = runs.get_column('value').to_list()
                offsets: dict[str, tuple[int, int]] = {}
                start = 0
                for value, length in zip(values, lengths, strict=True):
                    offsets[value] = (start, length)
                    start += length
                self._offsets = offsets
            return self._offsets

    def session_datasets(self, eid: str) -> pl.DataFrame:
        """The datasets of one session, sorted by ``id`` (empty if none).

        On a materialised table this is a zero-copy slice found through the ``eid`` offset
        index; otherwise the file is scanned with the filter pushed down to its row groups.
        """
        with self._lock:
            if 'datasets' not in self._frames:
                return self._scans['datasets'].filter(pl.col('eid') == eid).collect().sort('id')
            start, length = self._eid_offsets().get(eid, (0, 0))
            return self._frames['datasets'].slice(start, length)

    def sessions_datasets(self, eids: Iterable[str]) -> pl.DataFrame:
        """The datasets of several sessions, in the table's ``(eid, id)`` order."""
        wanted = sorted(set(eids))
        with self._lock:
            if 'datasets' not in self._frames:
                scan = self._scans['datasets'].filter(pl.col('eid').is_in(wanted))
                return scan.collect().sort('eid', 'id')
            offsets = self._eid_offsets()
            frame = self._frames['datasets']
            parts = [frame.slice(*offsets[e]) for e in wanted if e in offsets]
            return pl.concat(parts) if parts else frame.clear()

    def expired(self, now: datetime | None = None) -> bool:
        """True when there are no tables or the oldest is older than the expiry."""
        return self.meta.expired(now)

    # --- writing ------------------------------------------------------------------------------

    def update(self, *, strict: bool = False, **records: Records) -> datetime | None:
        """Insert or replace records, as ONE's ``One._update_cache_from_records``.

        Parameters
        ----------
        strict
            When true the records must have exactly the table's columns.  Otherwise columns
            the table lacks are dropped and columns the records lack are null.
        **records
            Records by table name (``sessions=...``, ``datasets=...``).  A record whose key
            (``id``, or ``(eid, id)`` for datasets) is already in the table replaces that row;
            the others are inserted.  Of duplicated keys in the records the first wins.  When
            the datasets table has a ``session_path`` column, records without one get it from
            their session (ONE 2.9 leaves it empty); pass sessions before their datasets.

        Returns
        -------
        datetime or None
            When the tables were modified (None if nothing was given).

        Raises
        ------
        InvalidArgument
            Unknown table name, or (strict) columns that differ from the table's.
        CacheTableError
            Values that do not convert to the table's types.
        """
        updated: datetime | None = None
        for name, given in records.items():
            new = _as_frame(given)
            if new.is_empty():
                continue
            with self._lock:
                self._check_name(name)
                current = self.frame(name)
                new = conform_records(name, current, new, strict=strict)
                if name == 'datasets' and new.get_column('session_path', default=None) is not None:
                    new = self._fill_session_paths(new)
                key = table_key(name, current.columns)
                if key:
                    new = new.unique(subset=list(key), keep='first', maintain_order=True)
                self._frames[name] = upsert(current, new, key)
                if name == 'datasets':
                    self._offsets = None
                keys = new.select(key) if key else new
                dirty = self._dirty.get(name)
                self._dirty[name] = keys if dirty is None else pl.concat([dirty, keys]).unique()
                updated = datetime.now()
        if updated is not None:
            self.meta.modified_time = updated
        return updated

    def _fill_session_paths(self, datasets: pl.DataFrame) -> pl.DataFrame:
        """Fill missing ``session_path`` values from the sessions table (ONE 2.9 leaves NaN)."""
        if not datasets['session_path'].has_nulls():
            return datasets
        paths = self.frame('sessions').select(pl.col('id').alias('eid'), session_path_expr())
        filled = datasets.join(paths, on='eid', how='left', suffix='_', maintain_order='left')
        return filled.with_columns(pl.col('session_path').fill_null(pl.col('session_path_'))).drop(
            'session_path_'
        )

    async def aupdate(self, *, strict: bool = False, **records: Records) -> datetime | None:
        """:meth:`update` in a worker thread."""
        return await anyio.to_thread.run_sync(lambda: self.update(strict=strict, **records))

    def record_loaded(self, ids: Iterable[str]) -> None:
        """Remember dataset IDs as loaded (ONE's ``record_loaded`` bookkeeping)."""
        with self._lock:
            self._loaded.update(dict.fromkeys(ids))

    @property
    def loaded_ids(self) -> list[str]:
        """The dataset IDs recorded by :meth:`record_loaded`, sorted."""
        with self._lock:
            return sorted(self._loaded)

    def clear_loaded(self) -> None:
        """Forget the recorded dataset IDs."""
        with self._lock:
            self._loaded.clear()

    def loaded_session_ids(self) -> list[str]:
        """The sessions of the recorded datasets, sorted."""
        ids = self.loaded_ids
        frame = self.datasets.filter(pl.col('id').is_in(ids)).select('eid').unique().collect()
        return sorted(frame.get_column('eid').to_list())

    def dirty(self, name: str) -> pl.DataFrame | None:
        """Keys of the rows of a table modified since it was loaded or saved (None if none)."""
        with self._lock:
            return self._dirty.get(name)

    def save(
        self,
        save_dir: str | Path | None = None,
        *,
        force: bool = False,
        merge: bool = True,
        lock_timeout: float = defaults.CACHE_LOCK_TIMEOUT,
    ) -> list[Path]:
        """Write modified tables atomically under the directory lock (blocking).

        See :func:`one_async.cache.store.save_cache`.
        """
        from one_async.cache.store import save_cache

        return save_cache(self, save_dir, force=force, merge=merge, lock_timeout=lock_timeout)

    async def asave(
        self,
        save_dir: str | Path | None = None,
        *,
        force: bool = False,
        merge: bool = True,
        lock_timeout: float = defaults.CACHE_LOCK_TIMEOUT,
    ) -> list[Path]:
        """:meth:`save` in a worker thread (a save in progress completes if cancelled)."""
        from one_async.cache.store import asave_cache

        return await asave_cache(
            self, save_dir, force=force, merge=merge, lock_timeout=lock_timeout
        )

    def save_loaded_ids(
        self,
        *,
        sessions_only: bool = False,
        clear_list: bool = True,
        save_dir: str | Path | None = None,
    ) -> tuple[list[str], Path | None]:
        """Write the recorded dataset (or session) IDs to a CSV file, as ONE's
        ``save_loaded_ids`` (see :func:`one_async.cache.store.save_loaded_ids`)."""
        from one_async.cache.store import save_loaded_ids

        return save_loaded_ids(
            self, sessions_only=sessions_only, clear_list=clear_list, save_dir=save_dir
        )

    # --- used by the store --------------------------------------------------------------------

    def _saved(self, name: str, frame: pl.DataFrame, info: TableInfo) -> None:
        """Record that ``frame`` is now the content of the file described by ``info``."""
        with self._lock:
            self._frames[name] = frame
            if name in self._infos:
                self._retired.append(self._infos[name])
            self._infos[name] = info
            self._scans[name] = scan_table(info)
            self._dirty.pop(name, None)
            if name == 'datasets':
                self._offsets = None

    def _info(self, name: str) -> TableInfo | None:
        with self._lock:
            return self._infos.get(name)

    def __repr__(self) -> str:
        sizes = ', '.join(f'{n}={self.num_rows(n)}' for n in self.names)
        return f'CacheTables({self.tables_dir}, {sizes})'


def conform_records(
    name: str, current: pl.DataFrame, new: pl.DataFrame, *, strict: bool
) -> pl.DataFrame:
    """Give records the columns and types of table ``current`` (see :meth:`CacheTables.update`).

    Raises
    ------
    InvalidArgument
        (strict) The columns differ.
    CacheTableError
        Values do not convert to the table's types.
    """
    columns = current.columns
    if strict and set(new.columns) != set(columns):
        extra = sorted(set(new.columns) - set(columns))
        missing = sorted(set(columns) - set(new.columns))
        raise InvalidArgument(
            f'Records for table "{name}" do not match its columns '
            f'(extra: {extra}, missing: {missing})',
            value=sorted(new.columns),
        )
    new = new.select([c for c in new.columns if c in columns])
    new = new.with_columns(
        pl.lit(None, dtype=current.schema[c]).alias(c) for c in columns if c not in new.columns
    )
    if name in _KNOWN:
        new = normalise_frame(new, name)
    try:
        return new.select(pl.col(c).cast(current.schema[c], strict=True) for c in columns)
    except pl.exceptions.PolarsError as exc:
        raise CacheTableError(f'Invalid records for table "{name}": {exc}', value=name) from exc


def upsert(current: pl.DataFrame, new: pl.DataFrame, key: tuple[str, ...]) -> pl.DataFrame:
    """``current`` with the rows of ``new`` replacing or added, still sorted by ``key``.

    Both frames must have the same schema and be sorted by ``key``.  A datasets update that
    touches few sessions replaces their slices of the table instead of re-sorting it.
    """
    if not key:
        return pl.concat([current, new])
    if key == ('eid', 'id'):
        eids = new.get_column('eid').unique().sort()
        if len(eids) <= _SPLICE_MAX_SESSIONS:
            return _splice(current, new, eids.to_list())
    kept = current.join(new.select(key), on=list(key), how='anti', maintain_order='left')
    return pl.concat([kept, new]).sort(list(key))


def _splice(current: pl.DataFrame, new: pl.DataFrame, eids: list[str]) -> pl.DataFrame:
    """Upsert the datasets of a few sessions by replacing their slices of the sorted table."""
    column = current.get_column('eid')
    parts: list[pl.DataFrame] = []
    position = 0
    for eid in eids:
        start = int(column.search_sorted(eid, 'left'))
        stop = int(column.search_sorted(eid, 'right'))
        parts.append(current.slice(position, start - position))
        old = current.slice(start, stop - start)
        records = new.filter(pl.col('eid') == eid)
        kept = old.filter(~pl.col('id').is_in(records.get_column('id').implode()))
        parts.append(pl.concat([kept, records]).sort('id'))
        position = stop
    parts.append(current.slice(position))
    out = pl.concat([p for p in parts if p.height] or [current.clear()], rechunk=False)
    if out.n_chunks() > _MAX_CHUNKS:
        out = out.rechunk()
    return out
