"""Reading and writing one cache table file (parquet with ONE's metadata).

Reading only parses the file footer (:func:`read_table_info`); the rows are scanned lazily by
:func:`scan_table`, so opening a directory of large tables costs a few milliseconds.  Writing
goes through :func:`write_table`, which never leaves a partial file under the final name: the
table is written to a temporary file beside it, flushed to disk and renamed over the target.

Because another process may rename a new table over the file at any moment, an opened table pins
the file it opened: on Linux the scan goes through ``/proc/self/fd/<n>`` of a descriptor kept
open by :class:`TableInfo`, so footer and rows always come from the same file, whatever is saved
in the meantime (a snapshot).  Elsewhere the path is scanned and a concurrent save may make a
lazy query fail; :meth:`one_async.cache.CacheTables.frame` then reopens the new file.

Files are written with pandas metadata (the index columns and their dtypes) so that ONE-api, which
reads tables with pandas, gets the index, the ordered QC categorical and the nullable file sizes
it expects.  pandas itself is not needed for that.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from one_async import defaults
from one_async.cache.metadata import parse_timestamp
from one_async.cache.schema import QC_DTYPE, QC_LEVELS, normalise
from one_async.exceptions import CacheTableError

__all__ = [
    'METADATA_KEY',
    'TableInfo',
    'fsync_directory',
    'read_table_info',
    'scan_table',
    'to_arrow',
    'write_arrow',
    'write_table',
]

METADATA_KEY = b'one_metadata'
"""The parquet schema metadata key holding ONE's table metadata (JSON)."""

_PANDAS_KEY = b'pandas'
_PANDAS_VERSION = '2.2.3'  # the pandas metadata format version written (that of Alyx 3.6.1)
# Integer columns always declared as pandas nullable types, as Alyx 3.x and ONE 3.x do.
_NULLABLE_COLUMNS = frozenset({'file_size'})


_PIN_FILES = sys.platform == 'linux' and os.path.isdir('/proc/self/fd')


class PinnedFile:
    """An open read-only descriptor of a table file, closed when no longer referenced."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDONLY)
        self._finalizer = weakref.finalize(self, os.close, self.fd)

    @property
    def source(self) -> Path:
        """A path that opens this very file, even after it was replaced or deleted."""
        return Path(f'/proc/self/fd/{self.fd}')

    def close(self) -> None:
        """Close the descriptor (idempotent)."""
        self._finalizer()


@dataclass(frozen=True)
class TableInfo:
    """A cache table file as found on disk, before any row is read.

    Attributes
    ----------
    name
        The table name (the file stem, e.g. ``'datasets'``).
    path
        The file.
    meta
        Its ``one_metadata`` object.
    schema
        The polars schema of the columns as stored.
    num_rows
        Rows in the file.
    index_columns
        The pandas index columns named by the file, if any.
    fingerprint
        ``(st_mtime_ns, st_size, st_ino)`` of the file read: a different value on disk means
        another process replaced it.
    pinned
        The open file the scans read (Linux), or None (the path is scanned).
    """

    name: str
    path: Path
    meta: dict[str, Any]
    schema: pl.Schema
    num_rows: int
    index_columns: tuple[str, ...]
    fingerprint: tuple[int, int, int]
    pinned: PinnedFile | None = None

    @property
    def source(self) -> Path:
        """What to scan: the pinned file if any, else the path."""
        return self.pinned.source if self.pinned is not None else self.path


def _fingerprint(stat: os.stat_result) -> tuple[int, int, int]:
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


def file_fingerprint(path: Path) -> tuple[int, int, int]:
    """``(st_mtime_ns, st_size, st_ino)`` of ``path``, (0, 0, 0) if it does not exist."""
    try:
        return _fingerprint(path.stat())
    except FileNotFoundError:
        return (0, 0, 0)


def read_table_info(path: str | Path) -> TableInfo:
    """Read the footer of a cache table file.

    Raises
    ------
    CacheTableError
        The file is not parquet, or has no ``one_metadata`` with a valid ``date_created`` (ONE's
        test of a valid table).
    """
    path = Path(path)
    try:
        pinned = PinnedFile(path) if _PIN_FILES else None
        source = pinned.source if pinned is not None else path
        fingerprint = _fingerprint(os.stat(source))
        parquet = pq.ParquetFile(source)
        arrow_schema = parquet.schema_arrow
        num_rows = parquet.metadata.num_rows
    except (OSError, pa.ArrowException) as exc:
        raise CacheTableError(f'{path} is not a parquet table: {exc}', value=str(path)) from exc
    raw = arrow_schema.metadata or {}
    try:
        meta = json.loads(raw[METADATA_KEY])
    except (KeyError, ValueError):
        meta = None
    if not isinstance(meta, dict) or 'date_created' not in meta:
        raise CacheTableError(
            f'{path} does not appear to be a valid table (no date_created metadata)',
            value=str(path),
        )
    parse_timestamp(meta['date_created'])
    index: tuple[str, ...] = ()
    if _PANDAS_KEY in raw:
        try:
            pandas_meta = json.loads(raw[_PANDAS_KEY])
            index = tuple(c for c in pandas_meta.get('index_columns', []) if isinstance(c, str))
        except ValueError:
            index = ()
    try:
        schema = pl.scan_parquet(source).collect_schema()  # the schema scans will produce
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise CacheTableError(f'{path}: unsupported column types: {exc}', value=str(path)) from exc
    return TableInfo(
        name=path.stem,
        path=path,
        meta=meta,
        schema=schema,
        num_rows=num_rows,
        index_columns=index,
        fingerprint=fingerprint,
        pinned=pinned,
    )


def scan_table(info: TableInfo) -> pl.LazyFrame:
    """Scan a table file lazily, normalised to the canonical schema.

    Raises
    ------
    CacheTableError
        The columns do not make a valid table of that name.
    """
    frame = pl.scan_parquet(info.source)
    version = info.meta.get('min_api_version')
    return normalise(frame, info.name, info.schema, min_api_version=version)


# --- writing ----------------------------------------------------------------------------------


def _pandas_types(dtype: pa.DataType, nullable: bool) -> tuple[str, str, dict[str, Any] | None]:
    """(pandas_type, numpy_type, metadata) of a column, as pandas would record them."""
    if pa.types.is_dictionary(dtype):
        meta = {'num_categories': None, 'ordered': bool(dtype.ordered)}
        return 'categorical', str(dtype.index_type.to_pandas_dtype().__name__), meta
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return 'unicode', 'object', None
    if pa.types.is_boolean(dtype):
        return ('bool', 'boolean', None) if nullable else ('bool', 'bool', None)
    if pa.types.is_integer(dtype):
        name = str(dtype)
        if not nullable:
            return name, name, None
        extension = 'UInt' + name[4:] if name.startswith('uint') else 'Int' + name[3:]
        return name, extension, None
    if pa.types.is_floating(dtype):
        name = dtype.to_pandas_dtype().__name__
        return name, name, None
    if pa.types.is_date(dtype):
        return 'date', 'object', None
    if pa.types.is_timestamp(dtype):
        if dtype.tz:
            return 'datetimetz', 'datetime64[ns]', {'timezone': dtype.tz}
        return 'datetime', 'datetime64[ns]', None
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
        return 'bytes', 'object', None
    return 'object', 'object', None


def pandas_metadata(table: pa.Table, index_columns: Sequence[str]) -> dict[str, Any]:
    """The ``pandas`` schema metadata for ``table`` with ``index_columns`` as its index.

    Integer columns with nulls are declared as pandas nullable types (``UInt64``...) so that
    pandas does not turn them into floats; categoricals keep their order flag.
    """
    columns = []
    for name in [*[c for c in table.column_names if c not in index_columns], *index_columns]:
        column = table.column(name)
        nullable = column.null_count > 0 or name in _NULLABLE_COLUMNS
        ptype, ntype, meta = _pandas_types(column.type, nullable)
        if ptype == 'categorical' and meta is not None:
            dictionary = column.chunk(0).dictionary if column.num_chunks else []
            meta['num_categories'] = len(dictionary)
        columns.append(
            {
                'name': name,
                'field_name': name,
                'pandas_type': ptype,
                'numpy_type': ntype,
                'metadata': meta,
            }
        )
    return {
        'index_columns': list(index_columns),
        'column_indexes': [
            {
                'name': None,
                'field_name': None,
                'pandas_type': 'unicode',
                'numpy_type': 'object',
                'metadata': {'encoding': 'UTF-8'},
            }
        ],
        'columns': columns,
        'attributes': {},
        'creator': {'library': 'pyarrow', 'version': pa.__version__},
        'pandas_version': _PANDAS_VERSION,
    }


def to_arrow(frame: pl.DataFrame) -> pa.Table:
    """Convert a table to arrow as ONE expects it: ``qc`` as an ordered int8 dictionary holding
    every QC level, strings as plain (not view) arrow strings."""
    table = frame.to_arrow(compat_level=pl.CompatLevel.oldest())
    if 'qc' in frame.columns and frame.schema['qc'] == QC_DTYPE:
        codes = frame.get_column('qc').to_physical().cast(pl.Int8).to_arrow()
        levels = pl.Series(QC_LEVELS).to_arrow(compat_level=pl.CompatLevel.oldest())
        # (pa.array() on a list would import pandas to check for pandas objects)
        qc = pa.DictionaryArray.from_arrays(codes, levels.cast(pa.string()), ordered=True)
        table = table.set_column(table.column_names.index('qc'), 'qc', qc)
    return table


def fsync_directory(directory: Path) -> None:
    """Flush a directory entry change (a rename) to disk, where the platform allows it."""
    if os.name != 'posix':
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_arrow(
    path: str | Path,
    table: pa.Table,
    meta: Mapping[str, Any],
    *,
    index_columns: Sequence[str] = (),
    pandas: bool = True,
    row_group_size: int = defaults.CACHE_ROW_GROUP_SIZE,
) -> Path:
    """Write an arrow table with ONE metadata atomically (temporary file, fsync, rename).

    Parameters
    ----------
    path
        The final file name.
    table
        The table; ``index_columns`` are moved to the end, where pandas puts its index.
    meta
        The ``one_metadata`` object.
    index_columns
        Columns pandas (and so ONE) should restore as the index.
    pandas
        When false no pandas metadata is written (ONE then finds the index from the column
        names, as for very old tables).
    row_group_size
        Rows per row group.

    Raises
    ------
    CacheTableError
        The file could not be written; nothing is left under either name.
    """
    path = Path(path)
    missing = [c for c in index_columns if c not in table.column_names]
    if missing:
        raise CacheTableError(f'Index column(s) {missing} not in table {path.stem}', value=missing)
    order = [c for c in table.column_names if c not in index_columns] + list(index_columns)
    table = table.select(order)
    schema_meta = {METADATA_KEY: json.dumps(dict(meta), default=_json_default).encode()}
    if pandas:
        schema_meta[_PANDAS_KEY] = json.dumps(pandas_metadata(table, index_columns)).encode()
    table = table.replace_schema_metadata(schema_meta)
    tmp = path.with_name(f'.{path.name}.{uuid.uuid4().hex}.part')
    try:
        with open(tmp, 'wb') as fh:
            pq.write_table(table, fh, row_group_size=max(1, row_group_size))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except (OSError, pa.ArrowException) as exc:
        tmp.unlink(missing_ok=True)
        message = f'Could not write cache table {path}: {exc}'
        raise CacheTableError(message, value=str(path)) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)
    return path


def _json_default(value: object) -> object:
    if isinstance(value, (set, frozenset)):
        return sorted(map(str, value))
    raise TypeError(f'{type(value).__name__} is not JSON serialisable')


def write_table(
    path: str | Path,
    frame: pl.DataFrame,
    meta: Mapping[str, Any],
    *,
    index_columns: Sequence[str] = (),
    row_group_size: int = defaults.CACHE_ROW_GROUP_SIZE,
) -> Path:
    """Write a canonical polars table as a cache table file (see :func:`write_arrow`)."""
    return write_arrow(
        path, to_arrow(frame), meta, index_columns=index_columns, row_group_size=row_group_size
    )
